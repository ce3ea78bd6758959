"""HTTPS with a self-signed certificate: boto3 and the aws CLI then send
aws-chunked bodies with trailing checksums (STREAMING-UNSIGNED-PAYLOAD-TRAILER)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from botocore.config import Config

from tests.live_server import LiveServer, start_server
from tests.server.test_awscli import AWS, cli_round_trip

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(Path(tmp_path_factory.mktemp("tls")) / "data", tls=True) as server:
        yield server


def test_boto3_default_checksums_over_https(tls_server: LiveServer) -> None:
    s3 = tls_server.client()
    seen: list[str] = []
    s3.meta.events.register("before-send.s3.*", lambda request, **_: seen.append(request.headers.get("x-amz-content-sha256", b"")))
    assert tls_server.url.startswith("https://")
    s3.create_bucket(Bucket="tls-bucket")
    body = os.urandom(3 * 1024 * 1024 + 7)
    put = s3.put_object(Bucket="tls-bucket", Key="k", Body=body)
    assert b"STREAMING-UNSIGNED-PAYLOAD-TRAILER" in seen
    got = s3.get_object(Bucket="tls-bucket", Key="k", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == put["ChecksumCRC32"] and got["Body"].read() == body
    uid = s3.create_multipart_upload(Bucket="tls-bucket", Key="mp", ChecksumAlgorithm="CRC32")["UploadId"]
    parts = [os.urandom(5 * 1024 * 1024), os.urandom(10)]
    done = []
    for number, data in enumerate(parts, 1):
        r = s3.upload_part(Bucket="tls-bucket", Key="mp", UploadId=uid, PartNumber=number, Body=data, ChecksumAlgorithm="CRC32")
        done.append({"PartNumber": number, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    result = s3.complete_multipart_upload(Bucket="tls-bucket", Key="mp", UploadId=uid, MultipartUpload={"Parts": done})
    assert result["ChecksumCRC32"].endswith("-2")
    assert s3.get_object(Bucket="tls-bucket", Key="mp")["Body"].read() == b"".join(parts)
    result = s3.delete_objects(Bucket="tls-bucket", Delete={"Objects": [{"Key": "k"}, {"Key": "mp"}]})
    assert len(result["Deleted"]) == 2


def test_signed_payload_over_https(tls_server: LiveServer) -> None:
    s3: Any = tls_server.client(config=Config(request_checksum_calculation="when_required",
                                              s3={"payload_signing_enabled": True}))
    s3.create_bucket(Bucket="tls-signed")
    s3.put_object(Bucket="tls-signed", Key="k", Body=b"signed payload")
    assert s3.get_object(Bucket="tls-signed", Key="k")["Body"].read() == b"signed payload"


@pytest.mark.skipif(not Path(AWS).exists(), reason="aws CLI not installed in the environment")
def test_cli_over_https(tls_server: LiveServer, tmp_path: Path) -> None:
    cli_round_trip(tls_server, tmp_path, full=False, binary=True)  # the aws executable itself
