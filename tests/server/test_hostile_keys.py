"""Keys that break naive servers survive put, get, head, list, copy and delete."""

from __future__ import annotations

from typing import Any

import pytest

KEYS = [
    "unicode/ünïcödé/日本語/😀",
    "spaces in  key ",
    "plus+sign+key",
    "percent%20not%2Fdecoded%",
    "../../etc/passwd",
    "./dot/./segments/..",
    "/leading-slash",
    "trailing/",
    "double//slash",
    "query?x=1&y=2#frag",
    "tab\tand\nnewline",
    "quote\"and'apostrophe<>&",
    "tilde~star*paren()",
    "k" * 1024,
    "é" * 512,
]


@pytest.mark.parametrize("key", KEYS, ids=range(len(KEYS)))
def test_hostile_key_round_trip(s3: Any, bucket: str, key: str) -> None:
    body = key.encode("utf-8")[:100]
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == [key]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=key[:100])["Contents"]] == [key]
    copy = key[:-2] + "-c" if len(key.encode()) >= 1023 else key + "-copy"
    s3.copy_object(Bucket=bucket, Key=copy, CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key=copy)["Body"].read() == body
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [key]
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)
    s3.delete_object(Bucket=bucket, Key=key)
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": copy}]})
    assert [d["Key"] for d in result["Deleted"]] == [copy]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


LONG = [k for k in KEYS if len(k.encode()) > 200]


@pytest.mark.parametrize("key", LONG, ids=range(len(LONG)))
def test_long_prefix_finds_long_key(s3: Any, bucket: str, key: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=key)["Contents"]] == [key]
