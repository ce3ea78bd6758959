"""Conditional GET/HEAD (304/412) and conditional writes (If-None-Match: *, If-Match)."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.live_server import LiveServer


def status(call: Any, **kw: Any) -> int:
    try:
        return int(call(**kw)["ResponseMetadata"]["HTTPStatusCode"])
    except ClientError as exc:
        return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])


def test_read_conditions(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"data")["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    before, after = modified - dt.timedelta(hours=1), modified + dt.timedelta(hours=1)
    for call in (s3.get_object, s3.head_object):
        kw = {"Bucket": bucket, "Key": "k"}
        assert status(call, **kw, IfMatch=etag) == 200
        assert status(call, **kw, IfMatch='"nope"') == 412
        assert status(call, **kw, IfNoneMatch=etag) == 304
        assert status(call, **kw, IfNoneMatch='"nope"') == 200
        assert status(call, **kw, IfModifiedSince=before) == 200
        assert status(call, **kw, IfModifiedSince=after) == 304
        assert status(call, **kw, IfUnmodifiedSince=after) == 200
        assert status(call, **kw, IfUnmodifiedSince=before) == 412
        # S3's pairings: If-Match true wins over If-Unmodified-Since false;
        # If-None-Match false (etag differs... here matches) wins over If-Modified-Since.
        assert status(call, **kw, IfMatch=etag, IfUnmodifiedSince=before) == 200
        assert status(call, **kw, IfNoneMatch=etag, IfModifiedSince=before) == 304
        assert status(call, **kw, IfNoneMatch='"nope"', IfModifiedSince=after) == 200


def test_not_modified_has_etag_and_no_body(live_server: LiveServer, s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"data")["ETag"]
    response = live_server.raw("GET", f"/{bucket}/k", headers={"If-None-Match": etag})
    assert response.status == 304 and response.body == b""
    assert response.headers["etag"] == etag and "last-modified" in response.headers
    failed = live_server.raw("GET", f"/{bucket}/k", headers={"If-Match": '"x"'})
    assert failed.status == 412 and b"<Code>PreconditionFailed</Code>" in failed.body


def test_put_if_none_match_creates_only(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"second", IfNoneMatch="*")
    assert info.value.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"first"


def test_put_if_match_replaces_only_that_etag(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", IfMatch='"0123"')
    assert info.value.response["Error"]["Code"] == "NoSuchKey"
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["ETag"]
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfMatch='"0123"')
    assert info.value.response["Error"]["Code"] == "PreconditionFailed"
    s3.put_object(Bucket=bucket, Key="k", Body=b"three", IfMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"three"


def test_complete_multipart_if_none_match(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"exists")
    up = s3.create_multipart_upload(Bucket=bucket, Key="k")
    etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=up["UploadId"], PartNumber=1, Body=os.urandom(100))["ETag"]
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=up["UploadId"], IfNoneMatch="*",
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert info.value.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"exists"
