"""Object Lock: Put/GetObjectLockConfiguration, Put/GetObjectRetention,
Put/GetObjectLegalHold (the rules themselves: dedup/locks.py)."""

from __future__ import annotations

import time
from dataclasses import replace

from starlette.responses import Response

from dedup import locks
from server.http.responses import empty_response, xml_response
from server.s3.context import RequestContext
from server.s3.errors import S3Error
from server.s3.integrity import read_protected_body
from server.s3.lockparams import (
    lock_configuration_nodes,
    parse_legal_hold,
    parse_lock_configuration,
    parse_retention,
    retention_nodes,
)
from server.s3.versions import version_headers, version_param


async def put_object_lock_configuration(ctx: RequestContext) -> Response:
    default = parse_lock_configuration(await read_protected_body(ctx))
    await ctx.store.put_object_lock(ctx.bucket, default)
    return empty_response(200)


async def get_object_lock_configuration(ctx: RequestContext) -> Response:
    enabled, default = await ctx.store.get_object_lock(ctx.bucket)
    if not enabled:
        raise S3Error("ObjectLockConfigurationNotFoundError", extra={"BucketName": ctx.bucket})
    return xml_response("ObjectLockConfiguration", lock_configuration_nodes(default))


async def put_object_retention(ctx: RequestContext) -> Response:
    mode, until = parse_retention(await read_protected_body(ctx))
    now, may_bypass = time.time(), ctx.authorized.may_bypass
    if mode and until <= now:
        raise S3Error("InvalidArgument", "The retain until date must be in the future!")
    info = await ctx.store.update_object_meta(
        ctx.bucket, ctx.key, version_param(ctx.query),
        lambda meta: locks.change_retention(meta, mode, until, now, may_bypass), lock=True)
    return empty_response(200, version_headers(info))


async def get_object_retention(ctx: RequestContext) -> Response:
    info = await ctx.store.head_object(ctx.bucket, ctx.key, version_param(ctx.query))
    if not info.meta.lock_mode:
        raise S3Error("NoSuchObjectLockConfiguration")
    return xml_response("Retention", retention_nodes(info.meta), headers=version_headers(info))


async def put_object_legal_hold(ctx: RequestContext) -> Response:
    on = parse_legal_hold(await read_protected_body(ctx))
    info = await ctx.store.update_object_meta(
        ctx.bucket, ctx.key, version_param(ctx.query), lambda meta: replace(meta, legal_hold=on), lock=True)
    return empty_response(200, version_headers(info))


async def get_object_legal_hold(ctx: RequestContext) -> Response:
    info = await ctx.store.head_object(ctx.bucket, ctx.key, version_param(ctx.query))
    enabled, _ = await ctx.store.get_object_lock(ctx.bucket)
    if not enabled:
        raise S3Error("InvalidRequest", "Bucket is missing Object Lock Configuration")
    return xml_response("LegalHold", [("Status", "ON" if info.meta.legal_hold else "OFF")],
                        headers=version_headers(info))
