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

gc, check and lifecycle are SigV4-authenticated and root only (dispatch's
authorization step refuses everyone else with AccessDenied). Errors are S3 XML, like everywhere else.
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Mapping
from dataclasses import asdict

from starlette.responses import Response

from server.admin.gcloop import GcRunner
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
