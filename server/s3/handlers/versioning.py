"""Bucket versioning: GetBucketVersioning, PutBucketVersioning, ListObjectVersions."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response

from dedup.types import VersionEntry
from server.http.dates import iso8601
from server.http.responses import empty_response, xml_response
from server.s3.context import RequestContext
from server.s3.errors import S3Error
from server.s3.handlers.service import owner_node
from server.s3.listing_params import MAX_LIST, key_encoder
from server.s3.params import int_param
from server.s3.xmlparse import parse_versioning
from server.s3.xmlrender import Node

STATES = ("Enabled", "Suspended")


async def get_bucket_versioning(ctx: RequestContext) -> Response:
    """A bucket never versioned answers an empty configuration, as S3 does."""
    state = await ctx.store.get_bucket_versioning(ctx.bucket)
    nodes: list[Node] = [("Status", state)] if state else []
    return xml_response("VersioningConfiguration", nodes)


async def put_bucket_versioning(ctx: RequestContext) -> Response:
    status, mfa_delete = parse_versioning(await ctx.read_body())
    if mfa_delete is not None and mfa_delete not in ("Enabled", "Disabled"):
        raise S3Error("MalformedXML")
    if mfa_delete == "Enabled" or "x-amz-mfa" in ctx.headers:
        raise S3Error("NotImplemented", "MFA Delete is not implemented.")
    if status not in STATES:
        raise S3Error("MalformedXML")
    await ctx.store.put_bucket_versioning(ctx.bucket, status)
    return empty_response(200)


def _entry(entry: VersionEntry, enc: Callable[[str], str], owner: Callable[[str], str]) -> Node:
    children: list[Node] = [
        ("Key", enc(entry.key)),
        ("VersionId", entry.version_id),
        ("IsLatest", entry.is_latest),
        ("LastModified", iso8601(entry.last_modified)),
    ]
    if entry.delete_marker:
        return ("DeleteMarker", [*children, owner_node(owner(entry.owner))])
    children += [("ETag", f'"{entry.etag}"'), ("Size", entry.size), ("StorageClass", "STANDARD"),
                 owner_node(owner(entry.owner))]
    return ("Version", children)


async def list_object_versions(ctx: RequestContext) -> Response:
    """ListObjectVersions: versions and delete markers in S3's order (key, then
    newest first), paged by key-marker / version-id-marker."""
    enc = key_encoder(ctx.query)
    max_keys = int_param(ctx.query, "max-keys", MAX_LIST, maximum=MAX_LIST)
    prefix, delimiter = ctx.query.get("prefix", ""), ctx.query.get("delimiter", "")
    key_marker = ctx.query.get("key-marker", "")
    version_marker = ctx.query.get("version-id-marker") or None
    if version_marker is not None and not key_marker:
        raise S3Error("InvalidArgument", "A version-id marker cannot be specified without a key marker.",
                      extra={"ArgumentName": "version-id-marker", "ArgumentValue": version_marker})
    page = await ctx.store.list_object_versions(
        ctx.bucket, prefix, delimiter, key_marker, version_marker, max_keys)
    nodes: list[Node] = [
        ("Name", ctx.bucket),
        ("Prefix", enc(prefix)),
        ("KeyMarker", enc(key_marker)),
        ("VersionIdMarker", version_marker or ""),
    ]
    if page.is_truncated:
        nodes.append(("NextKeyMarker", enc(page.next_key_marker or "")))
        if page.next_version_id_marker is not None:
            nodes.append(("NextVersionIdMarker", page.next_version_id_marker))
    nodes += [("MaxKeys", max_keys), ("Delimiter", enc(delimiter) if delimiter else None),
              ("IsTruncated", page.is_truncated)]
    if "encoding-type" in ctx.query:
        nodes.append(("EncodingType", "url"))
    nodes += [_entry(e, enc, ctx.authorized.version_owner) for e in page.entries]
    nodes += [("CommonPrefixes", [("Prefix", enc(p))]) for p in page.common_prefixes]
    return xml_response("ListVersionsResult", nodes)
