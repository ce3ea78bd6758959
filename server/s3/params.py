"""Query parameters and small headers, validated as S3 validates them."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from server.s3.errors import S3Error

MAX_PART_NUMBER = 10000
MAX_INT = 2**31 - 1


def is_number(raw: str) -> bool:
    """ASCII digits only (``str.isdigit`` also takes digits ``int`` refuses, like "²")."""
    return raw.isascii() and raw.isdigit()


def int_param(query: Mapping[str, str], name: str, default: int, *, maximum: int | None = None) -> int:
    """A non-negative integer parameter, capped at ``maximum``; InvalidArgument otherwise."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not is_number(raw) or int(raw) > MAX_INT:  # S3's parameters are 32-bit integers
        raise S3Error("InvalidArgument", f"Provided {name} not an integer or within integer range",
                      extra={"ArgumentName": name, "ArgumentValue": raw})
    value = int(raw)
    return min(value, maximum) if maximum is not None else value


def part_number(query: Mapping[str, str], *, required: bool = False) -> int | None:
    """``partNumber`` in 1..10000."""
    raw = query.get("partNumber")
    if raw is None:
        if required:
            raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive",
                          extra={"ArgumentName": "partNumber", "ArgumentValue": "null"})
        return None
    if not is_number(raw) or not 1 <= int(raw) <= MAX_PART_NUMBER:
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive",
                      extra={"ArgumentName": "partNumber", "ArgumentValue": raw})
    return int(raw)


def upload_id(query: Mapping[str, str]) -> str:
    value = query.get("uploadId", "")
    if not value:
        raise S3Error("InvalidArgument", "This operation requires an upload id.",
                      extra={"ArgumentName": "uploadId", "ArgumentValue": ""})
    return value


def content_md5(headers: Mapping[str, str]) -> bytes | None:
    """The raw 16-byte Content-MD5 digest; InvalidDigest when malformed."""
    value = headers.get("content-md5")
    if value is None:
        return None
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise S3Error("InvalidDigest", extra={"Content-MD5": value}) from None
    if len(digest) != 16:
        raise S3Error("InvalidDigest", extra={"Content-MD5": value})
    return digest


def flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "").lower() == "true"


def checksum_mode(headers: Mapping[str, str]) -> bool:
    return headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"
