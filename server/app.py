"""The ASGI application: one catch-all endpoint and the one exception handler.

Every request goes through :func:`handle`: build the context, dispatch
(server/s3/dispatch.py), and turn any exception into S3's ``<Error>`` answer —
S3Error as is, engine exceptions through server/s3/errormap.py, anything else as
InternalError, logged with the request id. Every answer carries
``x-amz-request-id`` and ``x-amz-id-2``, and the answer to a cross-origin
request (one with an ``Origin``) the bucket's CORS headers when one of its rules
allows it, errors included (server/s3/cors.py); every request is counted in the
metrics and gets an access line (server/admin/observe.py).

Requests under ``/_fragstore/console`` are the web console's
(server/console/), answered by it when it is on; off, they reach dispatch like
any unknown reserved path (NotImplemented, after authentication). While the
console is on, an object answered with a content type a browser would run
(HTML, SVG, XML) carries ``Content-Security-Policy: sandbox``, since the
console shares the S3 endpoint's origin (server/console/guard.py).

The lifespan owns what lives as long as the server: the store (unless the
caller opened it), the background GC, lifecycle and savings-history schedules
(server/admin/gcloop.py, server/admin/lifecycleloop.py,
server/admin/history.py) and ``<data>/server.json`` (server/admin/runfile.py). On shutdown, after uvicorn has let
the requests in flight finish, it stops GC, removes server.json and closes
the store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from dedup.errors import EngineError
from dedup.store import Store
from server.admin import logs, runfile
from server.admin.config import ServerConfig
from server.admin.gcloop import GcRunner
from server.admin.history import HistoryRecorder
from server.admin.lifecycleloop import LifecycleRunner
from server.admin.metrics import Metrics
from server.admin.observe import Exchange
from server.admin.schedule import Schedule
from server.auth.credentials import Credentials
from server.auth.kms import load_kms_keys
from server.console.guard import BODY_READ, user_content_headers
from server.console.web import Console
from server.http.body import has_body
from server.http.responses import error_response, internal_error, new_request_id, request_id_headers
from server.s3 import cors
from server.s3.access_cache import BucketAccessCache
from server.s3.context import RequestContext
from server.s3.dispatch import HANDLERS, dispatch
from server.s3.errormap import to_s3_error
from server.s3.errors import S3Error
from server.s3.routing import CONSOLE, PREFLIGHT, route
from server.s3.routing import Route as Target

OPERATIONS = frozenset(HANDLERS) | {"Health", "Metrics", PREFLIGHT, CONSOLE}  # the operation labels of the metrics
log = logging.getLogger("fragstore.server")


def create_app(config: ServerConfig, credentials: Credentials, store: Store | None = None) -> FastAPI:
    """The fragstore S3 app. Without ``store`` it opens the data directory on
    startup and closes it on shutdown; a store given is the caller's to close."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = store or await Store.open(config.data_dir, config.store_config())
        app.state.store = opened
        app.state.gc = GcRunner(opened, app.state.metrics)
        app.state.lifecycle = LifecycleRunner(opened, app.state.metrics)
        app.state.history = HistoryRecorder(opened, app.state.metrics, config.data_dir)
        app.state.started = time.time()
        def lease() -> bool:  # background work: on one gateway of many (always, alone)
            return opened.lease("background")

        schedules = (Schedule(app.state.gc, config.gc_interval, "gc", lease),
                     Schedule(app.state.lifecycle, config.lifecycle_interval, "lifecycle", lease),
                     Schedule(app.state.history, config.history_interval, "history", lease))
        try:
            runfile.write(config)
            for schedule in schedules:
                schedule.start()
            yield
        finally:
            for schedule in schedules:
                await schedule.stop()
            runfile.remove(config)
            if store is None:
                await opened.close()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.config = config
    app.state.credentials = credentials
    app.state.kms = load_kms_keys(config.kms_keys_file)  # serve.py read it once already: it parses
    app.state.metrics = Metrics(OPERATIONS)
    app.state.console = Console(config) if config.console_enabled else None
    # another gateway may change a bucket's access documents: with a shared index, none is kept
    app.state.bucket_access = BucketAccessCache(0 if config.index else 1024)
    app.router.default = CatchAll()
    return app


class CatchAll:
    """The one route: the router's default, so every method and every path
    (newlines included, which Starlette's path patterns do not match) reaches
    :func:`handle`; S3 routing is server/s3/routing.py's job."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        metrics: Metrics = scope["app"].state.metrics
        exchange = Exchange(scope, new_request_id())
        token = logs.request_id.set(exchange.request_id)
        metrics.in_flight.inc()
        try:
            receive, send = exchange.receive(receive), exchange.send(send)
            response = await handle(Request(scope, receive, send), exchange)
            await response(scope, receive, send)
        finally:
            metrics.in_flight.dec()
            exchange.finish(metrics)
            logs.request_id.reset(token)


def request_headers(request: Request) -> dict[str, str]:
    """Lower-case names to Latin-1 values; a repeated header's values joined with ','."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in request.scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


def request_query(request: Request) -> dict[str, str]:
    """Decoded query parameters; the first value of a repeated key wins."""
    query: dict[str, str] = {}
    for name, value in parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True, encoding="utf-8"):
        query.setdefault(name, value)
    return query


async def handle(request: Request, exchange: Exchange) -> Response:
    request_id = exchange.request_id
    state = request.app.state
    headers = request_headers(request)
    target = Target("")
    ctx: RequestContext | None = None
    try:
        query = request_query(request)
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        target = route(request.method, raw_path.decode("latin-1"), query, headers, state.config.domain)
        exchange.operation = target.operation
        if target.operation == CONSOLE and state.console is not None:
            response = await state.console.respond(request, target, request_id)
            response.headers.update(request_id_headers(request_id))
            if has_body(headers) and not request.scope.get(BODY_READ):
                response.headers["Connection"] = "close"  # as below: an unread body ends the connection
            return response
        ctx = RequestContext(request, request_id, target, headers, query, state.store, state.config, state.credentials)
        response = await dispatch(ctx)
        if state.console is not None:
            response.headers.update(user_content_headers(target.operation, response.headers.get("content-type")))
    except Exception as exc:  # the one exception handler
        error = _as_s3_error(exc, target, request_id)
        response = error_response(error, method=request.method, resource=request.url.path, request_id=request_id)
    if ctx is not None and ctx.auth is not None:
        exchange.access_key = ctx.auth.access_key or None  # "" : anonymous
    response.headers.update(await _cors_headers(state.store, request.method, target, headers, request_id))
    response.headers.update(request_id_headers(request_id))
    if has_body(headers) and not (ctx is not None and ctx.body_received):
        # An unread body (e.g. refused before "100 Continue") would be taken for the
        # next request on this connection: close it instead.
        response.headers["Connection"] = "close"
    return response


async def _cors_headers(store: Store, method: str, target: Target, headers: Mapping[str, str], request_id: str) -> dict[str, str]:
    """The answer's CORS headers; a failed look-up is logged and adds none (the
    answer, perhaps an error already, stands)."""
    try:
        return await cors.response_headers(store, method, target, headers)
    except Exception as exc:
        log.error("request %s: CORS rules not read: %r", request_id, exc, exc_info=exc)
        return {}


def _as_s3_error(exc: Exception, target: Target, request_id: str) -> S3Error:
    if isinstance(exc, S3Error):
        return exc
    if isinstance(exc, EngineError):
        error = to_s3_error(exc, target.bucket, target.key)
        return internal_error(exc, request_id) if error.code == "InternalError" else error
    return internal_error(exc, request_id)
