"""DeleteObjects: up to 1000 keys in one XML request, Quiet mode included.

S3 wants the body protected by Content-MD5 or (what current SDKs send) an
x-amz-checksum-* header or trailer; Payload verifies the latter, the MD5 is
checked here.
"""

from __future__ import annotations

import hashlib

from starlette.responses import Response

from server.context import RequestContext
from server.errors import S3Error
from server.objmeta import MAX_KEY_BYTES
from server.params import content_md5
from server.responses import xml_response
from server.xmlparse import parse_delete
from server.xmlrender import Node


def _require_integrity_header(ctx: RequestContext) -> None:
    names = ("content-md5", "x-amz-sdk-checksum-algorithm", "x-amz-trailer")
    if not any(n in ctx.headers for n in names) and not any(
        n.startswith("x-amz-checksum-") for n in ctx.headers
    ):
        raise S3Error("InvalidRequest", "Missing required header for this request: Content-MD5")


async def delete_objects(ctx: RequestContext) -> Response:
    _require_integrity_header(ctx)
    md5 = content_md5(ctx.headers)
    body = await ctx.read_body()
    if md5 is not None and hashlib.md5(body).digest() != md5:
        raise S3Error("BadDigest")
    quiet, keys = parse_delete(body)
    too_long = [k for k in keys if len(k.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES]
    rejected = set(too_long)
    valid = [k for k in keys if k not in rejected]
    results = await ctx.store.delete_objects(ctx.bucket, valid) if valid else []
    nodes: list[Node] = []
    if not quiet:
        nodes.extend(("Deleted", [("Key", key)]) for key, _deleted in results)
    nodes.extend(
        ("Error", [("Key", key), ("Code", "KeyTooLongError"), ("Message", "Your key is too long.")])
        for key in too_long
    )
    return xml_response("DeleteResult", nodes)
