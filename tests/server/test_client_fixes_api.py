"""What real clients tripped on (issue 13's list), each through the client that
found it, and headers that ask for protection fragstore does not give: refused
with NotImplemented, nothing stored."""

from __future__ import annotations

import gzip
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.live_server import LiveServer, start_server


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_aws_chunked_is_not_kept_in_content_encoding(live_server: LiveServer, bucket: str) -> None:
    """A streaming upload (boto3 sends aws-chunked with a trailing checksum when
    asked to) of a gzip body keeps Content-Encoding: gzip, as S3 does."""
    s3 = live_server.client(config=Config(request_checksum_calculation="when_supported"))
    body = gzip.compress(b"compressed text " * 100)
    s3.put_object(Bucket=bucket, Key="t.gz", Body=body, ContentEncoding="gzip", ChecksumAlgorithm="CRC32")
    head = s3.head_object(Bucket=bucket, Key="t.gz")
    assert head["ContentEncoding"] == "gzip"
    raw = live_server.raw("PUT", f"/{bucket}/only-chunked", body=b"5\r\nhello\r\n0\r\n\r\n",
                          headers={"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "5"},
                          payload_hash="UNSIGNED-PAYLOAD")
    assert raw.status == 200, raw.body
    assert "ContentEncoding" not in s3.head_object(Bucket=bucket, Key="only-chunked")


def test_completing_an_upload_twice_answers_the_same(s3: Any, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"data")
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    first = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload=parts)
    again = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload=parts)
    assert again["ETag"] == first["ETag"]
    other = {"Parts": [{"PartNumber": 1, "ETag": '"0123456789abcdef0123456789abcdef"'}]}
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload=other)
    assert code(info) == "NoSuchUpload"
    with pytest.raises(ClientError) as info:
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=uid)
    assert code(info) == "NoSuchUpload"


def test_a_part_listed_twice_is_invalid_part_order(s3: Any, bucket: str) -> None:
    """A client that resent part 1 and lists it twice: S3 answers InvalidPartOrder."""
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    first = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"x" * 10)
    resent = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"x" * 10)
    parts = [{"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 1, "ETag": resent["ETag"]}]
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={"Parts": parts})
    assert code(info) == "InvalidPartOrder"
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={"Parts": parts[1:]})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x" * 10


def test_create_bucket_you_own_outside_us_east_1(tmp_path: Path) -> None:
    with start_server(tmp_path / "data", extra_args=["--region", "eu-west-1"]) as server:
        s3 = server.client(region_name="eu-west-1")
        where = {"LocationConstraint": "eu-west-1"}
        s3.create_bucket(Bucket="mine", CreateBucketConfiguration=where)
        with pytest.raises(ClientError) as info:
            s3.create_bucket(Bucket="mine", CreateBucketConfiguration=where)
        assert code(info) == "BucketAlreadyOwnedByYou"


def test_list_buckets_pages(live_server: LiveServer, s3: Any) -> None:
    stem = f"page-{uuid.uuid4().hex[:8]}"
    names = [f"{stem}-{i}" for i in range(5)]
    for name in names:
        s3.create_bucket(Bucket=name)
    first = s3.list_buckets(Prefix=stem, MaxBuckets=2)
    assert [b["Name"] for b in first["Buckets"]] == names[:2] and first["Prefix"] == stem
    seen = [b["Name"] for b in first["Buckets"]]
    token = first["ContinuationToken"]
    while token:
        page = s3.list_buckets(Prefix=stem, MaxBuckets=2, ContinuationToken=token)
        seen += [b["Name"] for b in page["Buckets"]]
        token = page.get("ContinuationToken")
    assert seen == names
    assert "ContinuationToken" not in s3.list_buckets(Prefix=stem)
    assert all(b["BucketRegion"] == "us-east-1" for b in first["Buckets"])
    for bad in ("0", "10001", "x"):
        answer = live_server.raw("GET", f"/?max-buckets={bad}")
        assert answer.status == 400 and b"<Code>InvalidArgument</Code>" in answer.body


def test_list_objects_v1_prefix_as_boto3_expects(s3: Any, bucket: str) -> None:
    """boto3 asks for encoding-type=url and decodes v1's Delimiter, Marker and
    keys, not its top-level Prefix: S3 leaves that one as given."""
    s3.put_object(Bucket=bucket, Key="a b/c d", Body=b"x")
    v1 = s3.list_objects(Bucket=bucket, Prefix="a b/", Delimiter="/")
    assert v1["Prefix"] == "a b/" and v1["Delimiter"] == "/" and [o["Key"] for o in v1["Contents"]] == ["a b/c d"]
    v2 = s3.list_objects_v2(Bucket=bucket, Prefix="a b/", Delimiter="/")
    assert v2["Prefix"] == "a b/" and [o["Key"] for o in v2["Contents"]] == ["a b/c d"]


@pytest.mark.parametrize("value", ["!!!", "AAAA", "AAAAAAAAAAAA"])
def test_a_malformed_checksum_value_is_invalid_request(live_server: LiveServer, s3: Any, bucket: str,
                                                         value: str) -> None:
    answer = live_server.raw("PUT", f"/{bucket}/k", body=b"hello", headers={"x-amz-checksum-crc32": value})
    assert answer.status == 400 and b"<Code>InvalidRequest</Code>" in answer.body
    assert b"Value for x-amz-checksum-crc32 header is invalid." in answer.body
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_the_access_log_names_an_unknown_query_key_other(live_server: LiveServer, bucket: str) -> None:
    answer = live_server.raw("GET", f"/{bucket}?frobnicate-{uuid.uuid4().hex[:6]}")
    assert answer.status == 501
    [line] = live_server.log_lines(answer.headers["x-amz-request-id"])
    assert " Other 501 " in line and "GetFrobnicate" not in line


@pytest.mark.parametrize("headers", [
    {"x-amz-server-side-encryption": "AES256", "x-amz-server-side-encryption-bucket-key-enabled": "true"},
    {"x-amz-server-side-encryption": "aws:kms:dsse", "x-amz-server-side-encryption-aws-kms-key-id": "k"},
    {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-context": "e30="},
    {"x-amz-storage-class": "GLACIER"},
    {"x-amz-website-redirect-location": "/elsewhere"},
])
def test_protection_headers_are_refused_not_ignored(live_server: LiveServer, s3: Any, bucket: str,
                                                    headers: dict[str, str]) -> None:
    answer = live_server.raw("PUT", f"/{bucket}/k", body=b"secret", headers=headers)
    assert answer.status == 501 and b"<Code>NotImplemented</Code>" in answer.body, answer.body
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_harmless_values_of_those_headers_are_accepted(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="private", StorageClass="STANDARD")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_expected_bucket_owner_is_checked(s3: Any, bucket: str, live_server: LiveServer) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ExpectedBucketOwner=live_server.access_key)
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner="123456789012")
    assert code(info) == "AccessDenied"
