"""Parameters shared by the listing operations: key encoding and continuation tokens."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from urllib.parse import quote

from server.s3.errors import S3Error

MAX_LIST = 1000


def key_encoder(query: Mapping[str, str]) -> Callable[[str], str]:
    """Identity, or S3's ``encoding-type=url`` percent-encoding of key names."""
    kind = query.get("encoding-type")
    if kind is None:
        return lambda key: key
    if kind.lower() != "url":
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request",
                      extra={"ArgumentName": "encoding-type", "ArgumentValue": kind})
    return lambda key: quote(key, safe="/")


def encode_token(key: str) -> str:
    """An opaque ListObjectsV2 continuation token: the key to continue after."""
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii")


def decode_token(token: str) -> str:
    try:
        return base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                      extra={"ArgumentName": "continuation-token"}) from None
