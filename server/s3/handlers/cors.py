"""Bucket CORS: PutBucketCors, GetBucketCors, DeleteBucketCors, and the preflight (OPTIONS object).

The configuration is validated by server/s3/cors_config.py and kept as one of
the engine's bucket configuration documents. Like DeleteObjects, PutBucketCors
wants its body protected by Content-MD5 or an x-amz-checksum-* header (what
current SDKs send), and the document is limited to 64 KB. The preflight is
anonymous and evaluated by server/s3/cors.py.
"""

from __future__ import annotations

from starlette.responses import Response

from server.http.responses import empty_response, xml_response
from server.s3 import cors
from server.s3.context import RequestContext
from server.s3.cors_config import (
    CONFIG_NAME,
    MAX_DOCUMENT_BYTES,
    from_json,
    parse_cors,
    render,
    to_json,
)
from server.s3.errors import S3Error
from server.s3.integrity import read_protected_body


async def put_bucket_cors(ctx: RequestContext) -> Response:
    rules = parse_cors(await read_protected_body(ctx, limit=MAX_DOCUMENT_BYTES))
    await ctx.store.put_bucket_config(ctx.bucket, CONFIG_NAME, to_json(rules))
    return empty_response(200)


async def get_bucket_cors(ctx: RequestContext) -> Response:
    stored = await ctx.store.get_bucket_config(ctx.bucket, CONFIG_NAME)
    if stored is None:
        raise S3Error("NoSuchCORSConfiguration", extra={"BucketName": ctx.bucket})
    return xml_response("CORSConfiguration", render(from_json(stored)))


async def delete_bucket_cors(ctx: RequestContext) -> Response:
    """204 whether or not the bucket had a configuration."""
    await ctx.store.put_bucket_config(ctx.bucket, CONFIG_NAME, None)
    return empty_response(204)


async def options_object(ctx: RequestContext) -> Response:
    """The CORS preflight (no authentication): 200 with the Access-Control-* headers."""
    return empty_response(200, await cors.preflight(ctx.store, ctx.route, ctx.headers))
