"""Service-level operations: ListBuckets, and fragstore's own /_fragstore/ endpoints."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict

from starlette.responses import Response

from dedup.store import Store
from dedup.types import StoreStats
from server.http.dates import iso8601
from server.http.responses import xml_response
from server.s3.acl_xml import owner_node
from server.s3.context import RequestContext
from server.s3.errors import S3Error
from server.s3.listing_params import decode_token, encode_token
from server.s3.params import int_param
from server.s3.xmlrender import Node

MAX_BUCKETS = 10000


async def list_buckets(ctx: RequestContext) -> Response:
    """ListBuckets: only the caller's own buckets, by name; ``prefix``,
    ``bucket-region``, and pages of ``max-buckets`` continued by an opaque token."""
    prefix = ctx.query.get("prefix", "")
    region = ctx.query.get("bucket-region")
    paged = "max-buckets" in ctx.query or "continuation-token" in ctx.query
    limit = int_param(ctx.query, "max-buckets", MAX_BUCKETS)
    if not 1 <= limit <= MAX_BUCKETS:
        raise S3Error("InvalidArgument", "Argument max-buckets must be an integer between 1 and 10000.",
                      extra={"ArgumentName": "max-buckets", "ArgumentValue": str(limit)})
    token = ctx.query.get("continuation-token")
    after = decode_token(token) if token else ""
    buckets = sorted(
        (b for b in await ctx.store.list_buckets()
         if b.owner == ctx.access_key and b.name.startswith(prefix) and b.name > after
         and region in (None, ctx.config.region)),
        key=lambda b: b.name,
    )
    page = buckets[:limit]
    nodes: list[Node] = [
        owner_node(ctx.access_key),
        ("Buckets", [("Bucket", [("Name", b.name), ("CreationDate", iso8601(b.created)),
                                 ("BucketRegion", ctx.config.region)]) for b in page]),
    ]
    if paged and len(buckets) > limit:
        nodes.append(("ContinuationToken", encode_token(page[-1].name)))
    if "prefix" in ctx.query:
        nodes.append(("Prefix", prefix))
    return xml_response("ListAllMyBucketsResult", nodes)


async def health(store: Store) -> Response:
    """GET /_fragstore/health (no authentication): ok, with the index's state
    (backend, reachable, latency; with a shared index, which gateway answers)
    and the pack store's (S3 packs: whether the bucket answers a HEAD now);
    503 when either cannot be used."""
    index = await store.index_health()
    packs = await asyncio.to_thread(store.packs.describe)
    ok = bool(index["ok"]) and packs.get("status") == "ok"
    body = {"status": "ok" if ok else "unavailable", "index": index, "packs": packs}
    return Response(json.dumps(body, separators=(",", ":")).encode(), status_code=200 if ok else 503,
                    media_type="application/json")


def stats_document(stats: StoreStats, visible: set[str] | None) -> dict[str, object]:
    """Engine stats as JSON: totals with ratios, and the buckets in ``visible`` (None: all)."""
    total = {k: v for k, v in asdict(stats).items() if k != "buckets"}
    total.update(
        disk_bytes=stats.disk_bytes,
        dedup_ratio=stats.dedup_ratio,
        compression_ratio=stats.compression_ratio,
        total_ratio=stats.total_ratio,
        saved_by=stats.saved_by,
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
