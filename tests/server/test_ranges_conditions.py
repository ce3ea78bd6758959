"""Range parsing and conditional-request evaluation (pure functions)."""

from __future__ import annotations

import pytest

from dedup.types import ByteRange, ObjectInfo, ObjectMeta
from server.http.dates import iso8601, parse_http_date, rfc1123
from server.http.ranges import parse_copy_source_range, parse_range
from server.s3.conditions import check_copy_source, check_read, etag_matches, write_expectation
from server.s3.errors import S3Error

T = 1_700_000_000.0
INFO = ObjectInfo("b", "k", 10, "abc", T + 0.5, ObjectMeta())
BEFORE, AT, AFTER = rfc1123(T - 60), rfc1123(T), rfc1123(T + 60)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", ByteRange(0, 9)),
        ("bytes=5-", ByteRange(5, None)),
        ("bytes=-3", ByteRange(None, 3)),
        (" bytes = 1 - 2 ", ByteRange(1, 2)),
        (None, None),
        ("bytes=5-2", None),
        ("bytes=0-1,3-4", None),
        ("items=0-1", None),
        ("bytes=-", None),
        ("bytes=a-b", None),
    ],
)
def test_parse_range(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header) == expected


def test_copy_source_range_needs_both_ends() -> None:
    assert parse_copy_source_range("bytes=0-4") == ByteRange(0, 4)
    for bad in ("bytes=0-", "bytes=-4", "bytes=4-0", "junk"):
        with pytest.raises(S3Error):
            parse_copy_source_range(bad)


def test_etag_lists() -> None:
    assert etag_matches('"x", "abc"', "abc")
    assert etag_matches("*", "abc")
    assert etag_matches('W/"abc"', "abc")
    assert not etag_matches('"abcd"', "abc")


def code(headers: dict[str, str]) -> str | None:
    try:
        check_read(headers, INFO)
    except S3Error as exc:
        return exc.code
    return None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"if-match": '"abc"'}, None),
        ({"if-match": '"zzz"'}, "PreconditionFailed"),
        ({"if-unmodified-since": BEFORE}, "PreconditionFailed"),
        ({"if-unmodified-since": AT}, None),
        ({"if-match": '"abc"', "if-unmodified-since": BEFORE}, None),  # If-Match wins
        ({"if-none-match": '"abc"'}, "NotModified"),
        ({"if-none-match": '"zzz"'}, None),
        ({"if-modified-since": AT}, "NotModified"),
        ({"if-modified-since": AFTER}, "NotModified"),
        ({"if-modified-since": BEFORE}, None),
        ({"if-none-match": '"zzz"', "if-modified-since": AFTER}, None),  # If-None-Match wins
        ({"if-none-match": '"abc"', "if-modified-since": BEFORE}, "NotModified"),
        ({"if-match": '"zzz"', "if-none-match": '"abc"'}, "PreconditionFailed"),  # 412 before 304
        ({"if-modified-since": "garbage"}, None),
    ],
)
def test_read_conditions(headers: dict[str, str], expected: str | None) -> None:
    assert code(headers) == expected


def test_copy_source_conditions_fail_with_412() -> None:
    check_copy_source({"x-amz-copy-source-if-match": '"abc"', "x-amz-copy-source-if-unmodified-since": BEFORE}, INFO)
    for headers in ({"x-amz-copy-source-if-none-match": '"abc"'}, {"x-amz-copy-source-if-modified-since": AFTER}):
        with pytest.raises(S3Error) as info:
            check_copy_source(headers, INFO)
        assert info.value.code == "PreconditionFailed"


def test_write_expectations() -> None:
    assert write_expectation({}) is None
    create_only = write_expectation({"if-none-match": "*"})
    assert create_only is not None
    create_only(None)
    with pytest.raises(S3Error, match="preconditions"):
        create_only(INFO)
    replace_only = write_expectation({"if-match": '"abc"'})
    assert replace_only is not None
    replace_only(INFO)
    with pytest.raises(S3Error) as info:
        replace_only(None)
    assert info.value.code == "NoSuchKey"
    with pytest.raises(S3Error):
        write_expectation({"if-none-match": '"abc"'})


def test_http_dates() -> None:
    assert rfc1123(T) == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert parse_http_date(rfc1123(T)) == T
    assert parse_http_date("nonsense") is None
    assert iso8601(T + 0.25) == "2023-11-14T22:13:20.250Z"
