"""Size limits on the request head, which uvicorn's httptools parser lacks.

Two layers, both answering S3's ``RequestHeaderSectionTooLarge`` (400):

- :func:`check_header_section`, called by dispatch for every request: the
  header fields (names and values) at most :data:`MAX_HEADER_SECTION` bytes.
  S3 itself refuses header sections over 8 KB; the margin leaves room for what
  proxies add.
- :class:`LimitedHttpToolsProtocol`, the protocol class for
  ``uvicorn.Config(http=...)``: it counts the bytes of a request's head (request
  line and headers) as they arrive and, past :data:`MAX_HEAD_BYTES`, answers
  and closes the connection instead of buffering on. Without it a client can
  make the server hold a header of any size in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.errors import S3Error
from server.xmlrender import document

MAX_HEADER_SECTION = 16 * 1024
MAX_HEAD_BYTES = 64 * 1024  # request line (long presigned URLs) and headers
LINGER_S = 2.0  # how long a refused connection is drained before it is closed


def check_header_section(headers: Iterable[tuple[bytes, bytes]]) -> None:
    """RequestHeaderSectionTooLarge when the header fields exceed the limit."""
    size = sum(len(name) + len(value) + 4 for name, value in headers)  # "name: value\r\n"
    if size > MAX_HEADER_SECTION:
        raise S3Error("RequestHeaderSectionTooLarge", extra={"MaxSizeAllowed": str(MAX_HEADER_SECTION)})


def _too_large_answer() -> bytes:
    error = S3Error("RequestHeaderSectionTooLarge", extra={"MaxSizeAllowed": str(MAX_HEAD_BYTES)})
    body = document("Error", [("Code", error.code), ("Message", error.message), *error.extra.items()],
                    namespace=False)
    head = (f"HTTP/1.1 {error.status} Bad Request\r\ncontent-type: application/xml\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode() + body


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head over MAX_HEAD_BYTES."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # the bytes arriving belong to a request line or headers
        self._head_bytes = 0
        self._refusing = False

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0

    def data_received(self, data: bytes) -> None:
        if self._refusing:
            return
        if not self._in_head:
            super().data_received(data)
            return
        room = MAX_HEAD_BYTES - self._head_bytes
        if len(data) <= room:
            self._head_bytes += len(data)
            super().data_received(data)
            return
        self._head_bytes = MAX_HEAD_BYTES
        if room > 0:
            super().data_received(data[:room])
        if self.transport.is_closing():
            return
        if self._in_head:
            self._refuse()
            return
        super().data_received(data[room:])

    def _refuse(self) -> None:
        """Answer, then read and drop what else comes for a moment before closing:
        closing on unread bytes would reset the connection and could destroy the
        answer before the client has read it (a "lingering close")."""
        self._refusing = True
        self.transport.write(_too_large_answer())
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)
