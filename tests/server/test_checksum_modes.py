"""Clients' checksum behaviours: boto3 defaults (CRC32 on every upload, checksum
validation on GET) and request_checksum_calculation="when_required"."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.live_server import LiveServer


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_default_client_sends_and_gets_crc32(s3: Any, bucket: str) -> None:
    body = os.urandom(300_000)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body)
    assert put["ChecksumCRC32"] == crc32(body)
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == crc32(body) and got["ChecksumType"] == "FULL_OBJECT"
    assert got["Body"].read() == body  # botocore validates the CRC32 while reading
    plain = s3.head_object(Bucket=bucket, Key="k")
    assert "ChecksumCRC32" not in plain


def test_when_required_client(live_server: LiveServer, bucket: str) -> None:
    s3 = live_server.client(config=Config(request_checksum_calculation="when_required",
                                          response_checksum_validation="when_required"))
    body = os.urandom(100_000)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body)
    assert "ChecksumCRC32" not in put
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}]})
    assert [d["Key"] for d in result["Deleted"]] == ["k"]


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"])
def test_every_algorithm_round_trips(s3: Any, bucket: str, algorithm: str) -> None:
    body = os.urandom(70_000)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, ChecksumAlgorithm=algorithm)
    member = f"Checksum{algorithm}"
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got[member] == put[member]
    assert got["Body"].read() == body
    if algorithm == "SHA256":
        assert put[member] == base64.b64encode(hashlib.sha256(body).digest()).decode()


def test_wrong_checksum_header_is_refused(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"data", ChecksumCRC32=crc32(b"other"))
    assert info.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")


def test_ranged_get_carries_no_whole_object_checksum(s3: Any, bucket: str) -> None:
    body = os.urandom(10_000)
    s3.put_object(Bucket=bucket, Key="k", Body=body)
    got = s3.get_object(Bucket=bucket, Key="k", Range="bytes=0-99", ChecksumMode="ENABLED")
    assert "ChecksumCRC32" not in got and got["Body"].read() == body[:100]
