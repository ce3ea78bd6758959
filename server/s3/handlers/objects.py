"""Object operations: PutObject, GetObject, HeadObject, DeleteObject (with
``versionId`` and the version headers of server/s3/versions.py)."""

from __future__ import annotations

from dataclasses import replace

from starlette.responses import Response

from dedup import errors as engine
from dedup.store import ObjectReader
from dedup.types import ByteRange, ObjectInfo
from server.http.ranges import content_range, parse_range
from server.http.responses import StreamResponse, empty_response
from server.http.upload import upload_body
from server.s3 import sse
from server.s3.conditions import check_read, delete_expectation, write_expectation
from server.s3.context import RequestContext
from server.s3.errors import S3Error
from server.s3.expiration import expiration_headers
from server.s3.lockparams import require_protected_body
from server.s3.objmeta import checksum_headers, meta_from_headers, object_headers
from server.s3.params import checksum_mode, part_number
from server.s3.tags import count_header
from server.s3.versions import delete_headers, version_headers, version_param

NEW_BYTES_HEADER = "x-fragstore-new-bytes"


async def put_object(ctx: RequestContext) -> Response:
    require_protected_body(ctx.headers)
    meta = ctx.authorized.new_version(meta_from_headers(ctx.headers))
    expect = write_expectation(ctx.headers)
    encryption = await sse.for_new(ctx)
    body = upload_body(ctx)
    result = await ctx.store.put_object(
        ctx.bucket, ctx.key, body.stream, replace(meta, checksums=body.checksums),
        content_md5=body.content_md5, expect=expect, encryption=encryption,
    )
    headers = {"ETag": f'"{result.info.etag}"', NEW_BYTES_HEADER: str(result.new_bytes)}
    headers.update(sse.response_headers(result.info.meta, sse.customer_of(encryption)))
    headers.update(checksum_headers(body.payload.checksums))
    headers.update(version_headers(result.info))
    headers.update(expiration_headers(ctx, result.info))
    return empty_response(200, headers)


def _read_request(ctx: RequestContext) -> tuple[ByteRange | None, int | None]:
    part = part_number(ctx.query)
    if part is not None and "range" in ctx.headers:
        raise S3Error("InvalidRequest", "Cannot specify both Range header and partNumber query parameter")
    return parse_range(ctx.headers.get("range")), part


async def _open(ctx: RequestContext, byte_range: ByteRange | None, part: int | None) -> ObjectReader:
    version = version_param(ctx.query)
    key = sse.read_key(ctx)
    if ctx.request.app.state.kms.keys:  # kms:Decrypt before a byte is decrypted (checked again once open)
        try:
            sse.may_read(ctx, (await ctx.store.head_object(ctx.bucket, ctx.key, version)).meta)
        except engine.EngineError:
            pass  # the open answers with its own error
    try:
        return await ctx.store.open_object(ctx.bucket, ctx.key, byte_range, part, version, customer_key=key)
    except engine.InvalidRange:
        check_read(ctx.headers, await ctx.store.head_object(ctx.bucket, ctx.key, version))
        raise
    except engine.InvalidPart:
        raise S3Error("InvalidPartNumber") from None


def _read_headers(
    ctx: RequestContext, info: ObjectInfo, start: int, length: int, part: int | None, partial: bool
) -> tuple[int, dict[str, str]]:
    """(status, headers) of a GET/HEAD answer for bytes [start, start+length)."""
    whole = not partial or (start == 0 and length == info.size)
    headers = object_headers(info, ctx.query, checksums=checksum_mode(ctx.headers) and whole)
    headers.update(version_headers(info))
    headers.update(count_header(info.meta.tags))
    headers.update(sse.response_headers(info.meta, sse.read_key(ctx)))
    headers["Content-Length"] = str(length)
    headers.update(expiration_headers(ctx, info))
    if part is not None:
        headers["x-amz-mp-parts-count"] = str(max(len(info.part_sizes), 1))
    if not partial:
        return 200, headers
    headers["Content-Range"] = content_range(start, length, info.size)
    return 206, headers


async def get_object(ctx: RequestContext) -> Response:
    """GetObject: conditions and range are settled before the first byte goes out."""
    byte_range, part = _read_request(ctx)
    reader = await _open(ctx, byte_range, part)
    try:
        sse.may_read(ctx, reader.info.meta)
        check_read(ctx.headers, reader.info)
        partial = byte_range is not None or (part is not None and len(reader.info.part_sizes) > 1)
        status, headers = _read_headers(ctx, reader.info, reader.start, reader.length, part, partial)
    except BaseException:
        await reader.aclose()
        raise
    whole = reader.whole()
    if whole is not None:  # a small object: one answer, no stream to watch
        return Response(whole, status_code=status, headers=headers)
    return StreamResponse(aiter(reader), close=reader.aclose, status=status, headers=headers,
                          request_id=ctx.request_id)


async def head_object(ctx: RequestContext) -> Response:
    info = await ctx.store.head_object(ctx.bucket, ctx.key, version_param(ctx.query))
    ctx.store.read_domain(info.meta, sse.read_key(ctx))  # an SSE-C object: HEAD too needs its key
    check_read(ctx.headers, info)
    part = part_number(ctx.query)
    if part is None or len(info.part_sizes) <= 1:
        if part is not None and part > 1:
            raise S3Error("InvalidPartNumber")
        status, headers = _read_headers(ctx, info, 0, info.size, part, False)
        return empty_response(status, headers)
    if part > len(info.part_sizes):
        raise S3Error("InvalidPartNumber")
    start = sum(info.part_sizes[: part - 1])
    status, headers = _read_headers(ctx, info, start, info.part_sizes[part - 1], part, True)
    return empty_response(status, headers)


async def delete_object(ctx: RequestContext) -> Response:
    result = await ctx.store.delete_object(
        ctx.bucket, ctx.key, version_param(ctx.query), expect=delete_expectation(ctx.headers),
        bypass=ctx.authorized.may_bypass)
    return empty_response(204, delete_headers(result))
