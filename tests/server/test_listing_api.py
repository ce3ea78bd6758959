"""ListObjects (v1) and ListObjectsV2: prefixes, delimiters, pagination, encoding."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.live_server import LiveServer

KEYS = ["a/1", "a/2", "a/b/3", "b", "c/4", "c/5", "d e+f", "z"]


@pytest.fixture
def filled(s3: Any, bucket: str) -> str:
    for key in KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def test_v2_lists_everything_in_order(s3: Any, filled: str) -> None:
    page = s3.list_objects_v2(Bucket=filled)
    assert [o["Key"] for o in page["Contents"]] == KEYS
    assert page["KeyCount"] == len(KEYS) and page["IsTruncated"] is False
    first = page["Contents"][0]
    assert first["Size"] == 3 and first["ETag"].startswith('"') and first["StorageClass"] == "STANDARD"
    assert "Owner" not in first


def test_v2_delimiter_and_prefix(s3: Any, filled: str) -> None:
    page = s3.list_objects_v2(Bucket=filled, Delimiter="/")
    assert [o["Key"] for o in page["Contents"]] == ["b", "d e+f", "z"]
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["a/", "c/"]
    page = s3.list_objects_v2(Bucket=filled, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in page["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["a/b/"]
    assert page["Prefix"] == "a/" and page["Delimiter"] == "/"


def test_v2_pagination_with_tokens(s3: Any, filled: str) -> None:
    seen: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": filled, "MaxKeys": 3, "Delimiter": "/"}
    while True:
        page = s3.list_objects_v2(**kwargs)
        seen += [o["Key"] for o in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        assert page["KeyCount"] <= 3
        if not page["IsTruncated"]:
            break
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
    assert sorted(seen) == ["a/", "b", "c/", "d e+f", "z"]


def test_paginators(s3: Any, filled: str) -> None:
    v2 = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=filled, PaginationConfig={"PageSize": 2})
          for o in p["Contents"]]
    v1 = [o["Key"] for p in s3.get_paginator("list_objects").paginate(Bucket=filled, PaginationConfig={"PageSize": 2})
          for o in p["Contents"]]
    assert v1 == v2 == KEYS


def test_v2_start_after_and_fetch_owner(live_server: LiveServer, s3: Any, filled: str) -> None:
    page = s3.list_objects_v2(Bucket=filled, StartAfter="c/4", FetchOwner=True)
    assert [o["Key"] for o in page["Contents"]] == ["c/5", "d e+f", "z"]
    assert page["StartAfter"] == "c/4"
    assert page["Contents"][0]["Owner"]["ID"] == live_server.access_key


def test_v1_marker_and_next_marker(s3: Any, filled: str) -> None:
    page = s3.list_objects(Bucket=filled, MaxKeys=2, Delimiter="/")
    assert page["IsTruncated"] is True
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["a/"] and [o["Key"] for o in page["Contents"]] == ["b"]
    assert page["NextMarker"] == "b"
    rest = s3.list_objects(Bucket=filled, Marker=page["NextMarker"], Delimiter="/")
    assert [o["Key"] for o in rest["Contents"]] == ["d e+f", "z"]
    assert rest["Contents"][0]["Owner"]["ID"]


def test_max_keys_zero_and_bad(live_server: LiveServer, s3: Any, filled: str) -> None:
    page = s3.list_objects_v2(Bucket=filled, MaxKeys=0)
    assert page["KeyCount"] == 0 and page["IsTruncated"] is False
    response = live_server.raw("GET", f"/{filled}?list-type=2&max-keys=-1")
    assert response.status == 400 and b"<Code>InvalidArgument</Code>" in response.body


def test_bad_continuation_token(live_server: LiveServer, filled: str) -> None:
    response = live_server.raw("GET", f"/{filled}?list-type=2&continuation-token=%25%25%25")
    assert response.status == 400 and b"<Code>InvalidArgument</Code>" in response.body


def test_encoding_type_url(live_server: LiveServer, filled: str) -> None:
    response = live_server.raw("GET", f"/{filled}?list-type=2&encoding-type=url&prefix=d")
    assert b"<Key>d%20e%2Bf</Key>" in response.body and b"<EncodingType>url</EncodingType>" in response.body
    plain = live_server.raw("GET", f"/{filled}?list-type=2&prefix=d")
    assert b"<Key>d e+f</Key>" in plain.body


def test_list_missing_bucket(s3: Any) -> None:
    with pytest.raises(ClientError) as info:
        s3.list_objects_v2(Bucket="no-such-bucket-list")
    assert info.value.response["Error"]["Code"] == "NoSuchBucket"
