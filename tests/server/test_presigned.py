"""Presigned GET and PUT URLs, fetched with a plain HTTP client (urllib)."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest


def test_presigned_get(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="dir/file name+1.txt", Body=b"presigned body", ContentType="text/plain")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "dir/file name+1.txt"}, ExpiresIn=300)
    with urllib.request.urlopen(url) as response:
        assert response.status == 200
        assert response.read() == b"presigned body"
        assert response.headers["Content-Type"] == "text/plain"
    overridden = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "dir/file name+1.txt", "ResponseContentType": "application/x-test"})
    with urllib.request.urlopen(overridden) as response:
        assert response.headers["Content-Type"] == "application/x-test"


def test_presigned_put(s3: Any, bucket: str) -> None:
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up/loaded"}, ExpiresIn=300)
    request = urllib.request.Request(url, data=b"uploaded with urllib", method="PUT",
                                     headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 200 and response.headers["ETag"]
    assert s3.get_object(Bucket=bucket, Key="up/loaded")["Body"].read() == b"uploaded with urllib"


def test_tampered_presigned_url_is_refused(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="b", Body=b"b")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url.replace(f"/{bucket}/a?", f"/{bucket}/b?"))
    assert info.value.code == 403 and b"SignatureDoesNotMatch" in info.value.read()
