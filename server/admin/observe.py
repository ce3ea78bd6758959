"""Per-request accounting around the ASGI calls: bytes in and out, the status
sent, the time to the last byte; then the metrics and the access line.

:class:`Exchange` wraps ``receive`` and ``send``; the app fills in what
routing and authentication learn (operation, access key) and calls
:meth:`Exchange.finish` once the answer is out, whatever happened.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from starlette.types import Message, Receive, Scope, Send

from server.admin import logs
from server.admin.metrics import Metrics


@dataclass
class Exchange:
    scope: Scope
    request_id: str
    operation: str = ""
    access_key: str | None = None
    status: int = 0  # 0 until the answer's head is sent
    bytes_in: int = 0
    bytes_out: int = 0
    started: float = field(default_factory=time.perf_counter)

    def receive(self, receive: Receive) -> Receive:
        async def counting() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.bytes_in += len(message.get("body", b""))
            return message

        return counting

    def send(self, send: Send) -> Send:
        async def watching(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.status = int(message["status"])
            elif message["type"] == "http.response.body":
                self.bytes_out += len(message.get("body", b""))
            await send(message)

        return watching

    def finish(self, metrics: Metrics) -> None:
        seconds = time.perf_counter() - self.started
        metrics.observe(self.operation, self.status, seconds, self.bytes_in, self.bytes_out)
        scope = self.scope
        client = scope.get("client")
        raw_path = scope.get("raw_path") or scope["path"].encode()
        logs.access(logs.AccessRecord(
            request_id=self.request_id,
            client=f"{client[0]}:{client[1]}" if client else "-",
            method=scope["method"],
            path=raw_path.decode("latin-1"),
            query=logs.safe_query(scope.get("query_string", b"").decode("latin-1")),
            operation=self.operation,
            status=self.status,
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
            seconds=seconds,
            access_key=self.access_key,
        ))
