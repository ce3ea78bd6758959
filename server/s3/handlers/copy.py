"""CopyObject and UploadPartCopy.

CopyObject is the engine's zero-copy copy (the manifest is shared).
UploadPartCopy streams the source range through the engine's reader into
upload_part; dedup means no fragment is stored twice.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import replace

from starlette.responses import Response

from dedup import errors as engine
from dedup.store import ObjectReader
from dedup.types import ByteRange, ObjectMeta
from server.http.checksums import b64, new_hasher
from server.http.dates import iso8601
from server.http.ranges import parse_copy_source_range
from server.http.responses import xml_response
from server.s3 import lockparams, sse
from server.s3 import multipart_checksums as mpc
from server.s3.conditions import check_copy_source, write_expectation
from server.s3.context import RequestContext
from server.s3.copysource import SELF_COPY_CHANGES, parse_copy_source
from server.s3.errors import S3Error
from server.s3.expiration import expiration_headers
from server.s3.handlers.objects import NEW_BYTES_HEADER
from server.s3.objmeta import meta_from_headers
from server.s3.params import part_number, upload_id
from server.s3.tags import from_header
from server.s3.versions import version_headers
from server.s3.xmlrender import Node

_SELF_COPY = (
    "This copy request is illegal because it is trying to copy an object to itself without "
    "changing the object's metadata, storage class, website redirect location or encryption attributes."
)


def _source(ctx: RequestContext) -> tuple[str, str, str | None]:
    """The copy source (bucket, key, version id); dispatch checked the caller may read it."""
    return parse_copy_source(ctx.headers["x-amz-copy-source"])


def _directive(ctx: RequestContext, name: str) -> str:
    value = ctx.headers.get(name, "COPY").strip().upper()
    if value not in ("COPY", "REPLACE"):
        what = "metadata" if "metadata" in name else "tagging"
        raise S3Error("InvalidArgument", f"Unknown {what} directive.",
                      extra={"ArgumentName": name, "ArgumentValue": value})
    return value


def _new_meta(ctx: RequestContext, same_object: bool) -> Callable[[ObjectMeta], ObjectMeta]:
    """The copy's metadata from the source's. REPLACE takes the request's
    metadata (x-amz-metadata-directive) or tags (x-amz-tagging-directive);
    checksums describe the bytes, so they are always the source's. Owner and
    ACL are never copied: the copy is a new version of the caller's, with the
    ACL the request names (private by default), as in S3."""
    metadata = _directive(ctx, "x-amz-metadata-directive")
    tagging = _directive(ctx, "x-amz-tagging-directive")
    if metadata == "COPY" and same_object and not any(h in ctx.headers for h in SELF_COPY_CHANGES):
        raise S3Error("InvalidRequest", _SELF_COPY)
    tags = (from_header(ctx.headers) or {}) if tagging == "REPLACE" else None
    lock = lockparams.from_headers(ctx.headers, ObjectMeta(), time.time())  # a copy's own Object Lock settings
    request = meta_from_headers(ctx.headers) if metadata == "REPLACE" else None

    def change(source: ObjectMeta) -> ObjectMeta:
        base = source if request is None else replace(request, checksums=source.checksums)
        base = replace(base, lock_mode=lock.lock_mode, lock_until=lock.lock_until, legal_hold=lock.legal_hold)
        return ctx.authorized.new_version(replace(base, tags=source.tags if tags is None else tags))

    return change


async def copy_object(ctx: RequestContext) -> Response:
    src_bucket, src_key, src_version = _source(ctx)
    # restoring an older version onto its own key is a copy that changes something
    meta = _new_meta(ctx, (src_bucket, src_key) == (ctx.bucket, ctx.key) and src_version is None)
    encryption = await sse.for_new(ctx)
    if ctx.request.app.state.kms.keys:  # kms:Decrypt on an SSE-KMS source
        try:
            source_meta = (await ctx.store.head_object(src_bucket, src_key, src_version)).meta
        except engine.EngineError:
            source_meta = ObjectMeta()  # the copy answers with its own error
        sse.may_read(ctx, source_meta)
    source, info = await ctx.store.copy_object(
        src_bucket, src_key, ctx.bucket, ctx.key, meta, src_version_id=src_version,
        expect_source=lambda found: check_copy_source(ctx.headers, found), expect=write_expectation(ctx.headers),
        encryption=encryption, src_customer_key=sse.source_key(ctx),
    )
    nodes: list[Node] = [("LastModified", iso8601(info.last_modified)), ("ETag", f'"{info.etag}"')]
    nodes += [(f"Checksum{alg}", value) for alg, value in info.meta.checksums.items()]
    headers = {**version_headers(info), **expiration_headers(ctx, info),
               **sse.response_headers(info.meta, sse.customer_of(encryption))}
    if source.versioned:
        headers["x-amz-copy-source-version-id"] = source.version_id
    return xml_response("CopyObjectResult", nodes, headers=headers)


class _Hashing:
    """The reader's bytes, as bytes, while computing one checksum of them."""

    def __init__(self, body: AsyncIterable[memoryview], algorithm: str | None) -> None:
        self._body = body
        self.algorithm = algorithm
        self._hasher = new_hasher(algorithm) if algorithm else None
        self.checksums: dict[str, str] = {}

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for view in self._body:
            chunk = bytes(view)  # the engine takes bytes; one batch (<= 1 MiB) at a time
            if self._hasher is not None:
                self._hasher.update(chunk)
            yield chunk
        if self._hasher is not None and self.algorithm:
            self.checksums[self.algorithm] = b64(self._hasher.digest())


async def upload_part_copy(ctx: RequestContext) -> Response:
    number = part_number(ctx.query, required=True)
    assert number is not None
    uid = upload_id(ctx.query)
    src_bucket, src_key, src_version = _source(ctx)
    byte_range = parse_copy_source_range(ctx.headers.get("x-amz-copy-source-range"))
    page = await ctx.store.list_parts(ctx.bucket, ctx.key, uid, max_parts=1)
    algorithm = mpc.of_upload(page.upload.meta).algorithm
    key = sse.read_key(ctx)
    sse.may_write(ctx, page.upload.meta)
    reader = await _open_source(ctx, src_bucket, src_key, src_version, byte_range)
    try:
        sse.may_read(ctx, reader.info.meta)
        check_copy_source(ctx.headers, reader.info)
        body = _Hashing(reader, algorithm)
        part, new_bytes = await ctx.store.upload_part(
            ctx.bucket, ctx.key, uid, number, body.__aiter__(), checksums=body.checksums, customer_key=key)
    finally:
        await reader.aclose()
    nodes: list[Node] = [("LastModified", iso8601(part.last_modified)), ("ETag", f'"{part.etag}"')]
    nodes += [(f"Checksum{alg}", value) for alg, value in body.checksums.items()]
    headers = {NEW_BYTES_HEADER: str(new_bytes), **sse.response_headers(page.upload.meta, key)}
    if reader.info.versioned:
        headers["x-amz-copy-source-version-id"] = reader.info.version_id
    return xml_response("CopyPartResult", nodes, headers=headers)


async def _open_source(
    ctx: RequestContext, bucket: str, key: str, version: str | None, byte_range: ByteRange | None,
) -> ObjectReader:
    """The source bytes; the copy range must lie wholly inside the object."""
    try:
        reader = await ctx.store.open_object(bucket, key, byte_range, version_id=version,
                                             customer_key=sse.source_key(ctx))
    except engine.InvalidRange as exc:
        raise _bad_range(exc.size) from None
    if byte_range is not None and byte_range.end is not None and byte_range.end >= reader.info.size:
        await reader.aclose()
        raise _bad_range(reader.info.size)
    return reader


def _bad_range(size: int) -> S3Error:
    return S3Error("InvalidRange", f"The requested range is not satisfiable (source object of size {size})",
                   extra={"ActualObjectSize": str(size)})
