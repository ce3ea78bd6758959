"""Service-level operations: ListBuckets, and fragstore's own /_fragstore/ endpoints."""

from __future__ import annotations

import json
from dataclasses import asdict

from starlette.responses import Response

from dedup.types import StoreStats
from server.http.dates import iso8601
from server.http.responses import xml_response
from server.s3.context import RequestContext
from server.s3.xmlrender import Node


def owner_node(access_key: str, tag: str = "Owner") -> Node:
    return (tag, [("ID", access_key), ("DisplayName", access_key)])


async def list_buckets(ctx: RequestContext) -> Response:
    """ListBuckets: only the caller's own buckets."""
    buckets = [b for b in await ctx.store.list_buckets() if b.owner == ctx.access_key]
    prefix = ctx.query.get("prefix", "")
    nodes: list[Node] = [
        ("Bucket", [("Name", b.name), ("CreationDate", iso8601(b.created))])
        for b in buckets
        if b.name.startswith(prefix)
    ]
    return xml_response("ListAllMyBucketsResult", [owner_node(ctx.access_key), ("Buckets", nodes)])


def health() -> Response:
    """GET /_fragstore/health (no authentication)."""
    return Response(b'{"status":"ok"}', media_type="application/json")


def stats_document(stats: StoreStats, visible: set[str] | None) -> dict[str, object]:
    """Engine stats as JSON: totals with ratios, and the buckets in ``visible`` (None: all)."""
    total = {k: v for k, v in asdict(stats).items() if k != "buckets"}
    total.update(
        disk_bytes=stats.disk_bytes,
        dedup_ratio=stats.dedup_ratio,
        compression_ratio=stats.compression_ratio,
        total_ratio=stats.total_ratio,
    )
    buckets = [asdict(b) for b in stats.buckets if visible is None or b.name in visible]
    return {"total": total, "buckets": buckets}


async def stats(ctx: RequestContext) -> Response:
    """GET /_fragstore/stats: engine stats; per-bucket rows only for the caller's buckets
    (all of them for the root key). ``?exact=true`` asks for exact unique bytes per
    bucket. What the deleted object versions awaiting GC hold is always measured
    (a scan of their manifests; the metrics endpoint leaves it out)."""
    exact = ctx.query.get("exact", "").lower() in ("1", "true")
    result = await ctx.store.stats(exact=exact, dead=True)
    visible: set[str] | None = None
    if ctx.access_key != ctx.credentials.root_access_key:
        visible = {b.name for b in await ctx.store.list_buckets() if b.owner == ctx.access_key}
    body = json.dumps(stats_document(result, visible), indent=2).encode()
    return Response(body, media_type="application/json")
