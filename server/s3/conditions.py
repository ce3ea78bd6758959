"""Conditional requests, in the order S3 evaluates them.

Reads (GET/HEAD), RFC 9110 section 13.2.2 as S3 applies it:
  1. If-Match false -> 412; when If-Match is present and true,
     If-Unmodified-Since is ignored, else If-Unmodified-Since false -> 412.
  2. If-None-Match matches -> 304; when If-None-Match is present,
     If-Modified-Since is ignored, else not modified since -> 304.
Copy sources (x-amz-copy-source-if-*) follow the same pairing but every failure
is 412. Writes (PutObject, CopyObject, CompleteMultipartUpload) turn
If-None-Match: * and If-Match into an engine Expectation, checked atomically
before publishing. DeleteObject's If-Match deletes only when the ETag matches
(or nothing is there: S3 answers 204 then).
"""

from __future__ import annotations

from collections.abc import Mapping

from dedup.errors import PreconditionFailed
from dedup.types import Expectation, ObjectInfo
from server.http.dates import parse_http_date, rfc1123
from server.s3.errors import S3Error


def etag_matches(header: str, etag: str) -> bool:
    """True when the comma-separated ETag list names ``etag`` (or is ``*``)."""
    for candidate in header.split(","):
        token = candidate.strip()
        if token.startswith("W/"):
            token = token[2:]
        token = token.strip('"')
        if token == "*" or token == etag:
            return True
    return False


def _unmodified_since(info: ObjectInfo, header: str | None) -> bool | None:
    when = parse_http_date(header)
    return None if when is None else int(info.last_modified) <= when


def _passes(headers: Mapping[str, str], info: ObjectInfo, prefix: str) -> tuple[bool, bool]:
    """(precondition holds, representation modified) for one header family."""
    if_match = headers.get(prefix + "if-match")
    if if_match is not None:
        holds = etag_matches(if_match, info.etag)
    else:
        unmodified = _unmodified_since(info, headers.get(prefix + "if-unmodified-since"))
        holds = unmodified is not False
    if_none_match = headers.get(prefix + "if-none-match")
    if if_none_match is not None:
        modified = not etag_matches(if_none_match, info.etag)
    else:
        unmodified = _unmodified_since(info, headers.get(prefix + "if-modified-since"))
        modified = unmodified is not True
    return holds, modified


def check_read(headers: Mapping[str, str], info: ObjectInfo) -> None:
    """Raise PreconditionFailed (412) or NotModified (304) for GET/HEAD."""
    holds, modified = _passes(headers, info, "")
    if not holds:
        raise S3Error("PreconditionFailed", extra={"Condition": "If-Match"})
    if not modified:
        raise S3Error(
            "NotModified",
            headers={"ETag": f'"{info.etag}"', "Last-Modified": rfc1123(info.last_modified)},
        )


def check_copy_source(headers: Mapping[str, str], info: ObjectInfo) -> None:
    """Raise PreconditionFailed when an x-amz-copy-source-if-* header fails."""
    holds, modified = _passes(headers, info, "x-amz-copy-source-")
    if not (holds and modified):
        raise S3Error("PreconditionFailed", extra={"Condition": "x-amz-copy-source-If"})


def write_expectation(headers: Mapping[str, str]) -> Expectation | None:
    """The engine callback for If-None-Match: * / If-Match on a write, or None."""
    if_none_match = headers.get("if-none-match")
    if_match = headers.get("if-match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise S3Error("NotImplemented", "Only If-None-Match: * is supported on writes.")
    if if_none_match is None and if_match is None:
        return None

    def expect(existing: ObjectInfo | None) -> None:
        if if_none_match is not None and existing is not None:
            raise S3Error("PreconditionFailed", extra={"Condition": "If-None-Match"})
        if if_match is not None:
            if existing is None:
                raise S3Error("NoSuchKey")
            if not etag_matches(if_match, existing.etag):
                raise S3Error("PreconditionFailed", extra={"Condition": "If-Match"})

    return expect


def delete_expectation(headers: Mapping[str, str]) -> Expectation | None:
    """The engine callback for If-Match on DeleteObject, or None."""
    for name in ("x-amz-if-match-last-modified-time", "x-amz-if-match-size"):
        if name in headers:
            raise S3Error("NotImplemented", f"{name} is not implemented.", extra={"Header": name})
    if_match = headers.get("if-match")
    return None if if_match is None else etag_expectation(if_match)


def etag_expectation(if_match: str) -> Expectation:
    """Refuse (412) unless the version the delete would remove has this ETag."""

    def expect(existing: ObjectInfo | None) -> None:
        if existing is not None and not etag_matches(if_match, existing.etag):
            raise PreconditionFailed("If-Match")

    return expect
