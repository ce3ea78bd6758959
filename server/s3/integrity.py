"""Request bodies S3 wants protected: DeleteObjects, PutBucketCors and
PutBucketLifecycleConfiguration must carry Content-MD5 or (what current SDKs
send) an x-amz-checksum-* header or trailer. The payload layer verifies a
checksum (server/http/payload.py); the MD5 is checked here."""

from __future__ import annotations

import hashlib

from server.s3.context import RequestContext
from server.s3.errors import S3Error
from server.s3.params import content_md5

_NAMES = ("content-md5", "x-amz-sdk-checksum-algorithm", "x-amz-trailer")


async def read_protected_body(ctx: RequestContext, limit: int | None = None) -> bytes:
    """The whole (small, XML) body, once its integrity header is there and holds."""
    if not any(n in ctx.headers for n in _NAMES) and not any(n.startswith("x-amz-checksum-") for n in ctx.headers):
        raise S3Error("InvalidRequest", "Missing required header for this request: Content-MD5")
    md5 = content_md5(ctx.headers)
    body = await (ctx.read_body() if limit is None else ctx.read_body(limit=limit))
    if md5 is not None and hashlib.md5(body).digest() != md5:
        raise S3Error("BadDigest")
    return body


async def read_checked_body(ctx: RequestContext) -> bytes:
    """The whole (small, XML) body; its Content-MD5 checked when it has one."""
    md5 = content_md5(ctx.headers)
    body = await ctx.read_body()
    if md5 is not None and hashlib.md5(body).digest() != md5:
        raise S3Error("BadDigest")
    return body
