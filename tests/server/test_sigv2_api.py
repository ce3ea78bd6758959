"""SigV2 against the live server: boto3 with ``signature_version="s3"``, boto3's
default presigned URLs and ``aws s3 presign`` (SigV2 in us-east-1 unless s3v4 is
configured) fetched with plain HTTP, and the refusals."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.live_server import REGION, LiveServer
from tests.server.test_awscli import run_aws


@pytest.fixture(scope="module")
def s3v2(live_server: LiveServer) -> Any:
    return live_server.client(config=Config(signature_version="s3"))


@pytest.fixture(scope="module")
def default_client(live_server: LiveServer) -> Any:
    """boto3 as a user makes it: no signature_version, so presigned URLs are SigV2."""
    return boto3.session.Session().client(
        "s3", endpoint_url=live_server.url, region_name=REGION, aws_access_key_id=live_server.access_key,
        aws_secret_access_key=live_server.secret_key, config=Config(s3={"addressing_style": "path"}))


def fetch(url: str, method: str = "GET", data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes, Any]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as failed:
        return failed.code, failed.read(), failed.headers


def code_of(body: bytes) -> str:
    return body.split(b"<Code>")[1].split(b"</Code>")[0].decode()


KEYS = ["plain.txt", "dir/with space+plus", "unicode-é-日本-🎉", "../dots/./x", "tilde~star*paren()!$&'=,;:@"]


def test_boto3_sigv2_object_calls(s3v2: Any, s3: Any, bucket: str) -> None:
    for key in KEYS:
        put = s3v2.put_object(Bucket=bucket, Key=key, Body=key.encode() * 100, ContentType="text/x-test",
                              Metadata={"note": "two  words", "other": "x"})
        got = s3v2.get_object(Bucket=bucket, Key=key, Range="bytes=0-4", ResponseContentDisposition="attachment; x=1")
        assert got["Body"].read() == key.encode()[:5] and got["ETag"] == put["ETag"]
        assert got["ContentDisposition"] == "attachment; x=1"
        head = s3v2.head_object(Bucket=bucket, Key=key)
        assert head["Metadata"] == {"note": "two  words", "other": "x"} and head["ContentType"] == "text/x-test"
    listed = s3v2.list_objects_v2(Bucket=bucket, Prefix="dir/", Delimiter="/")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/with space+plus"]
    assert {o["Key"] for o in s3v2.list_objects(Bucket=bucket)["Contents"]} == set(KEYS)
    s3v2.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": KEYS[2]})
    s3v2.delete_object(Bucket=bucket, Key=KEYS[0])
    deleted = s3v2.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in KEYS[1:]]})
    assert len(deleted["Deleted"]) == len(KEYS) - 1
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["copy"]  # seen by a SigV4 client


def test_boto3_sigv2_buckets_and_multipart(s3v2: Any, bucket: str) -> None:
    name = bucket + "-v2"
    s3v2.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3v2.list_buckets()["Buckets"]]
    assert s3v2.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    upload = s3v2.create_multipart_upload(Bucket=name, Key="big file", Metadata={"m": "1"})["UploadId"]
    parts = []
    for number, data in ((1, b"a" * (5 << 20)), (2, b"b" * 1000)):
        etag = s3v2.upload_part(Bucket=name, Key="big file", UploadId=upload, PartNumber=number, Body=data)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    assert len(s3v2.list_parts(Bucket=name, Key="big file", UploadId=upload)["Parts"]) == 2
    assert s3v2.list_multipart_uploads(Bucket=name)["Uploads"][0]["UploadId"] == upload
    s3v2.complete_multipart_upload(Bucket=name, Key="big file", UploadId=upload, MultipartUpload={"Parts": parts})
    assert s3v2.head_object(Bucket=name, Key="big file")["ContentLength"] == (5 << 20) + 1000
    aborted = s3v2.create_multipart_upload(Bucket=name, Key="gone")["UploadId"]
    s3v2.abort_multipart_upload(Bucket=name, Key="gone", UploadId=aborted)
    s3v2.delete_object(Bucket=name, Key="big file")
    s3v2.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as err:
        s3v2.head_bucket(Bucket=name)
    assert err.value.response["Error"]["Code"] == "404"


def test_default_presigned_urls_with_plain_http(default_client: Any, s3: Any, bucket: str) -> None:
    """generate_presigned_url without signature_version: botocore's default for s3 in
    us-east-1 is a SigV2 query string."""
    key = "pre signed/é+1.txt"
    put_url = default_client.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": key, "ContentType": "text/plain", "Metadata": {"who": "v2"}},
        ExpiresIn=300)
    assert "AWSAccessKeyId=" in put_url and "X-Amz-" not in put_url
    status, body, _ = fetch(put_url, "PUT", b"presigned v2 body")  # urllib adds its own Content-Type: signed otherwise
    assert (status, code_of(body)) == (403, "SignatureDoesNotMatch")
    status, _, headers = fetch(put_url, "PUT", b"presigned v2 body", {"Content-Type": "text/plain"})
    assert status == 200 and headers["ETag"]  # the metadata rode in the query
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentType"] == "text/plain" and head["Metadata"] == {"who": "v2"}
    get_url = default_client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key, "ResponseContentType": "application/x-v2"})
    status, body, headers = fetch(get_url)
    assert (status, body, headers["Content-Type"]) == (200, b"presigned v2 body", "application/x-v2")
    parts = urlsplit(get_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request("HEAD", f"{parts.path}?{parts.query}")
        assert conn.getresponse().status == 403  # signed for GET
    finally:
        conn.close()
    list_url = default_client.generate_presigned_url("list_objects_v2", Params={"Bucket": bucket})
    status, body, _ = fetch(list_url)
    assert status == 200 and b"<KeyCount>1</KeyCount>" in body


def test_default_presigned_copy_and_metadata(default_client: Any, s3: Any, bucket: str) -> None:
    """Headers a SigV2 URL carries in its query act as the request's: x-amz-copy-source
    makes the PUT a CopyObject, x-amz-meta-* become the object's metadata."""
    s3.put_object(Bucket=bucket, Key="source", Body=b"copied bytes")
    url = default_client.generate_presigned_url(
        "copy_object", Params={"Bucket": bucket, "Key": "target", "CopySource": f"{bucket}/source"})
    assert "x-amz-copy-source=" in url
    status, body, _ = fetch(url, "PUT")
    assert status == 200 and b"<CopyObjectResult" in body
    assert s3.get_object(Bucket=bucket, Key="target")["Body"].read() == b"copied bytes"


def test_aws_s3_presign(live_server: LiveServer, s3: Any, bucket: str, tmp_path: Path) -> None:
    """``aws s3 presign`` with no s3v4 in its configuration: a SigV2 URL."""
    s3.put_object(Bucket=bucket, Key="cli/file name.bin", Body=b"for the cli")
    url = run_aws(live_server, tmp_path, "s3", "presign", f"s3://{bucket}/cli/file name.bin",
                  "--expires-in", "120").strip()
    assert "AWSAccessKeyId=" in url and "Signature=" in url
    assert fetch(url)[:2] == (200, b"for the cli")


def test_forged_expired_unknown(live_server: LiveServer, default_client: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="b", Body=b"b")
    url = default_client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a"}, ExpiresIn=300)
    status, body, _ = fetch(url.replace(f"/{bucket}/a?", f"/{bucket}/b?"))
    assert (status, code_of(body)) == (403, "SignatureDoesNotMatch")
    assert b"<StringToSign>GET\n\n\n" in body and b"<StringToSignBytes>47 45 54 0a" in body
    expired = default_client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a"}, ExpiresIn=-10)
    status, body, _ = fetch(expired)
    assert (status, code_of(body)) == (403, "AccessDenied") and b"Request has expired" in body
    stranger = boto3.session.Session().client(
        "s3", endpoint_url=live_server.url, region_name=REGION, aws_access_key_id="NOSUCHKEY0",
        aws_secret_access_key="x", config=Config(signature_version="s3", retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError) as err:
        stranger.get_object(Bucket=bucket, Key="a")
    assert err.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    wrong = boto3.session.Session().client(
        "s3", endpoint_url=live_server.url, region_name=REGION, aws_access_key_id=live_server.access_key,
        aws_secret_access_key="not-the-secret",
        config=Config(signature_version="s3", s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError) as err:
        wrong.put_object(Bucket=bucket, Key="c", Body=b"c")
    assert err.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert "Contents" in s3.list_objects_v2(Bucket=bucket) and len(s3.list_objects_v2(Bucket=bucket)["Contents"]) == 2
