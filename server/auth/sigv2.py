"""AWS Signature Version 2 for S3: the string to sign and its HMAC-SHA1. Pure
functions over bytes; server/auth/sigv2_auth.py applies them to a request.

    StringToSign = VERB \\n Content-MD5 \\n Content-Type \\n Date \\n
                   CanonicalizedAmzHeaders CanonicalizedResource
    Signature    = base64(HMAC-SHA1(secret, StringToSign))

- Date is the ``Date`` header, empty when ``x-amz-date`` is sent (which then
  signs as an amz header), and the ``Expires`` value for a presigned URL.
- CanonicalizedAmzHeaders: every ``x-amz-*`` header, names lower-cased and
  sorted, repeated headers joined with ``,``, folded lines unfolded, values
  trimmed, one ``name:value\\n`` each.
- CanonicalizedResource: ``/bucket`` when the bucket is in the Host header,
  then the path exactly as sent (percent-encoding included), then the
  sub-resources of :data:`SUBRESOURCES` present in the query, sorted by name,
  with their values percent-decoded (``?acl&versionId=3``). Which query keys
  are sub-resources is S3's list, the one botocore's ``HmacV1Auth`` signs:
  the ``response-*`` overrides and ``delete`` included, ``prefix`` or
  ``max-keys`` not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from urllib.parse import unquote_to_bytes

from server.auth.sigv4_canonical import wire_bytes

# botocore.auth.HmacV1Auth.QSAOfInterest (tests/server/test_sigv2.py holds them equal).
SUBRESOURCES = frozenset(
    """accelerate acl cors defaultObjectAcl location logging partNumber policy
    requestPayment torrent versioning versionId versions website uploads uploadId
    response-content-type response-content-language response-expires
    response-cache-control response-content-disposition response-content-encoding
    delete lifecycle tagging restore storageClass notification replication analytics
    metrics inventory select select-type object-lock""".split()
)
_FOLD = re.compile(rb"[ \t]*\r?\n[ \t]*")


def canonical_amz_headers(headers: Iterable[tuple[str, str]]) -> bytes:
    """``name:value\\n`` for every ``x-amz-*`` header, sorted by lower-case name;
    values of a repeated name joined with ``,`` in the order received."""
    merged: dict[bytes, list[bytes]] = {}
    for name, value in headers:
        lower = name.lower()
        if lower.startswith("x-amz-"):
            unfolded = _FOLD.sub(b" ", wire_bytes(value)).strip()
            merged.setdefault(wire_bytes(lower), []).append(unfolded)
    return b"".join(name + b":" + b",".join(merged[name]) + b"\n" for name in sorted(merged))


def canonical_resource(path: bytes, query: str, host_bucket: str | None = None) -> bytes:
    """``[/bucket]`` + the path as sent + ``?`` and the signed sub-resources."""
    resource = (b"/" + wire_bytes(host_bucket) if host_bucket else b"") + (path or b"/")
    signed: list[tuple[bytes, bytes | None]] = []
    for item in wire_bytes(query).split(b"&"):
        name, eq, value = item.partition(b"=")
        if name.decode("latin-1") in SUBRESOURCES:
            signed.append((name, unquote_to_bytes(value) if eq else None))
    if not signed:
        return resource
    signed.sort(key=lambda pair: pair[0])  # stable: repeated names keep their order
    parts = (name if value is None else name + b"=" + value for name, value in signed)
    return resource + b"?" + b"&".join(parts)


def string_to_sign(
    method: str, content_md5: str, content_type: str, date: str, amz_headers: bytes, resource: bytes
) -> bytes:
    """The four positional lines, then the amz headers and the resource."""
    lines = [wire_bytes(method.upper()), *(wire_bytes(v.strip()) for v in (content_md5, content_type, date))]
    return b"\n".join(lines) + b"\n" + amz_headers + resource


def sign(secret: str, message: bytes) -> str:
    """base64(HMAC-SHA1(secret, message))."""
    return base64.b64encode(hmac.digest(secret.encode("utf-8"), message, hashlib.sha1)).decode("ascii")


def same_signature(expected: str, provided: str) -> bool:
    """Constant-time comparison of two base64 signatures."""
    return hmac.compare_digest(expected.encode("ascii"), provided.encode("utf-8", "replace"))


def spaced_hex(data: bytes) -> str:
    """``47 45 54 0a``: the form of S3's StringToSignBytes element."""
    return data.hex(" ")
