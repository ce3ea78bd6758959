"""ListObjects (v1) and ListObjectsV2: one engine cursor walk, rendered two ways.
Owner is each version's owner (the bucket's unless another user wrote it
under ObjectWriter / BucketOwnerPreferred); v2 shows it with fetch-owner."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response

from dedup.types import ListPage
from server.http.dates import iso8601
from server.http.responses import xml_response
from server.s3.context import RequestContext
from server.s3.handlers.service import owner_node
from server.s3.listing_params import MAX_LIST, decode_token, encode_token, key_encoder
from server.s3.params import flag, int_param
from server.s3.xmlrender import Node


async def _page(ctx: RequestContext, after: str, max_keys: int) -> ListPage:
    if max_keys == 0:
        return ListPage((), (), False, None)
    return await ctx.store.list_objects(
        ctx.bucket,
        prefix=ctx.query.get("prefix", ""),
        delimiter=ctx.query.get("delimiter", ""),
        after=after,
        max_keys=max_keys,
    )


def _entries(page: ListPage, enc: Callable[[str], str], owner: Callable[[str], str] | None) -> list[Node]:
    nodes: list[Node] = []
    for entry in page.entries:
        children: list[Node] = [
            ("Key", enc(entry.key)),
            ("LastModified", iso8601(entry.last_modified)),
            ("ETag", f'"{entry.etag}"'),
            ("Size", entry.size),
        ]
        if owner is not None:
            children.append(owner_node(owner(entry.owner)))
        children.append(("StorageClass", "STANDARD"))
        nodes.append(("Contents", children))
    nodes.extend(("CommonPrefixes", [("Prefix", enc(p))]) for p in page.common_prefixes)
    return nodes


def _common(ctx: RequestContext, enc: Callable[[str], str], max_keys: int, *, encode_prefix: bool) -> list[Node]:
    """Name, Prefix, MaxKeys, Delimiter, EncodingType. ListObjects (v1) sends
    the top-level Prefix as given even with encoding-type=url (as S3 does, and
    as botocore expects: it decodes v1's Delimiter and Marker, not its Prefix)."""
    delimiter = ctx.query.get("delimiter")
    prefix = ctx.query.get("prefix", "")
    nodes: list[Node] = [
        ("Name", ctx.bucket),
        ("Prefix", enc(prefix) if encode_prefix else prefix),
        ("MaxKeys", max_keys),
    ]
    if delimiter:
        nodes.append(("Delimiter", enc(delimiter)))
    if "encoding-type" in ctx.query:
        nodes.append(("EncodingType", "url"))
    return nodes


async def list_objects(ctx: RequestContext) -> Response:
    """ListObjects (v1): ``marker``; NextMarker when truncated."""
    enc = key_encoder(ctx.query)
    max_keys = int_param(ctx.query, "max-keys", MAX_LIST, maximum=MAX_LIST)
    marker = ctx.query.get("marker", "")
    page = await _page(ctx, marker, max_keys)
    nodes = _common(ctx, enc, max_keys, encode_prefix=False)
    nodes += [("Marker", enc(marker)), ("IsTruncated", page.is_truncated)]
    if page.is_truncated and page.next_marker is not None:
        nodes.append(("NextMarker", enc(page.next_marker)))
    nodes += _entries(page, enc, ctx.authorized.version_owner)
    return xml_response("ListBucketResult", nodes)


async def list_objects_v2(ctx: RequestContext) -> Response:
    """ListObjectsV2: opaque continuation tokens, start-after, fetch-owner, KeyCount."""
    enc = key_encoder(ctx.query)
    max_keys = int_param(ctx.query, "max-keys", MAX_LIST, maximum=MAX_LIST)
    token = ctx.query.get("continuation-token")
    start_after = ctx.query.get("start-after", "")
    after = decode_token(token) if token else start_after
    page = await _page(ctx, after, max_keys)
    nodes = _common(ctx, enc, max_keys, encode_prefix=True)
    nodes += [
        ("KeyCount", len(page.entries) + len(page.common_prefixes)),
        ("IsTruncated", page.is_truncated),
        ("ContinuationToken", token),
        ("StartAfter", enc(start_after) if "start-after" in ctx.query else None),
    ]
    if page.is_truncated and page.next_marker is not None:
        nodes.append(("NextContinuationToken", encode_token(page.next_marker)))
    owner = ctx.authorized.version_owner if flag(ctx.query, "fetch-owner") else None
    nodes += _entries(page, enc, owner)
    return xml_response("ListBucketResult", nodes)
