"""Requests the HTTP parser rejects (server/http/limits.py) are answered as S3
answers them: 400 with an ``<Error>`` XML body, code BadRequest ("An error
occurred when parsing the HTTP request."), and the connection closed; never
uvicorn's plain text. The server stays up and logs no error.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.live_server import LiveServer, start_server
from tests.robustness.fuzzing import logged_errors
from tests.robustness.rawhttp import exchange, read_answer

WAIT_S = 15.0

BROKEN: dict[str, bytes] = {
    "request-line-garbage": b"THIS IS NOT HTTP\r\n\r\n",
    "request-line-bad-version": b"GET / HTTP/9.Z\r\nHost: x\r\n\r\n",
    "method-with-control-byte": b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n",
    "space-in-header-name": b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
    "header-without-colon": b"GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
    "nul-in-header-value": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "bare-lf-in-header": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\nb: c\r\n\r\n",
    "content-length-not-a-number": b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc",
    "content-length-twice": b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "chunk-size-not-hex": b"PUT /b/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "non-ascii-path": b"GET /b/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(tmp_path_factory.mktemp("badhttp") / "data") as live:
        yield live
        live.stop()
        errors = logged_errors(live.log())
        assert errors == [], errors[:5]


@pytest.mark.parametrize("name", list(BROKEN))
def test_parser_rejects_with_s3_xml(server: LiveServer, name: str) -> None:
    answer = exchange(server, BROKEN[name], timeout=WAIT_S)
    assert answer is not None, "closed without an answer"
    assert (answer.status, answer.code) == (400, "BadRequest"), answer.body[:300]
    assert answer.headers.get("content-type") == "application/xml"
    assert answer.body.startswith(b"<?xml") and b"<Message>An error occurred when parsing the HTTP request.</Message>" in answer.body
    assert answer.headers.get("connection") == "close"
    assert answer.headers.get("x-amz-request-id") and answer.headers.get("x-amz-id-2")
    assert server.raw("GET", "/_fragstore/health", sign=False).status == 200


def test_connection_is_closed_after_the_answer(server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) as sock:
        sock.sendall(BROKEN["space-in-header-name"])
        answer = read_answer(sock)
        assert answer is not None and answer.code == "BadRequest"
        try:
            assert sock.recv(100) == b""
        except TimeoutError:
            pytest.fail("the connection stayed open after a request the parser rejected")


def test_good_request_then_garbage_on_one_connection(server: LiveServer) -> None:
    """The first request is answered in full before the broken one is refused."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) as sock:
        sock.sendall(b"GET /_fragstore/health HTTP/1.1\r\nHost: x\r\n\r\n")
        first = read_answer(sock)
        assert first is not None and first.status == 200
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        second = read_answer(sock)
        assert second is not None and (second.status, second.code) == (400, "BadRequest")


def _read_until_closed(sock: socket.socket) -> bytes:
    got = bytearray()
    while True:
        try:
            data = sock.recv(1 << 16)
        except (ConnectionResetError, TimeoutError):
            return bytes(got)
        if not data:
            return bytes(got)
        got += data


def test_a_refused_pipelined_request_never_lands_inside_a_streaming_answer(server: LiveServer) -> None:
    """A GET's answer is still streaming when the pipelined next request's head
    runs over the limit: the connection is cut, and no error XML is written
    into the middle of the first answer's body."""
    import os
    import time

    client = server.client()
    client.create_bucket(Bucket="pipelined")
    data = os.urandom(24 * 1024 * 1024)
    client.put_object(Bucket="pipelined", Key="big", Body=data)
    url = client.generate_presigned_url("get_object", Params={"Bucket": "pipelined", "Key": "big"})
    target = url.split(f":{server.port}", 1)[1]
    first = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode()
    oversized = b"GET /_fragstore/health HTTP/1.1\r\nX-Big: " + b"a" * (80 * 1024) + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(first)
        start = sock.recv(1 << 16)  # the first answer is under way...
        sock.sendall(oversized)
        time.sleep(1.0)  # ...and stalled on an unread socket while the next head arrives
        raw = start + _read_until_closed(sock)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    assert b"<Error>" not in body
    assert data.startswith(body), "the first answer's body holds bytes that are not the object's"
    assert server.raw("GET", "/_fragstore/health", sign=False).status == 200
