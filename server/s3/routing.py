"""Map a request (method, raw path, query, Host) to the AWS operation it names.

S3 cannot be routed by path alone: ``PUT /b/k`` is PutObject, ``PUT /b/k?tagging``
is PutObjectTagging and ``PUT /b/k`` with ``x-amz-copy-source`` is CopyObject.
:func:`route` is pure and is tested by a table of request examples
(tests/server/test_routing.py). It names every AWS operation, implemented or
not; dispatch answers NotImplemented for an operation without a handler
(server/s3/dispatch.py HANDLERS), after authentication. A query key that is
neither a known parameter nor a known sub-resource names the operation
``Other`` with ``error`` = ``NotImplemented``, so nothing unknown can ever act
as a plain PUT (and metrics and logs keep a bounded set of names).

The reserved prefix ``/_fragstore/`` names fragstore's own endpoints
(:data:`RESERVED`); any method under ``/_fragstore/console`` is the web
console's (:data:`CONSOLE`, answered by server/console/ when it is on).

``OPTIONS`` on a bucket or an object is a CORS preflight, AWS's "OPTIONS
object", named ``OptionsObject`` here (S3's access logs call it
REST.OPTIONS.PREFLIGHT); its query is not looked at, since a preflight may carry
the actual request's parameters. Dispatch answers it without authentication.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from server.s3.errors import S3Error
from server.s3.subresources import BUCKET_SUBRESOURCES, OBJECT_SUBRESOURCES, PARAMS, SPECIAL

RESERVED_PREFIX = "_fragstore"
METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS")
PREFLIGHT = "OptionsObject"  # the CORS preflight, answered before authentication


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
    if method == "OPTIONS":
        return Route(PREFLIGHT, bucket, key)
    if bucket is None:
        if method == "GET":
            return Route("ListBuckets")
        return Route("", error="MethodNotAllowed")
    named = _subresource(method, query, object_level=key is not None)
    if named is not None:
        return Route(named, bucket, key, error="NotImplemented" if named == OTHER else None)
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
    ("POST", "lifecycle"): "RunLifecycle",
    ("GET", "status"): "ServerStatus",
    ("GET", "history"): "StatsHistory",
    ("GET", "users"): "ListUsers",
    ("POST", "users"): "AddUser",
}
RESERVED_USER = {"DELETE": "RemoveUser", "POST": "RotateUserKey"}  # /_fragstore/users/KEY


CONSOLE = "Console"  # the web console's pages (server/console/), any method under /_fragstore/console


def _reserved(method: str, key: str | None) -> Route:
    if key is not None and (key == "console" or key.startswith("console/")):
        return Route(CONSOLE, key=key)
    operation = RESERVED.get((method, key or ""))
    if operation is None and (key or "").startswith("users/") and method in RESERVED_USER:
        return Route(RESERVED_USER[method], RESERVED_PREFIX, key)
    return Route(operation) if operation else Route("", error="NotImplemented")


OTHER = "Other"  # the operation of an unknown query key or sub-resource method


def _subresource(method: str, query: Mapping[str, str], *, object_level: bool) -> str | None:
    """The operation a sub-resource names (OTHER for an unknown one); None when
    the query holds only operation parameters."""
    table = OBJECT_SUBRESOURCES if object_level else BUCKET_SUBRESOURCES
    special = SPECIAL.get((object_level, method), frozenset())
    for name in query:
        if name in PARAMS or name in special or name.lower().startswith("x-amz-"):
            continue
        return table.get(name, {}).get(method, OTHER)
    return None


# The operations routed by method and path alone (the others are named by a
# sub-resource table, server/s3/subresources.py).
ROUTED = (
    "ListBuckets", "CreateBucket", "DeleteBucket", "HeadBucket", "GetBucketLocation", "ListObjects",
    "ListObjectsV2", "ListMultipartUploads", "DeleteObjects", "PostObject", "PutObject", "CopyObject",
    "GetObject", "HeadObject", "DeleteObject", "CreateMultipartUpload", "UploadPart", "UploadPartCopy",
    "CompleteMultipartUpload", "AbortMultipartUpload", "ListParts", PREFLIGHT,
)


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
