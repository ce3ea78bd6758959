"""Limits on the request head: an oversized header section is answered with
S3's RequestHeaderSectionTooLarge, and (server/http/limits.py's protocol) a
head that never ends is cut off instead of buffered without bound."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from server.http.limits import MAX_HEAD_BYTES
from tests.live_server import LiveServer, start_server
from tests.robustness.inthread import serving
from tests.robustness.rawhttp import Answer, exchange, read_answer

OPEN_HEAD = 1024 * 1024  # header bytes sent without ever ending the head (socket buffers hold them)
ANSWER_LIMIT_S = 15.0  # a server that enforces the limit answers at once; one that does not, never


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(tmp_path_factory.mktemp("limits") / "data") as live:
        yield live


def test_big_header_section_is_refused(server: LiveServer) -> None:
    answer = exchange(server, b"GET /_fragstore/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
    assert answer is not None and (answer.status, answer.code) == (400, "RequestHeaderSectionTooLarge")
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(5000))
    answer = exchange(server, b"GET /_fragstore/health HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert answer is not None and (answer.status, answer.code) == (400, "RequestHeaderSectionTooLarge")
    answer = exchange(server, b"GET /_fragstore/health HTTP/1.1\r\nHost: x\r\nX-Small: " + b"a" * 4000 + b"\r\n\r\n")
    assert answer is not None and answer.status == 200


def test_pipelined_heads_are_counted_each_on_its_own(server: LiveServer) -> None:
    """Two requests in one write, each head under the limit and together over
    it: both are answered (the limit is per head, not per read)."""
    def health(pad: int, last: bool) -> bytes:  # a long request line, as a presigned URL makes
        close = b"Connection: close\r\n" if last else b""
        return b"GET /_fragstore/health?pad=" + b"a" * pad + b" HTTP/1.1\r\nHost: x\r\n" + close + b"\r\n"

    first, second = health(MAX_HEAD_BYTES // 2, False), health(MAX_HEAD_BYTES * 3 // 4, True)
    assert len(first) < MAX_HEAD_BYTES and len(second) < MAX_HEAD_BYTES < len(first) + len(second)
    with socket.create_connection(("127.0.0.1", server.port), timeout=ANSWER_LIMIT_S) as sock:
        sock.sendall(first + second)
        raw = b""  # both answers, up to the close the second asked for (one recv may hold both)
        while piece := sock.recv(65536):
            raw += piece
    assert re.findall(rb"HTTP/1.1 (\d{3}) ", raw) == [b"200", b"200"], raw[:500]
    assert b"RequestHeaderSectionTooLarge" not in raw


def send_open_head(port: int) -> Answer | None:
    """Send a megabyte of one header line that never ends; the answer, if any
    comes before ANSWER_LIMIT_S (a server without a head limit keeps waiting)."""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_LIMIT_S) as sock:
        try:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"a" * OPEN_HEAD)
        except OSError:
            pass  # refused and closed before all of it was taken
        try:
            return read_answer(sock)
        except TimeoutError:
            return None


async def echo_length(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A tiny ASGI app: answers with the number of body bytes it received."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def limited_port() -> Iterator[int]:
    """uvicorn on 127.0.0.1 with the limited protocol, in a thread of this process."""
    with serving(echo_length) as port:
        yield port


def test_protocol_cuts_an_endless_head(limited_port: int) -> None:
    answer = send_open_head(limited_port)
    assert answer is not None, "no answer: the server is still reading the head"
    assert (answer.status, answer.code) == (400, "RequestHeaderSectionTooLarge")


def test_protocol_passes_ordinary_requests(limited_port: int) -> None:
    body = b"b" * (4 * MAX_HEAD_BYTES)  # one write: head and a body much larger than the head limit
    request = b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    with socket.create_connection(("127.0.0.1", limited_port), timeout=60) as sock:
        for _ in range(3):  # keep-alive: the count starts again for every request
            sock.sendall(request)
            answer = read_answer(sock)
            assert answer is not None and (answer.status, answer.body) == (200, str(len(body)).encode())
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\nX-Long: " + b"c" * (MAX_HEAD_BYTES // 2) + b"\r\n\r\n")
        answer = read_answer(sock)
        assert answer is not None and answer.status == 200


def test_server_cuts_an_endless_head(server: LiveServer) -> None:
    answer = send_open_head(server.port)
    assert answer is not None, "no answer: the server is still reading the head"
    assert (answer.status, answer.code) == (400, "RequestHeaderSectionTooLarge")
