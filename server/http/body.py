"""Request bodies: the raw receive loop and the size rules around it.

:func:`receive_stream` turns ASGI ``http.request`` messages into an async byte
iterator. A client that disconnects, or sends fewer bytes than its
Content-Length, makes it raise IncompleteBody; the exception travels through
Payload into the engine, which then publishes nothing. uvicorn answers
``Expect: 100-continue`` on the first receive, so a request refused before its
body is read never uploads it.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping

from starlette.types import Receive

from server.s3.errors import S3Error
from server.s3.params import is_number

GiB = 1024**3
MAX_OBJECT_SIZE = 5 * GiB
MAX_XML_BODY = 4 * 1024 * 1024


def content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    if not is_number(value.strip()):
        raise S3Error("InvalidArgument", "Content-Length is not a number.")
    return int(value)


def require_length(headers: Mapping[str, str]) -> None:
    """MissingContentLength / EntityTooLarge for an object or part upload."""
    length = content_length(headers)
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    if length is None and not chunked:
        raise S3Error("MissingContentLength")
    decoded = headers.get("x-amz-decoded-content-length", "")
    size = int(decoded) if is_number(decoded) else length
    if size is not None and size > MAX_OBJECT_SIZE:
        raise S3Error("EntityTooLarge", extra={"MaxSizeAllowed": str(MAX_OBJECT_SIZE)})


def has_body(headers: Mapping[str, str]) -> bool:
    """Whether the request announces a body (non-zero Content-Length or chunked)."""
    return headers.get("content-length", "0").strip() not in ("", "0") or "transfer-encoding" in headers


async def receive_stream(
    receive: Receive, expected: int | None, on_end: Callable[[], None] | None = None
) -> AsyncIterator[bytes]:
    """The request body as it arrives; IncompleteBody if it ends short.
    ``on_end`` is called once the last message has been received."""
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise S3Error("IncompleteBody")
        chunk = message.get("body", b"")
        if chunk:
            received += len(chunk)
            yield chunk
        if not message.get("more_body", False):
            break
    if on_end is not None:
        on_end()
    if expected is not None and received < expected:
        raise S3Error("IncompleteBody")


async def bounded(body: AsyncIterable[bytes], limit: int = MAX_OBJECT_SIZE) -> AsyncIterator[bytes]:
    """Pass ``body`` through, EntityTooLarge once it exceeds ``limit`` bytes."""
    total = 0
    async for chunk in body:
        total += len(chunk)
        if total > limit:
            raise S3Error("EntityTooLarge", extra={"MaxSizeAllowed": str(limit)})
        yield chunk


async def read_small(body: AsyncIterable[bytes], limit: int = MAX_XML_BODY) -> bytes:
    """A whole (XML) body in memory; MaxMessageLengthExceeded past ``limit``."""
    parts: list[bytes] = []
    total = 0
    async for chunk in body:
        total += len(chunk)
        if total > limit:
            raise S3Error("MaxMessageLengthExceeded")
        parts.append(chunk)
    return b"".join(parts)
