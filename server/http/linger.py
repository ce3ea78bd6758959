"""Lingering close: close a connection without resetting a client that is still sending.

Closing a TCP socket whose receive buffer holds unread bytes makes the kernel
answer with a reset (RST), not a normal close. The reset throws away what the
server has not yet sent, and a client that is still sending its body gets
"connection reset" on its next write: boto3 and the aws CLI (http.client sends
the whole body before it reads) then report a connection error and never see
the S3 error that was answered before the body was read (AccessDenied,
SignatureDoesNotMatch, NoSuchBucket...).

So a connection closed while the client may still be sending is closed as
HTTP servers have long done it (Apache's and nginx's "lingering close"):

1. the answer already queued goes out, then the write side is shut (a FIN
   after the answer; not possible over TLS, which is skipped);
2. what the client still sends is read and dropped, never stored or parsed,
   at most :data:`LINGER_BYTES` bytes for at most :data:`LINGER_S` seconds;
3. the connection is closed when the client closes its side, or at either
   limit (with a reset then: a client may not hold a connection open, or make
   the server read without end, by sending forever).

:class:`LingeringTransport` wraps the transport that uvicorn's protocol writes
to and closes, so that every close, uvicorn's own included, lingers while the
request on the connection is unfinished.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

LINGER_S = 5.0  # at most this long a closing connection is drained
LINGER_BYTES = 64 * 1024 * 1024  # at most this much is read from it and dropped


class LingeringTransport(asyncio.Transport):
    """``transport``, whose ``close()`` lingers (see the module) while ``peer_sending()``
    says the client may still be sending, and closes at once otherwise."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop,
                 peer_sending: Callable[[], bool]) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._peer_sending = peer_sending
        self._lingering = False

    def close(self) -> None:
        if self._lingering:
            return  # the linger ends by its own limits
        if self._peer_sending():
            self.linger()
        else:
            self._transport.close()

    def linger(self) -> None:
        """Close with a lingering close, whatever the client is doing."""
        if self._lingering or self._transport.is_closing():
            return
        self._lingering = True
        _Drain(self._transport, self._loop).start()

    def is_closing(self) -> bool:
        return self._lingering or self._transport.is_closing()

    def abort(self) -> None:
        self._transport.abort()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._transport.write(data)

    def writelines(self, list_of_data: Any) -> None:
        self._transport.writelines(list_of_data)

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        self._transport.write_eof()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)


class _Drain(asyncio.Protocol):
    """The protocol of a lingering connection: drops what comes, closes at the client's
    EOF or a limit, then passes ``connection_lost`` on to the protocol it replaced."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._owner = transport.get_protocol()
        self._left = LINGER_BYTES
        self._timer = loop.call_later(LINGER_S, transport.close)

    def start(self) -> None:
        """Take over the transport: read again (the owner may have paused), shut the write side."""
        self._transport.set_protocol(self)
        self._transport.resume_reading()
        try:
            if self._transport.can_write_eof():
                self._transport.write_eof()
        except OSError:  # the client is gone already
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        self._left -= len(data)
        if self._left < 0:
            self._transport.close()

    def eof_received(self) -> bool:
        return False  # the client is done: the transport closes, nothing is left unread

    def connection_lost(self, exc: Exception | None) -> None:
        self._timer.cancel()
        self._owner.connection_lost(exc)
