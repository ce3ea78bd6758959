"""Limits on the request, which uvicorn's httptools protocol lacks, answered as S3 does.

- :func:`check_header_section`, called by dispatch for every request: the
  header fields (names and values) at most :data:`MAX_HEADER_SECTION` bytes,
  else ``RequestHeaderSectionTooLarge`` (400). S3 itself refuses header
  sections over 8 KB; the margin leaves room for what proxies add.
- :class:`LimitedHttpToolsProtocol`, the protocol class for
  ``uvicorn.Config(http=...)``:

  - it counts the bytes of a request's head (request line and headers) as they
    arrive and, past :data:`MAX_HEAD_BYTES`, answers
    ``RequestHeaderSectionTooLarge`` and closes the connection instead of
    buffering on (without it a client could make the server hold a header of
    any size in memory);
  - a request the parser rejects (broken request line, header syntax, framing)
    gets S3's ``BadRequest`` XML instead of uvicorn's plain text;
  - a client silent for ``idle_timeout`` seconds (server/admin/settings.py) in the
    middle of a request gets S3's ``RequestTimeout`` (400) and the connection
    is closed: in the head, the protocol answers itself; in the body,
    :class:`BodyIdleTimeout` makes the app's ``receive()`` raise the S3Error,
    so the handler stores nothing and the one error renderer answers (with
    the request id). A connection that never starts a request is closed;
  - a connection closed while its request is unfinished (the app answered
    before it read the whole body: a refused signature, a missing bucket)
    is closed with a "lingering close" (server/http/linger.py), so that the
    client, still sending, reads the answer instead of a reset. A request
    answered before its body is done is the connection's last: its leftover
    body is drained and dropped, never parsed as a next request.

Every answer written here, outside the app, closes the connection with a
lingering close too (see :meth:`LimitedHttpToolsProtocol._refuse`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.admin.config import ServerConfig
from server.http.linger import LingeringTransport
from server.http.responses import new_request_id, request_id_headers
from server.s3.errors import S3Error
from server.s3.xmlrender import document

MAX_HEADER_SECTION = 16 * 1024
MAX_HEAD_BYTES = 64 * 1024  # request line (long presigned URLs) and headers


def check_header_section(headers: Iterable[tuple[bytes, bytes]]) -> None:
    """RequestHeaderSectionTooLarge when the header fields exceed the limit."""
    size = sum(len(name) + len(value) + 4 for name, value in headers)  # "name: value\r\n"
    if size > MAX_HEADER_SECTION:
        raise S3Error("RequestHeaderSectionTooLarge", extra={"MaxSizeAllowed": str(MAX_HEADER_SECTION)})


def error_answer(error: S3Error) -> bytes:
    """A whole HTTP answer carrying ``error`` as S3's ``<Error>`` XML with a fresh request
    id, closing the connection (for the protocol, which answers before the app sees a request)."""
    request_id = new_request_id()
    body = document("Error", [("Code", error.code), ("Message", error.message), *error.extra.items(),
                              ("RequestId", request_id)], namespace=False)
    ids = "".join(f"{name}: {value}\r\n" for name, value in request_id_headers(request_id).items())
    head = (f"HTTP/1.1 {error.status} {HTTPStatus(error.status).phrase}\r\ncontent-type: application/xml\r\n"
            f"content-length: {len(body)}\r\n{ids}connection: close\r\n\r\n")
    return head.encode() + body


def idle_timeout_of(config: Any) -> float:
    """The served app's ``idle_timeout`` setting (its ServerConfig in ``app.state.config``),
    else the default; ``config`` is uvicorn's Config."""
    served = getattr(getattr(config.app, "state", None), "config", None)
    return float(served.idle_timeout) if isinstance(served, ServerConfig) else ServerConfig.idle_timeout


class BodyIdleTimeout:
    """ASGI middleware: while the request body is unfinished and no answer has
    started, a ``receive()`` that waits more than ``seconds`` for the client
    raises S3Error("RequestTimeout"). The time counted is only time spent
    waiting on a silent client: a slow consumer is never timed out."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        watch = _BodyWatch(receive, self.seconds)
        try:
            await self.app(scope, watch.receive, watch.send(send))
        finally:
            watch.stop()


class _BodyWatch:
    """One timer per request, re-armed only when it fires (a receive costs a clock
    read, not a timeout of its own: it runs for every ~64 KiB of a body)."""

    def __init__(self, receive: Receive, seconds: float) -> None:
        self._receive = receive
        self._seconds = seconds
        self._loop = asyncio.get_running_loop()
        self._body_done = False
        self._answering = False
        self._waiting: asyncio.Task[Any] | None = None  # the task in a receive, while it waits
        self._since = 0.0  # when that receive started
        self._expired = False
        self._timer: asyncio.TimerHandle | None = None

    async def receive(self) -> Message:
        if self._body_done or self._answering:
            return await self._receive()
        task = self._waiting = asyncio.current_task()
        self._since = self._loop.time()
        if self._timer is None:
            self._timer = self._loop.call_at(self._since + self._seconds, self._check)
        try:
            message = await self._receive()
        except asyncio.CancelledError:
            if self._expired and task is not None and task.uncancel() == 0:
                raise S3Error("RequestTimeout") from None
            raise
        finally:
            self._waiting = None
        self._body_done = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    def _check(self) -> None:
        """The timer: cancel a receive waiting since ``seconds`` ago, else look again later."""
        self._timer = None
        if self._waiting is None or self._body_done or self._answering:
            return  # the next receive arms it again
        due = self._since + self._seconds
        if self._loop.time() >= due:
            self._expired = True
            self._waiting.cancel()
        else:
            self._timer = self._loop.call_at(due, self._check)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def send(self, send: Send) -> Send:
        async def watching(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._answering = True  # too late for an error answer: stop timing
                self.stop()
            await send(message)

        return watching


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with S3's limits: head size, parse errors, idle
    clients; and closes that let the client read an answer given before its body."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idle_timeout = idle_timeout_of(self.config)
        self.app = BodyIdleTimeout(self.app, self.idle_timeout)
        self._in_head = True  # the bytes arriving belong to a request line or headers
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._closer: LingeringTransport | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """uvicorn gets ``transport`` wrapped: its closes linger while a request is unfinished."""
        self._closer = LingeringTransport(transport, self.loop, self._request_unfinished)
        super().connection_made(self._closer)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0

    def on_response_complete(self) -> None:
        """An answer given before the request's body is all in ends the connection
        (uvicorn would keep it open and parse the rest of the body away, for as long
        as the client cares to send): the leftover is drained by a lingering close."""
        if not self.pipeline and not self._in_head:  # the body coming is the answered request's
            self.transport.close()
        super().on_response_complete()

    def _request_unfinished(self) -> bool:
        """Whether the client is in the middle of a request (head or body), so may still be sending."""
        return not self._in_head or self._head_bytes > 0

    def data_received(self, data: bytes) -> None:
        """Feed the parser, counting the bytes of each request's head: a head
        still unfinished after MAX_HEAD_BYTES is refused. One read may hold
        the end of a request and the start of the next (pipelining), so the
        bytes go in pieces no longer than what the current head has left."""
        view = memoryview(data)
        while view:
            if self.transport.is_closing():
                return
            if not self._in_head:
                super().data_received(bytes(view) if len(view) < len(data) else data)
                return
            self._arm_head_timer()
            room = MAX_HEAD_BYTES - self._head_bytes
            if room <= 0:
                self._refuse(S3Error("RequestHeaderSectionTooLarge", extra={"MaxSizeAllowed": str(MAX_HEAD_BYTES)}))
                return
            piece, view = view[:room], view[room:]
            self._head_bytes += len(piece)
            super().data_received(bytes(piece) if len(piece) < len(data) else data)

    def send_400_response(self, msg: str) -> None:
        """The parser rejected the request: S3's BadRequest, not uvicorn's plain text."""
        cycle = self.cycle
        if cycle is not None and cycle.response_started and not cycle.response_complete:
            self.transport.close()  # an answer is half out: nothing else can follow it
            return
        self._refuse(S3Error("BadRequest"))

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        if self.idle_timeout > 0:
            self._head_timer = self.loop.call_later(self.idle_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        """No byte for idle_timeout: answer a half-sent head, close an unused connection."""
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_bytes:
            self._refuse(S3Error("RequestTimeout"))
        elif self.cycle is None or self.cycle.response_complete:
            self.transport.close()

    def _refuse(self, error: S3Error) -> None:
        """Answer ``error`` and close with a lingering close (server/http/linger.py): closing
        on unread bytes would reset the connection and could destroy the answer before
        the client has read it. A request the app is still on sees the client as gone;
        its answer is dropped; one already partly sent is cut, not followed by the error
        (a pipelined client would read the error as part of that body)."""
        self._cancel_head_timer()
        midway = False
        if self.cycle is not None and not self.cycle.response_complete:
            midway = self.cycle.response_started
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        if not midway:
            self.transport.write(error_answer(error))
        assert self._closer is not None  # set by connection_made
        self._closer.linger()
