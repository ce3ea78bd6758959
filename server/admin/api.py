"""fragstore's own endpoints under the reserved prefix, beside health and stats
(server/s3/handlers/service.py):

    GET  /_fragstore/metrics                       Prometheus text; open unless a
                                                   metrics token is set (then
                                                   ``Authorization: Bearer TOKEN``)
    POST /_fragstore/gc[?dry-run=true][&grace=S]   garbage collection  -> JSON GcReport
                                                   and the grace_seconds applied
    POST /_fragstore/check[?repair=true][&verify=false]
                                                   verify fragments and refcounts
                                                   -> JSON CheckReport and "ok"
    POST /_fragstore/lifecycle                     carry out the buckets' lifecycle
                                                   rules now -> JSON LifecycleReport

    GET  /_fragstore/status                        health, version, disk, the last GC and
                                                   lifecycle runs -> JSON
    GET  /_fragstore/history                       the savings history (server/admin/history.py)
                                                   and a sample of now -> JSON
    GET, POST, DELETE /_fragstore/users[/KEY]      the users (server/admin/users_api.py)

Every one but health and metrics is authenticated (SigV4/SigV2 by dispatch, or a
console session: server/auth/session_caller.py) and root only: dispatch's
authorization step refuses everyone else with AccessDenied. Errors are S3
XML, like everywhere else.
"""

from __future__ import annotations

import hmac
import json
import math
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict
from importlib import metadata

from starlette.responses import Response

from server.admin.gcloop import GcRunner
from server.admin.history import HistoryRecorder
from server.admin.lifecycleloop import LifecycleRunner
from server.admin.metrics import CONTENT_TYPE, Metrics
from server.s3.context import RequestContext
from server.s3.errors import S3Error


async def metrics(ctx: RequestContext) -> Response:
    """GET /_fragstore/metrics (no SigV4; a bearer token when one is configured)."""
    token = ctx.config.metrics_token
    if token is not None:
        scheme, _, given = ctx.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise S3Error("AccessDenied", headers={"WWW-Authenticate": 'Bearer realm="fragstore metrics"'})
    registry: Metrics = ctx.request.app.state.metrics
    # bucket names are tenants' data: per-bucket series only behind a token
    body = await registry.exposition(ctx.store, per_bucket=token is not None)
    return Response(body, media_type=CONTENT_TYPE)


async def collect_garbage(ctx: RequestContext) -> Response:
    """POST /_fragstore/gc: run GC now (``dry-run``: report what it would free)."""
    dry_run = flag(ctx.query, "dry-run")
    grace = seconds(ctx.query, "grace")
    runner: GcRunner = ctx.request.app.state.gc
    report = await runner.run(trigger="admin", dry_run=dry_run, grace=grace)
    applied = ctx.store.config.manifest_grace_seconds if grace is None else grace
    return _json({**asdict(report), "grace_seconds": applied})


async def check(ctx: RequestContext) -> Response:
    """POST /_fragstore/check: verify fragments (unless ``verify=false``) and
    refcounts; ``repair=true`` fixes refcounts and the index first."""
    report = await ctx.store.check(repair=flag(ctx.query, "repair"), verify=flag(ctx.query, "verify", True))
    return _json({**asdict(report), "ok": report.ok})


async def run_lifecycle(ctx: RequestContext) -> Response:
    """POST /_fragstore/lifecycle: one lifecycle run now (as the schedule runs it)."""
    runner: LifecycleRunner = ctx.request.app.state.lifecycle
    report = await runner.run(trigger="admin")
    return _json({**asdict(report), "actions": dict(report.actions)})


async def server_status(ctx: RequestContext) -> Response:
    """GET /_fragstore/status: what an operator checks first."""
    state = ctx.request.app.state
    config = ctx.config
    stats = await ctx.store.stats()
    disk = shutil.disk_usage(config.data_dir)
    gc_runner: GcRunner = state.gc
    lifecycle_runner: LifecycleRunner = state.lifecycle
    return _json({
        "health": "ok",
        "version": _version(),
        "started": state.started,
        "uptime_seconds": time.time() - state.started,
        "data_dir": str(config.data_dir),
        "disk": {"total_bytes": disk.total, "used_bytes": disk.used, "free_bytes": disk.free},
        "store": {"objects": stats.objects, "buckets": len(stats.buckets), "logical_bytes": stats.logical_bytes,
                  "unique_bytes": stats.unique_bytes, "stored_bytes": stats.stored_bytes,
                  "disk_bytes": stats.disk_bytes, "pack_bytes": stats.pack_bytes, "index_bytes": stats.index_bytes,
                  "fragments": stats.fragments, "packs": stats.packs, "dead_manifests": stats.dead_manifests,
                  "uploads": stats.uploads},
        "gc": {"interval_seconds": config.gc_interval, "grace_seconds": config.gc_grace,
               "runs": list(gc_runner.runs.recent)},
        "lifecycle": {"interval_seconds": config.lifecycle_interval, "runs": list(lifecycle_runner.runs.recent)},
        "history": {"interval_seconds": config.history_interval},
    })


def _version() -> str:
    try:
        return metadata.version("fragstore")
    except metadata.PackageNotFoundError:
        return "unknown"


async def stats_history(ctx: RequestContext) -> Response:
    """GET /_fragstore/history: the days recorded and a sample of now."""
    recorder: HistoryRecorder = ctx.request.app.state.history
    days, now = await recorder.preview()
    return _json({"interval_seconds": ctx.config.history_interval, "days": days, "now": now})


def flag(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    """``name`` alone, ``true`` or ``1`` is true; ``false`` or ``0`` false."""
    if name not in query:
        return default
    value = query[name].lower()
    if value in ("", "true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise S3Error("InvalidArgument", f"{name} must be true or false.",
                  extra={"ArgumentName": name, "ArgumentValue": query[name]})


def seconds(query: Mapping[str, str], name: str) -> float | None:
    if name not in query:
        return None
    try:
        value = float(query[name])
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise S3Error("InvalidArgument", f"{name} must be a number of seconds, 0 or more.",
                      extra={"ArgumentName": name, "ArgumentValue": query[name]})
    return value


def _json(doc: object) -> Response:
    return Response(json.dumps(doc, indent=2).encode(), media_type="application/json")
