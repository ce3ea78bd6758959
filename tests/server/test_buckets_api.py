"""Bucket operations and their errors; service-level requests."""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.live_server import LiveServer


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_bucket_lifecycle(s3: Any) -> None:
    name = f"life-{uuid.uuid4().hex[:12]}"
    created = s3.create_bucket(Bucket=name)
    assert created["Location"] == f"/{name}"
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    head = s3.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    again = s3.create_bucket(Bucket=name)  # us-east-1: success for the owner, the bucket unchanged
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"x"
    with pytest.raises(ClientError) as info:
        s3.delete_bucket(Bucket=name)
    assert code(info) == "BucketNotEmpty"
    s3.delete_object(Bucket=name, Key="k")
    assert s3.delete_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as info:
        s3.head_bucket(Bucket=name)
    assert info.value.response["Error"]["Code"] == "404"
    with pytest.raises(ClientError) as info:
        s3.delete_bucket(Bucket=name)
    assert code(info) == "NoSuchBucket"


@pytest.mark.parametrize("name", ["ab", "Upper-Case", "has_underscore", "a..b", "192.168.1.1", "-start", "x" * 64])
def test_invalid_bucket_names(live_server: LiveServer, name: str) -> None:
    response = live_server.raw("PUT", f"/{name}")
    assert response.status == 400 and b"<Code>InvalidBucketName</Code>" in response.body


def test_location_constraint(s3: Any) -> None:
    name = f"loc-{uuid.uuid4().hex[:12]}"
    with pytest.raises(ClientError) as info:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert code(info) == "IllegalLocationConstraintException"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    s3.head_bucket(Bucket=name)


def test_create_bucket_malformed_xml(live_server: LiveServer) -> None:
    response = live_server.raw("PUT", f"/mx-{uuid.uuid4().hex[:12]}", body=b"<CreateBucketConfiguration><")
    assert response.status == 400 and b"<Code>MalformedXML</Code>" in response.body


def test_health_needs_no_auth_and_stats_do(live_server: LiveServer, s3: Any, bucket: str) -> None:
    with urllib.request.urlopen(live_server.url + "/_fragstore/health") as response:
        doc = json.load(response)
        assert doc["status"] == "ok" and doc["index"]["backend"] == "lmdb" and doc["index"]["ok"] is True
        assert doc["packs"] == {"kind": "local", "holes": doc["packs"]["holes"], "status": "ok"}
    anonymous = live_server.raw("GET", "/_fragstore/stats", sign=False)
    assert anonymous.status == 403 and b"<Code>AccessDenied</Code>" in anonymous.body
    s3.put_object(Bucket=bucket, Key="k", Body=b"y" * 1000)
    s3.put_object(Bucket=bucket, Key="k2", Body=b"y" * 1000)
    stats = live_server.raw("GET", "/_fragstore/stats")
    assert stats.status == 200 and stats.headers["content-type"] == "application/json"
    doc = json.loads(stats.body)
    assert doc["total"]["logical_bytes"] >= 2000 and "dedup_ratio" in doc["total"]
    mine = [b for b in doc["buckets"] if b["name"] == bucket]
    assert mine and mine[0]["objects"] == 2 and mine[0]["logical_bytes"] == 2000


def test_anonymous_and_bad_credentials(live_server: LiveServer, bucket: str) -> None:
    anonymous = live_server.raw("GET", f"/{bucket}", sign=False)
    assert anonymous.status == 403 and b"<Code>AccessDenied</Code>" in anonymous.body
    with pytest.raises(ClientError) as info:
        live_server.client(aws_access_key_id="UNKNOWNKEY123").list_buckets()
    assert code(info) == "InvalidAccessKeyId"
    with pytest.raises(ClientError) as info:
        live_server.client(aws_secret_access_key="wrong-secret").list_buckets()
    assert code(info) == "SignatureDoesNotMatch"


def test_content_sha256_mismatch(live_server: LiveServer, s3: Any, bucket: str) -> None:
    response = live_server.raw("PUT", f"/{bucket}/k", body=b"real body", payload_hash="0" * 64)
    assert response.status == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in response.body
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")
