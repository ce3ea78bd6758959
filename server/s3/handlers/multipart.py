"""Multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
AbortMultipartUpload. (UploadPartCopy is in copy.py, the listings in
multipart_listing.py.)"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from starlette.responses import Response

from dedup import errors as engine
from dedup.types import ObjectInfo, PartInfo
from server.http.responses import empty_response, xml_response
from server.http.upload import upload_body
from server.s3 import multipart_checksums as mpc
from server.s3 import sse
from server.s3.conditions import write_expectation
from server.s3.context import RequestContext
from server.s3.expiration import expiration_headers
from server.s3.handlers.objects import NEW_BYTES_HEADER
from server.s3.objmeta import checksum_headers, checksum_type, meta_from_headers
from server.s3.params import part_number, upload_id
from server.s3.versions import version_headers
from server.s3.xmlparse import parse_complete_multipart
from server.s3.xmlrender import Node

MAX_PARTS_PAGE = 1000


async def create_multipart_upload(ctx: RequestContext) -> Response:
    checksum = mpc.from_create_headers(ctx.headers)
    meta = mpc.remember(ctx.authorized.new_version(meta_from_headers(ctx.headers)), checksum)
    encryption = await sse.for_new(ctx)
    upload = await ctx.store.create_multipart_upload(ctx.bucket, ctx.key, meta, encryption)
    nodes: list[Node] = [("Bucket", ctx.bucket), ("Key", ctx.key), ("UploadId", upload.upload_id)]
    headers = {**mpc.response_headers(checksum), **sse.response_headers(upload.meta, sse.customer_of(encryption))}
    return xml_response("InitiateMultipartUploadResult", nodes, headers=headers)


async def upload_part(ctx: RequestContext) -> Response:
    number = part_number(ctx.query, required=True)
    assert number is not None
    uid = upload_id(ctx.query)
    key = sse.read_key(ctx)
    upload = await ctx.store.get_upload(ctx.bucket, ctx.key, uid)
    sse.may_write(ctx, upload.meta)
    body = upload_body(ctx)
    part, new_bytes = await ctx.store.upload_part(
        ctx.bucket, ctx.key, uid, number, body.stream,
        content_md5=body.content_md5, checksums=body.checksums, customer_key=key,
    )
    headers = {"ETag": f'"{part.etag}"', NEW_BYTES_HEADER: str(new_bytes)}
    headers.update(sse.response_headers(upload.meta, key))
    headers.update(checksum_headers(body.payload.checksums))
    return empty_response(200, headers)


async def all_parts(ctx: RequestContext, uid: str) -> tuple[mpc.UploadChecksum, dict[int, PartInfo]]:
    """Every stored part of an upload (NoSuchUpload if there is no such upload)."""
    parts: dict[int, PartInfo] = {}
    marker = 0
    while True:
        page = await ctx.store.list_parts(ctx.bucket, ctx.key, uid, part_number_marker=marker,
                                          max_parts=MAX_PARTS_PAGE)
        parts.update((p.part_number, p) for p in page.parts)
        if not page.is_truncated:
            return mpc.of_upload(page.upload.meta), parts
        marker = page.next_marker


async def complete_multipart_upload(ctx: RequestContext) -> Response:
    """The object from the listed parts; a retry of a completion that already
    succeeded with the same parts gets the same answer (the engine remembers it)."""
    uid = upload_id(ctx.query)
    expect = write_expectation(ctx.headers)
    listed = parse_complete_multipart(await ctx.read_body(object_checksums=True))
    parts = [(p.part_number, p.etag) for p in listed]
    try:
        checksum, stored = await all_parts(ctx, uid)
    except engine.NoSuchUpload:
        info = await ctx.store.complete_multipart_upload(ctx.bucket, ctx.key, uid, parts, expect=expect)
        return _completed(ctx, info, info.meta.checksums)
    mpc.verify_listed(listed, stored)
    checksums = mpc.object_checksums(checksum, listed, stored, ctx.headers)
    info = await ctx.store.complete_multipart_upload(ctx.bucket, ctx.key, uid, parts, checksums=checksums, expect=expect)
    return _completed(ctx, info, checksums)


def _completed(ctx: RequestContext, info: ObjectInfo, checksums: Mapping[str, str]) -> Response:
    location = f"{ctx.request.url.scheme}://{ctx.headers.get('host', '')}/{ctx.bucket}/{quote(ctx.key)}"
    nodes: list[Node] = [("Location", location), ("Bucket", ctx.bucket), ("Key", ctx.key),
                         ("ETag", f'"{info.etag}"')]
    nodes += [(f"Checksum{alg}", value) for alg, value in checksums.items()]
    if checksums:
        nodes.append(("ChecksumType", checksum_type(checksums)))
    headers = {**version_headers(info), **expiration_headers(ctx, info),
               **sse.response_headers(info.meta, sse.read_key(ctx))}
    return xml_response("CompleteMultipartUploadResult", nodes, headers=headers)


async def abort_multipart_upload(ctx: RequestContext) -> Response:
    await ctx.store.abort_multipart_upload(ctx.bucket, ctx.key, upload_id(ctx.query))
    return empty_response(204)
