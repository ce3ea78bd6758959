"""Conditional writes and deletes through boto3 (AWS, Nov 2024 and 2025):
If-None-Match: * and If-Match on PutObject, CopyObject and
CompleteMultipartUpload (412 PreconditionFailed; 409 ConditionalRequestConflict
when the key changed during a multipart upload), If-Match on DeleteObject and
ETag conditions in DeleteObjects."""

from __future__ import annotations

import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.live_server import LiveServer

PART = 5 * 1024 * 1024


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_put_if_none_match_and_if_match(s3: Any, bucket: str) -> None:
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one", IfNoneMatch="*")
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfNoneMatch="*")
    assert code(info) == "PreconditionFailed"
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfMatch='"00000000000000000000000000000000"')
    assert code(info) == "PreconditionFailed"
    s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfMatch=first["ETag"])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="missing", Body=b"x", IfMatch=first["ETag"])
    assert code(info) == "NoSuchKey"


def test_a_delete_marker_is_no_object_to_conditions(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    s3.delete_object(Bucket=bucket, Key="k")
    made = s3.put_object(Bucket=bucket, Key="k", Body=b"again", IfNoneMatch="*")
    assert made["VersionId"] != "null"


def test_copy_to_a_key_that_must_not_exist(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"data")
    s3.put_object(Bucket=bucket, Key="taken", Body=b"mine")
    with pytest.raises(ClientError) as info:
        s3.copy_object(Bucket=bucket, Key="taken", CopySource={"Bucket": bucket, "Key": "src"}, IfNoneMatch="*")
    assert code(info) == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="taken")["Body"].read() == b"mine"
    s3.copy_object(Bucket=bucket, Key="free", CopySource={"Bucket": bucket, "Key": "src"}, IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="free")["Body"].read() == b"data"


def _upload(s3: Any, bucket: str, key: str) -> tuple[str, list[dict[str, Any]]]:
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=os.urandom(1000))
    return uid, [{"PartNumber": 1, "ETag": part["ETag"]}]


def test_complete_multipart_conditions(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="old", Body=b"before the upload")
    uid, parts = _upload(s3, bucket, "old")
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(Bucket=bucket, Key="old", UploadId=uid, MultipartUpload={"Parts": parts},
                                     IfNoneMatch="*")
    assert code(info) == "PreconditionFailed"
    uid, parts = _upload(s3, bucket, "race")
    s3.put_object(Bucket=bucket, Key="race", Body=b"written while the upload ran")
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(Bucket=bucket, Key="race", UploadId=uid, MultipartUpload={"Parts": parts},
                                     IfNoneMatch="*")
    assert code(info) == "ConditionalRequestConflict"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert s3.get_object(Bucket=bucket, Key="race")["Body"].read() == b"written while the upload ran"
    uid, parts = _upload(s3, bucket, "fresh")
    s3.complete_multipart_upload(Bucket=bucket, Key="fresh", UploadId=uid, MultipartUpload={"Parts": parts},
                                 IfNoneMatch="*")


def test_conditional_delete(live_server: LiveServer, s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"data")["ETag"]
    wrong = live_server.raw("DELETE", f"/{bucket}/k", headers={"If-Match": '"0123"'})
    assert wrong.status == 412 and b"<Code>PreconditionFailed</Code>" in wrong.body
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"
    right = live_server.raw("DELETE", f"/{bucket}/k", headers={"If-Match": etag})
    assert right.status == 204
    gone = live_server.raw("DELETE", f"/{bucket}/k", headers={"If-Match": etag})
    assert gone.status == 204  # nothing there: S3 answers success
    unsupported = live_server.raw("DELETE", f"/{bucket}/k", headers={"x-amz-if-match-size": "4"})
    assert unsupported.status == 501


def test_delete_objects_with_etag_conditions(s3: Any, bucket: str) -> None:
    a = s3.put_object(Bucket=bucket, Key="a", Body=b"a")["ETag"]
    s3.put_object(Bucket=bucket, Key="b", Body=b"b")
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "a", "ETag": a}, {"Key": "b", "ETag": '"ffffffffffffffffffffffffffffffff"'},
    ]})
    assert [d["Key"] for d in answer["Deleted"]] == ["a"]
    assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [("b", "PreconditionFailed")]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["b"]
