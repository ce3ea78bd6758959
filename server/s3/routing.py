"""Map a request (method, raw path, query, Host) to the AWS operation it names.

S3 cannot be routed by path alone: ``PUT /b/k`` is PutObject, ``PUT /b/k?tagging``
is PutObjectTagging and ``PUT /b/k`` with ``x-amz-copy-source`` is CopyObject.
:func:`route` is pure and is tested by a table of request examples
(tests/server/test_routing.py). Operations fragstore does not implement are still
named (so logs and tests can say what was asked) and carry ``error`` =
``NotImplemented``; dispatch raises it after authentication. Any query key that
is neither a known parameter nor a known sub-resource is refused the same way, so
nothing unknown can ever act as a plain PUT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from server.s3.errors import S3Error
from server.s3.subresources import BUCKET_SUBRESOURCES, HANDLED, OBJECT_SUBRESOURCES, PARAMS

RESERVED_PREFIX = "_fragstore"
METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")


@dataclass(frozen=True)
class Route:
    """Where a request goes. ``error`` is an S3 code to answer instead
    (NotImplemented, MethodNotAllowed) once the caller is authenticated."""

    operation: str
    bucket: str | None = None
    key: str | None = None
    error: str | None = None


def split_target(raw_path: str, host: str, domain: str | None) -> tuple[str | None, str | None]:
    """(bucket, key) from the percent-encoded path and the Host header."""
    path = raw_path[1:] if raw_path.startswith("/") else raw_path
    vhost = virtual_host_bucket(host, domain)
    if vhost is not None:
        return vhost, (_decode(path) if path else None)
    if not path:
        return None, None
    bucket, _, key = path.partition("/")
    return _decode(bucket), (_decode(key) if key else None)


def virtual_host_bucket(host: str, domain: str | None) -> str | None:
    """The bucket a virtual-hosted request names in its Host header (``bucket.DOMAIN``)."""
    if not domain:
        return None
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    suffix = "." + domain.lower()
    if name.lower().endswith(suffix) and len(name) > len(suffix):
        return name[: -len(suffix)]
    return None


def _decode(part: str) -> str:
    try:
        return unquote(part, errors="strict")
    except UnicodeDecodeError:
        raise S3Error("InvalidURI") from None  # as S3 answers a key that is not UTF-8


def route(
    method: str, raw_path: str, query: Mapping[str, str], headers: Mapping[str, str],
    domain: str | None = None,
) -> Route:
    """Name the operation a request asks for (AWS operation names verbatim)."""
    bucket, key = split_target(raw_path, headers.get("host", ""), domain)
    if bucket == RESERVED_PREFIX:
        return _reserved(method, key)
    if method not in METHODS:
        return Route("", bucket, key, error="MethodNotAllowed")
    if bucket is None:
        if method == "GET":
            return Route("ListBuckets")
        return Route("", error="MethodNotAllowed")
    unknown = _unknown_subresource(method, query, object_level=key is not None)
    if unknown is not None:
        return Route(unknown, bucket, key, error="NotImplemented")
    if key is None:
        operation = _bucket_operation(method, query)
    else:
        operation = _object_operation(method, query, headers)
    error = "NotImplemented" if operation == "PostObject" and key is not None else None  # forms post to the bucket
    return Route(operation, bucket, key, error=error)


RESERVED: dict[tuple[str, str], str] = {
    ("GET", "health"): "Health",
    ("GET", "stats"): "Stats",
    ("GET", "metrics"): "Metrics",
    ("POST", "gc"): "CollectGarbage",
    ("POST", "check"): "Check",
}


def _reserved(method: str, key: str | None) -> Route:
    operation = RESERVED.get((method, key or ""))
    return Route(operation) if operation else Route("", error="NotImplemented")


def _unknown_subresource(method: str, query: Mapping[str, str], *, object_level: bool) -> str | None:
    table = OBJECT_SUBRESOURCES if object_level else BUCKET_SUBRESOURCES
    for name in query:
        handled = HANDLED.get((object_level, method), frozenset())
        if name in PARAMS or name in handled or name.lower().startswith("x-amz-"):
            continue
        return table.get(name, {}).get(method, f"{method.title()}{_camel(name)}")
    version = query.get("versionId")
    if version is not None and version != "null":
        return "GetObjectVersion" if method in ("GET", "HEAD") else f"{method.title()}ObjectVersion"
    return None


def _camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.replace("_", "-").split("-"))


def _bucket_operation(method: str, query: Mapping[str, str]) -> str:
    if method == "GET":
        if "location" in query:
            return "GetBucketLocation"
        if "uploads" in query:
            return "ListMultipartUploads"
        return "ListObjectsV2" if query.get("list-type") == "2" else "ListObjects"
    if method == "POST":
        return "DeleteObjects" if "delete" in query else "PostObject"
    return {"HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}[method]


def _object_operation(method: str, query: Mapping[str, str], headers: Mapping[str, str]) -> str:
    upload = "uploadId" in query
    if method == "PUT":
        copy = "x-amz-copy-source" in headers
        if upload or "partNumber" in query:
            return "UploadPartCopy" if copy else "UploadPart"
        return "CopyObject" if copy else "PutObject"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        return "CompleteMultipartUpload" if upload else "PostObject"
    if method == "GET":
        return "ListParts" if upload else "GetObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if upload else "DeleteObject"
    return "HeadObject"
