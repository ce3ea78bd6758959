"""CopyObject (COPY/REPLACE, self-copy, copy-source conditions) and UploadPartCopy."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_copy_keeps_metadata(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"payload", ContentType="text/x", Metadata={"a": "1"})
    result = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert result["CopyObjectResult"]["ETag"] == s3.head_object(Bucket=bucket, Key="src")["ETag"]
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == b"payload"
    assert got["ContentType"] == "text/x" and got["Metadata"] == {"a": "1"}


def test_copy_replace_metadata(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"payload", Metadata={"a": "1"})
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="text/y")
    got = s3.get_object(Bucket=bucket, Key="dst", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"payload"
    assert got["Metadata"] == {"b": "2"} and got["ContentType"] == "text/y"
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"a": "1"}


def test_copy_between_buckets(s3: Any, bucket: str) -> None:
    other = bucket + "-b"
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=bucket, Key="src", Body=b"across")
    s3.copy_object(Bucket=other, Key="dst", CopySource=f"{bucket}/src")
    assert s3.get_object(Bucket=other, Key="dst")["Body"].read() == b"across"


def test_self_copy(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"same", Metadata={"v": "1"})
    with pytest.raises(ClientError) as info:
        s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k"})
    assert code(info) == "InvalidRequest"
    s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k"},
                   MetadataDirective="REPLACE", Metadata={"v": "2"})
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Metadata"] == {"v": "2"} and got["Body"].read() == b"same"


def test_copy_errors(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as info:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "missing"})
    assert code(info) == "NoSuchKey"
    with pytest.raises(ClientError) as info:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": "no-such-bucket-x1", "Key": "k"})
    assert code(info) == "NoSuchBucket"
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    with pytest.raises(ClientError) as info:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}, MetadataDirective="MOVE")
    assert code(info) == "InvalidArgument"


def test_copy_source_conditions(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"cond")["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="src")["LastModified"]
    before, after = modified - dt.timedelta(hours=1), modified + dt.timedelta(hours=1)
    src = {"Bucket": bucket, "Key": "src"}
    ok = [{"CopySourceIfMatch": etag}, {"CopySourceIfNoneMatch": '"x"'}, {"CopySourceIfModifiedSince": before},
          {"CopySourceIfUnmodifiedSince": after}, {"CopySourceIfMatch": etag, "CopySourceIfUnmodifiedSince": before}]
    bad = [{"CopySourceIfMatch": '"x"'}, {"CopySourceIfNoneMatch": etag}, {"CopySourceIfModifiedSince": after},
           {"CopySourceIfUnmodifiedSince": before}, {"CopySourceIfNoneMatch": etag, "CopySourceIfModifiedSince": before}]
    for kw in ok:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=src, **kw)
    s3.delete_object(Bucket=bucket, Key="dst")
    for kw in bad:
        with pytest.raises(ClientError) as info:
            s3.copy_object(Bucket=bucket, Key="dst", CopySource=src, **kw)
        assert code(info) == "PreconditionFailed", kw
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="dst")


def test_upload_part_copy(s3: Any, bucket: str) -> None:
    source = os.urandom(6 * 1024 * 1024)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    up = s3.create_multipart_upload(Bucket=bucket, Key="dst")
    uid = up["UploadId"]
    first = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1,
                                CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange="bytes=0-5242879")
    second = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=2,
                                 CopySource={"Bucket": bucket, "Key": "src"})
    parts = [{"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
             {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]}]
    s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=uid, MultipartUpload={"Parts": parts})
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == source[:5242880] + source


def test_upload_part_copy_errors(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    src = {"Bucket": bucket, "Key": "src"}
    with pytest.raises(ClientError) as info:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1, CopySource=src, CopySourceRange="bytes=5-50")
    assert code(info) == "InvalidRange"
    with pytest.raises(ClientError) as info:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1, CopySource=src, CopySourceRange="bytes=20-30")
    assert code(info) == "InvalidRange"
    with pytest.raises(ClientError) as info:  # not a range at all: the syntax error
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1, CopySource=src, CopySourceRange="bytes=x-1")
    assert code(info) == "InvalidArgument"
    with pytest.raises(ClientError) as info:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId="nope", PartNumber=1, CopySource=src)
    assert code(info) == "NoSuchUpload"
    with pytest.raises(ClientError) as info:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1, CopySource=src, CopySourceIfMatch='"x"')
    assert code(info) == "PreconditionFailed"
