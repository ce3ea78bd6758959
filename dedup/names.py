"""S3 naming rules: bucket names and object keys."""

from __future__ import annotations

import re

from dedup.errors import InvalidBucketName, InvalidObjectKey

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4 = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
MAX_KEY_BYTES = 1024


def validate_bucket_name(name: str) -> None:
    """S3's general-purpose bucket rules: 3-63 chars of a-z 0-9 . -, starting
    and ending with a letter or digit, no '..', not an IP address, none of the
    reserved prefixes/suffixes."""
    if (
        not _BUCKET.match(name)
        or ".." in name
        or ".-" in name
        or "-." in name
        or _IPV4.match(name)
        or name.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
        or name.endswith(("-s3alias", "--ol-s3", "--x-s3", ".mrap", "--table-s3"))
    ):
        raise InvalidBucketName(name)


def encode_key(key: str) -> bytes:
    """A key's UTF-8 bytes; refuses empty keys, NUL and lone surrogates."""
    if not key or "\x00" in key:
        raise InvalidObjectKey(key)
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidObjectKey(key) from exc
    if len(raw) > MAX_KEY_BYTES:
        raise InvalidObjectKey(key)
    return raw
