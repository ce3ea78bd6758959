"""Range reads and part reads through the live server."""

from __future__ import annotations

import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.live_server import LiveServer

BODY = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def obj(s3: Any, bucket: str) -> str:
    s3.put_object(Bucket=bucket, Key="r", Body=BODY)
    return bucket


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-9", 0, 9), ("bytes=10-", 10, 10239), ("bytes=-100", 10140, 10239),
     ("bytes=10000-99999", 10000, 10239), ("bytes=-99999", 0, 10239), ("bytes=10239-10239", 10239, 10239)],
)
def test_single_ranges(s3: Any, obj: str, header: str, start: int, end: int) -> None:
    got = s3.get_object(Bucket=obj, Key="r", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes {start}-{end}/{len(BODY)}"
    assert got["ContentLength"] == end - start + 1
    assert got["Body"].read() == BODY[start : end + 1]


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "bytes=9-2", "lines=0-1", "bytes=x-y"])
def test_ignored_ranges_give_the_whole_object(s3: Any, obj: str, header: str) -> None:
    got = s3.get_object(Bucket=obj, Key="r", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["Body"].read() == BODY


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-30000", "bytes=-0"])
def test_unsatisfiable_range(live_server: LiveServer, obj: str, header: str) -> None:
    response = live_server.raw("GET", f"/{obj}/r", headers={"Range": header})
    assert response.status == 416
    assert b"<Code>InvalidRange</Code>" in response.body
    assert b"<ActualObjectSize>10240</ActualObjectSize>" in response.body
    assert response.headers["content-range"] == "bytes */10240"


def test_range_on_empty_object(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="e", Body=b"")
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="e", Range="bytes=0-")
    assert info.value.response["Error"]["Code"] == "InvalidRange"


def test_head_with_range_header_is_whole(s3: Any, obj: str) -> None:
    head = s3.head_object(Bucket=obj, Key="r")
    assert head["ContentLength"] == len(BODY) and head["AcceptRanges"] == "bytes"


def test_part_reads(s3: Any, bucket: str) -> None:
    parts = [os.urandom(5 * 1024 * 1024), os.urandom(1234)]
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    done = []
    for number, data in enumerate(parts, 1):
        etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=number, Body=data)["ETag"]
        done.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": done})
    second = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert second["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert second["PartsCount"] == 2
    assert second["ContentLength"] == 1234
    assert second["ContentRange"] == f"bytes {len(parts[0])}-{len(parts[0]) + 1233}/{len(parts[0]) + 1234}"
    assert second["Body"].read() == parts[1]
    head = s3.head_object(Bucket=bucket, Key="mp", PartNumber=1)
    assert head["ContentLength"] == len(parts[0]) and head["PartsCount"] == 2
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="mp", PartNumber=3)
    assert info.value.response["Error"]["Code"] == "InvalidPartNumber"


def test_part_number_one_of_a_simple_object(s3: Any, obj: str) -> None:
    got = s3.get_object(Bucket=obj, Key="r", PartNumber=1)
    assert got["Body"].read() == BODY and got["PartsCount"] == 1


def test_part_number_and_range_together(live_server: LiveServer, obj: str) -> None:
    response = live_server.raw("GET", f"/{obj}/r?partNumber=1", headers={"Range": "bytes=0-1"})
    assert response.status == 400 and b"<Code>InvalidRequest</Code>" in response.body


@pytest.mark.parametrize("value", ["0", "10001", "abc"])
def test_bad_part_number(live_server: LiveServer, obj: str, value: str) -> None:
    response = live_server.raw("GET", f"/{obj}/r?partNumber={value}")
    assert response.status == 400 and b"<Code>InvalidArgument</Code>" in response.body
