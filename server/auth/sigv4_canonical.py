"""SigV4 building blocks: canonical request, string to sign, signing key, and the
chained signatures of aws-chunked bodies. Pure functions over bytes.

The canonical request is built from the bytes the client sent. Header values and
paths arrive as ``str`` decoded as Latin-1 (what ASGI servers do), so
:func:`wire_bytes` turns them back into the octets on the wire; any other
non-ASCII ``str`` is taken as UTF-8.

S3's canonical URI is the path *not* normalised (``//`` and ``..`` stay) with each
segment URI-encoded once, the form botocore's ``S3SigV4Auth`` signs.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import quote_from_bytes, unquote_to_bytes

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_SAFE = b"-_.~"  # with A-Z a-z 0-9: the characters AWS leaves unencoded


def wire_bytes(text: str) -> bytes:
    """The octets behind a header value or path received as text."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def uri_encode(raw: bytes) -> bytes:
    """AWS's UriEncode: every octet but A-Z a-z 0-9 - _ . ~ as %XX (upper-case hex)."""
    return quote_from_bytes(raw, safe=_SAFE).encode("ascii")


def canonical_path(path: str) -> bytes:
    """Each ``/``-separated segment decoded once and re-encoded per AWS (S3 form)."""
    if not path:
        return b"/"
    return b"/".join(uri_encode(unquote_to_bytes(seg)) for seg in wire_bytes(path).split(b"/"))


def raw_path(path: str) -> bytes:
    """The path exactly as sent, which is what a client that pre-encodes signs."""
    return wire_bytes(path) or b"/"


def query_pairs(query: str) -> list[tuple[bytes, bytes]]:
    """``name=value`` pairs of a raw query string, still percent-encoded, empty ones dropped."""
    pairs = []
    for item in wire_bytes(query).split(b"&"):
        if item:
            name, _, value = item.partition(b"=")
            pairs.append((name, value))
    return pairs


def canonical_query(
    pairs: Sequence[tuple[bytes, bytes]], *, reencode: bool = True, plus_is_space: bool = False
) -> bytes:
    """Pairs sorted by encoded name then value. ``reencode`` decodes and encodes each
    per AWS (``plus_is_space``: decoding ``+`` as a space, as HTML forms do);
    otherwise they are taken as already encoded (botocore's own form)."""
    if reencode:
        pairs = [(_reencode(n, plus_is_space), _reencode(v, plus_is_space)) for n, v in pairs]
    return b"&".join(n + b"=" + v for n, v in sorted(pairs))


def _reencode(raw: bytes, plus_is_space: bool) -> bytes:
    return uri_encode(unquote_to_bytes(raw.replace(b"+", b" ") if plus_is_space else raw))


def canonical_headers(headers: Mapping[str, str], signed: Sequence[str]) -> bytes:
    """``name:value\\n`` for each signed header, values trimmed and inner runs of
    whitespace collapsed to one space. A signed header that is absent signs as empty."""
    lines = []
    for name in signed:
        value = b" ".join(wire_bytes(headers.get(name.lower(), "")).split())
        lines.append(wire_bytes(name) + b":" + value + b"\n")
    return b"".join(lines)


def canonical_request(
    method: str, path: bytes, query: bytes, headers: bytes, signed: Sequence[str], payload_hash: str
) -> bytes:
    """The six-line canonical request (``headers`` already ends with a newline)."""
    return b"\n".join(
        [
            wire_bytes(method.upper()),
            path,
            query,
            headers,
            wire_bytes(";".join(signed)),
            wire_bytes(payload_hash),
        ]
    )


def string_to_sign(amz_date: str, scope: str, canonical: bytes) -> bytes:
    """``AWS4-HMAC-SHA256 / date / scope / hex(sha256(canonical request))``."""
    digest = hashlib.sha256(canonical).hexdigest()
    return wire_bytes(f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}")


@functools.lru_cache(maxsize=1024)
def signing_key(access_key: str, secret: str, date: str, region: str, service: str = "s3") -> bytes:
    """kSigning for (key, date, region), cached: four HMACs otherwise on every request.
    The access key is part of the cache key so rotating a secret takes effect at once."""
    del access_key  # only distinguishes cache entries
    key = hmac.digest(("AWS4" + secret).encode("utf-8"), date.encode("ascii"), "sha256")
    for part in (region, service, "aws4_request"):
        key = hmac.digest(key, part.encode("utf-8"), "sha256")
    return key


def sign(key: bytes, message: bytes) -> str:
    """Hex HMAC-SHA256."""
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def same_signature(expected: str, provided: str) -> bool:
    """Constant-time comparison of two hex signatures."""
    return hmac.compare_digest(expected.encode("ascii"), provided.encode("utf-8", "replace"))


def chunk_string_to_sign(amz_date: str, scope: str, previous: str, chunk_sha256_hex: str) -> bytes:
    """The string to sign for one aws-chunked chunk (``AWS4-HMAC-SHA256-PAYLOAD``)."""
    return (
        f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{previous}\n"
        f"{EMPTY_SHA256}\n{chunk_sha256_hex}"
    ).encode("ascii")


def trailer_string_to_sign(amz_date: str, scope: str, previous: str, trailer: bytes) -> bytes:
    """The string to sign for the trailer (``AWS4-HMAC-SHA256-TRAILER``); ``trailer`` is
    the canonical trailer, ``name:value\\n`` per trailing header."""
    digest = hashlib.sha256(trailer).hexdigest()
    return f"AWS4-HMAC-SHA256-TRAILER\n{amz_date}\n{scope}\n{previous}\n{digest}".encode("ascii")
