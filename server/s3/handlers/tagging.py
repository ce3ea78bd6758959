"""Tags: Get/Put/DeleteObjectTagging (any version) and Get/Put/DeleteBucketTagging.

Object tags live in the version's metadata (they change without a new
version, as in S3); bucket tags are the bucket's ``tagging`` document."""

from __future__ import annotations

import json
from dataclasses import replace

from starlette.responses import Response

from server.http.responses import empty_response, xml_response
from server.s3.context import RequestContext
from server.s3.errors import S3Error
from server.s3.tags import from_xml, tag_set
from server.s3.versions import version_headers, version_param

BUCKET_TAGS = "tagging"


async def get_object_tagging(ctx: RequestContext) -> Response:
    info = await ctx.store.head_object(ctx.bucket, ctx.key, version_param(ctx.query))
    return xml_response("Tagging", tag_set(info.meta.tags), headers=version_headers(info))


async def put_object_tagging(ctx: RequestContext) -> Response:
    tags = from_xml(await ctx.read_body())
    info = await ctx.store.update_object_meta(
        ctx.bucket, ctx.key, version_param(ctx.query), lambda meta: replace(meta, tags=tags))
    return empty_response(200, version_headers(info))


async def delete_object_tagging(ctx: RequestContext) -> Response:
    info = await ctx.store.update_object_meta(
        ctx.bucket, ctx.key, version_param(ctx.query), lambda meta: replace(meta, tags={}))
    return empty_response(204, version_headers(info))


async def get_bucket_tagging(ctx: RequestContext) -> Response:
    raw = await ctx.store.get_bucket_config(ctx.bucket, BUCKET_TAGS)
    if raw is None:
        raise S3Error("NoSuchTagSet", extra={"BucketName": ctx.bucket})
    return xml_response("Tagging", tag_set(json.loads(raw)))


async def put_bucket_tagging(ctx: RequestContext) -> Response:
    tags = from_xml(await ctx.read_body(), bucket=True)
    await ctx.store.put_bucket_config(ctx.bucket, BUCKET_TAGS, json.dumps(tags).encode())
    return empty_response(204)


async def delete_bucket_tagging(ctx: RequestContext) -> Response:
    await ctx.store.put_bucket_config(ctx.bucket, BUCKET_TAGS, None)
    return empty_response(204)
