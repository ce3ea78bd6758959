"""The ``Range`` header as S3 reads it.

One range only: ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n``. Anything else
(several ranges, another unit, ``b < a``, junk) is ignored like AWS does: the
whole object comes back with 200. Whether a valid range fits the object is the
engine's call (dedup.errors.InvalidRange -> 416).
"""

from __future__ import annotations

import re

from dedup.types import ByteRange
from server.s3.errors import S3Error

_SINGLE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


def parse_range(header: str | None) -> ByteRange | None:
    """The single byte range asked for, or None to serve the whole object."""
    if not header:
        return None
    match = _SINGLE.match(header)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:
        return ByteRange(None, int(last))
    if not last:
        return ByteRange(int(first), None)
    if int(last) < int(first):
        return None
    return ByteRange(int(first), int(last))


def parse_copy_source_range(header: str | None) -> ByteRange | None:
    """``x-amz-copy-source-range: bytes=first-last`` (both required, unlike Range)."""
    if header is None:
        return None
    match = _SINGLE.match(header)
    if match is None or not match.group(1) or not match.group(2):
        raise S3Error("InvalidArgument", "The x-amz-copy-source-range value must be of the form bytes=first-last.")
    first, last = int(match.group(1)), int(match.group(2))
    if last < first:
        raise S3Error("InvalidArgument", "The x-amz-copy-source-range value must be of the form bytes=first-last where first <= last.")
    return ByteRange(first, last)


def content_range(start: int, length: int, size: int) -> str:
    """``bytes start-end/size`` for a 206 answer."""
    return f"bytes {start}-{start + length - 1}/{size}"
