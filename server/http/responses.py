"""Response building blocks: XML bodies, streamed objects, and the one error renderer.

:func:`error_response` is the only place an ``<Error>`` document is made: every
S3Error (raised by a handler, the auth layer, or mapped from the engine by
server/s3/errormap.py) ends here. HEAD answers and 304 carry headers only.
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from server.s3.errors import S3Error
from server.s3.xmlrender import Node, document

log = logging.getLogger("fragstore.server")
XML_TYPE = "application/xml"


def new_request_id() -> str:
    return secrets.token_hex(8).upper()


def request_id_headers(request_id: str) -> dict[str, str]:
    host_id = base64.b64encode(secrets.token_bytes(24)).decode()
    return {"x-amz-request-id": request_id, "x-amz-id-2": host_id}


def xml_response(root: str, children: list[Node], *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(document(root, children), status_code=status, headers=dict(headers or {}), media_type=XML_TYPE)


def empty_response(status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A bodiless answer; an explicit Content-Length is kept (HEAD)."""
    return Response(status_code=status, headers=dict(headers or {}))


def error_response(error: S3Error, *, method: str, resource: str, request_id: str) -> Response:
    """S3's ``<Error>`` document for ``error`` (headers only for HEAD and 304)."""
    headers = dict(error.headers)
    if method == "HEAD" or error.status == 304:
        return Response(status_code=error.status, headers=headers)
    children: list[Node] = [
        ("Code", error.code),
        ("Message", error.message),
        *error.extra.items(),
        ("Resource", error.resource if error.resource is not None else resource),
        ("RequestId", request_id),
    ]
    body = document("Error", children, namespace=False)
    return Response(body, status_code=error.status, headers=headers, media_type=XML_TYPE)


def internal_error(exc: BaseException, request_id: str) -> S3Error:
    """Log an unexpected exception under the request id; answer InternalError."""
    log.error("request %s failed: %r", request_id, exc, exc_info=exc)
    return S3Error("InternalError")


class StreamResponse(Response):
    """Send ``body`` as it is produced, then ``close()`` it whatever happens.

    A listener watches for the client going away (uvicorn's send() is silent
    after a disconnect) and stops reading the object. Once the headers are out
    an error can no longer become XML: a failure mid-stream is logged and the
    connection is dropped (the client sees a short body against
    Content-Length), which is what S3 does too."""

    def __init__(
        self,
        body: AsyncIterator[bytes] | AsyncIterator[memoryview],
        *,
        close: Callable[[], Awaitable[None]],
        status: int,
        headers: Mapping[str, str],
        request_id: str,
    ) -> None:
        super().__init__(status_code=status, headers=dict(headers))
        self._iterator = body
        self._close = close
        self._request_id = request_id
        self._finished = False

    async def aclose(self) -> None:
        """Release the body without sending it (an answer that will not be sent)."""
        await self._close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._watch_disconnect, receive, group.cancel_scope)
                await self._stream(send)
                group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._close()

    async def _stream(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        try:
            async for chunk in self._iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except Exception as exc:
            # Returning without the final body message makes uvicorn drop the connection.
            log.error("request %s failed mid-stream: %r", self._request_id, exc, exc_info=exc)
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        self._finished = True

    async def _watch_disconnect(self, receive: Receive, scope: anyio.CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if not self._finished:  # uvicorn also reports a disconnect once the response is complete
            log.info("request %s: client went away mid-stream", self._request_id)
        scope.cancel()
