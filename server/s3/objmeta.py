"""Object metadata between HTTP headers and :class:`dedup.types.ObjectMeta`.

Stored: ``x-amz-meta-*`` (user metadata, at most 2 KB, names lower-cased as S3
does), Content-Type, and the representation headers in STORED_HEADERS. Returned
on GET/HEAD with ETag, Last-Modified and the response-* overrides of GetObject.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping

from dedup.types import DEFAULT_CONTENT_TYPE, ObjectInfo, ObjectMeta
from server.http.dates import rfc1123
from server.s3 import lockparams
from server.s3.errors import S3Error
from server.s3.tags import from_header

META_PREFIX = "x-amz-meta-"
MAX_METADATA_BYTES = 2048
MAX_KEY_BYTES = 1024
STORED_HEADERS = (
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
)
# Kept in an upload's ObjectMeta.headers (not returned as object headers).
UPLOAD_CHECKSUM_ALGORITHM = "x-amz-checksum-algorithm"
UPLOAD_CHECKSUM_TYPE = "x-amz-checksum-type"
_RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
_BAD_FIELD_CHARS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]")
_HEADER_CASE = {name: "-".join(p.capitalize() for p in name.split("-")) for name in STORED_HEADERS}


def check_key(key: str) -> None:
    """KeyTooLongError for keys over 1024 UTF-8 bytes."""
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise S3Error("KeyTooLongError", extra={"MaxSizeAllowed": str(MAX_KEY_BYTES), "Size": str(len(key.encode("utf-8", "surrogatepass")))})


def meta_from_headers(headers: Mapping[str, str]) -> ObjectMeta:
    """The ObjectMeta a PUT, CreateMultipartUpload or REPLACE copy asks for."""
    metadata = {
        name[len(META_PREFIX):]: value
        for name, value in headers.items()
        if name.startswith(META_PREFIX)
    }
    size = sum(len(k) + len(v) for k, v in metadata.items())  # latin-1: 1 char = 1 byte
    if size > MAX_METADATA_BYTES:
        raise S3Error("MetadataTooLarge", extra={"MaxSizeAllowed": str(MAX_METADATA_BYTES), "Size": str(size)})
    stored = {name: headers[name] for name in STORED_HEADERS if name in headers}
    if "content-encoding" in stored:  # aws-chunked describes the request body, not the object
        kept = [e.strip() for e in stored["content-encoding"].split(",") if e.strip().lower() != "aws-chunked"]
        if kept:
            stored["content-encoding"] = ",".join(kept)
        else:
            del stored["content-encoding"]
    meta = ObjectMeta(
        content_type=headers.get("content-type") or DEFAULT_CONTENT_TYPE,
        metadata=metadata,
        headers=stored,
        tags=from_header(headers) or {},
    )
    return lockparams.from_headers(headers, meta, time.time())


def object_headers(
    info: ObjectInfo, overrides: Mapping[str, str] | None = None, *, checksums: bool = False
) -> dict[str, str]:
    """Response headers describing ``info`` (Content-Length is the caller's)."""
    meta = info.meta
    out = {
        "ETag": f'"{info.etag}"',
        "Last-Modified": rfc1123(info.last_modified),
        "Accept-Ranges": "bytes",
        "Content-Type": meta.content_type,
        **lockparams.response_headers(info),
    }
    for name, value in meta.headers.items():
        if name in _HEADER_CASE:
            out[_HEADER_CASE[name]] = value
    for name, value in meta.metadata.items():
        out[META_PREFIX + name] = value
    if checksums:
        out.update(checksum_headers(meta.checksums, with_type=True))
    for param, header in (overrides or {}).items():
        if param in _RESPONSE_OVERRIDES:
            out[_RESPONSE_OVERRIDES[param]] = _field_value(param, header)
    return out


def _field_value(param: str, value: str) -> str:
    """``value`` if it can be sent as an HTTP field value (RFC 9110: no control
    characters but HTAB, Latin-1 only); InvalidArgument otherwise."""
    if _BAD_FIELD_CHARS.search(value):
        raise S3Error("InvalidArgument", f"Invalid value for {param}",
                      extra={"ArgumentName": param, "ArgumentValue": value})
    return value


def checksum_headers(checksums: Mapping[str, str], *, with_type: bool = False) -> dict[str, str]:
    """``x-amz-checksum-<alg>`` for each stored checksum (+ ``x-amz-checksum-type``)."""
    out = {f"x-amz-checksum-{alg.lower()}": value for alg, value in checksums.items()}
    if with_type and checksums:
        out["x-amz-checksum-type"] = checksum_type(checksums)
    return out


def checksum_type(checksums: Mapping[str, str]) -> str:
    """COMPOSITE (a multipart ``<b64>-N`` value) or FULL_OBJECT."""
    return "COMPOSITE" if any("-" in value for value in checksums.values()) else "FULL_OBJECT"
