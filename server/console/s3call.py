"""The console's S3 actions: internal requests through dispatch, as the logged-in user.

The console never calls the engine for a user's action, and never decides
what a user may do. :class:`S3Call` builds the request an S3 client would
send (method, path-style path, query, headers, body), routes it with the S3
routing function, and hands it to ``dispatch_as_session``
(server/s3/dispatch.py), which runs the same steps after authentication as
for a signed request: the operation's handler must exist, unsupported headers
are refused, the authorization decides (today: the caller owns the bucket;
with access control, the one authorization function), then the handler. So a
user sees and does in the console exactly what the S3 API lets that access
key see and do.

The internal request keeps the browser's scheme and client address (an
authorization function may look at them), is routed path-style only (a
``Host`` never names a bucket here), and gets its own request id, logged on
the ``fragstore.console`` logger with the user and the answer's status.
A body is bytes, or the browser's own request stream (uploads: nothing is
held in memory; the handler reads it as it would a client's).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode
from xml.etree.ElementTree import Element

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive

from dedup.errors import EngineError
from server.auth.session_caller import SessionCaller
from server.http.responses import StreamResponse, new_request_id
from server.s3.context import RequestContext
from server.s3.dispatch import dispatch_as_session
from server.s3.errormap import to_s3_error
from server.s3.errors import S3Error
from server.s3.routing import route
from server.s3.xmlparse import parse_xml

log = logging.getLogger("fragstore.console")


@dataclass(frozen=True)
class Answer:
    """A whole (small) answer of an internal request."""

    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def xml(self) -> Element:
        return parse_xml(self.body)

    def json(self) -> Any:
        return json.loads(self.body)


def _one_shot(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def object_path(bucket: str | None, key: str | None = None) -> str:
    """The path-style, percent-encoded path of a bucket or object."""
    if bucket is None:
        return "/"
    path = "/" + quote(bucket, safe="")
    return path if key is None else path + "/" + quote(key, safe="/")


class S3Call:
    """Internal requests for ``caller``, made while serving the console request ``outer``."""

    def __init__(self, outer: Request, caller: SessionCaller) -> None:
        self.outer = outer
        self.caller = caller

    async def response(
        self, method: str, bucket: str | None = None, key: str | None = None, *,
        query: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
        body: bytes = b"", stream: Receive | None = None, path: str | None = None,
    ) -> Response:
        """The handler's answer (a streaming one for a large GetObject); S3Error
        for a refused or failed request, engine errors mapped as for S3 clients."""
        query = dict(query or {})
        raw_path = path or object_path(bucket, key)
        hdrs = {k.lower(): v for k, v in (headers or {}).items()}
        hdrs.setdefault("host", self.outer.headers.get("host", "localhost"))
        if stream is None:
            hdrs["content-length"] = str(len(body))
            if body:  # as SDKs send it: some operations require it (PutBucketCors, lifecycle, DeleteObjects)
                hdrs.setdefault("content-md5", base64.b64encode(hashlib.md5(body).digest()).decode())
        receive = stream if stream is not None else _one_shot(body)
        outer = self.outer.scope
        scope = {
            "type": "http", "asgi": outer.get("asgi", {"version": "3.0"}), "http_version": "1.1",
            "method": method, "scheme": outer.get("scheme", "http"), "server": outer.get("server"),
            "client": outer.get("client"), "root_path": "", "path": raw_path, "raw_path": raw_path.encode("ascii"),
            "query_string": urlencode(query, quote_via=quote).encode("ascii"),
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in hdrs.items()],
            "app": outer["app"], "state": {}, "extensions": {},
        }
        request = Request(scope, receive)
        request_id = new_request_id()
        target = route(method, raw_path, query, hdrs, None)
        state = outer["app"].state
        ctx = RequestContext(request, request_id, target, hdrs, query, state.store, state.config, state.credentials)
        started = time.monotonic()
        try:
            answer = await dispatch_as_session(ctx, self.caller)
        except S3Error as exc:
            self._log(request_id, target.operation, bucket, key, exc.status, started)
            raise
        except EngineError as exc:
            error = to_s3_error(exc, target.bucket, target.key)
            self._log(request_id, target.operation, bucket, key, error.status, started)
            if error.code == "InternalError":
                raise
            raise error from exc
        self._log(request_id, target.operation, bucket, key, answer.status_code, started)
        return answer

    async def read(self, method: str, bucket: str | None = None, key: str | None = None, **kw: Any) -> Answer:
        """The whole answer of a request whose answer is small (XML, JSON, headers)."""
        answer = await self.response(method, bucket, key, **kw)
        if isinstance(answer, StreamResponse):
            await answer.aclose()
            raise TypeError(f"{method} {bucket}/{key}: a streaming answer cannot be read whole")
        body = bytes(answer.body)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in answer.raw_headers}
        return Answer(answer.status_code, headers, body)

    def _log(self, request_id: str, operation: str, bucket: str | None, key: str | None, status: int,
             started: float) -> None:
        log.info("console %s (session %s): %s %s%s -> %d in %.3fs [%s]", self.caller.access_key,
                 self.caller.session_tag, operation or "-", bucket or "", f"/{key!r}" if key is not None else "",
                 status, time.monotonic() - started, request_id)
