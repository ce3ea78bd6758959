"""A client that goes silent in the middle of a request (server/http/limits.py):
after ``idle_timeout`` seconds it gets S3's RequestTimeout (400) and the
connection is closed, whether it stalled in the body (fewer bytes than
Content-Length, a chunked body cut mid-chunk, an XML body) or in the head;
nothing is stored and the server stays up. A slow client that keeps sending
is not cut off: the limit is on silence, not on the length of a request.

The server runs with ``--idle-timeout 1``; a server without the limit never
answers, and the socket's own timeout fails the test.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import time
from collections.abc import Iterator

import pytest

from tests.live_server import LiveServer, start_server
from tests.robustness.fuzzing import logged_errors
from tests.robustness.rawhttp import Answer, head_bytes, read_answer, signed

BUCKET = "idle"
IDLE_S = 1.0
WAIT_S = 15.0  # how long a test waits for the answer before it calls the server hung
UNSIGNED = "UNSIGNED-PAYLOAD"
MESSAGE = b"Your socket connection to the server was not read from or written to within the timeout period."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(tmp_path_factory.mktemp("idle") / "data", extra_args=["--idle-timeout", str(IDLE_S)]) as live:
        live.client().create_bucket(Bucket=BUCKET)
        yield live
        live.stop()
        errors = logged_errors(live.log())
        assert errors == [], errors[:5]


def stall(server: LiveServer, data: bytes) -> tuple[Answer | None, float, bytes]:
    """Send ``data``, then nothing (the connection stays open): the answer, the
    seconds it took, and what the server sent after it before closing."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) as sock:
        sock.sendall(data)
        started = time.monotonic()
        try:
            answer = read_answer(sock)
        except TimeoutError:
            pytest.fail(f"no answer in {WAIT_S} s: the server is still waiting for the client")
        took = time.monotonic() - started
        rest = b""
        try:
            while piece := sock.recv(65536):
                rest += piece
        except TimeoutError:
            pytest.fail("the server kept the connection open after RequestTimeout")
        return answer, took, rest


def put_head(server: LiveServer, key: str, headers: dict[str, str], payload: str = UNSIGNED) -> bytes:
    path = f"/{BUCKET}/{key}"
    return head_bytes("PUT", path.encode(), signed(server, "PUT", path, headers, payload), server.port)


def assert_timed_out(answer: Answer | None, took: float, rest: bytes) -> None:
    assert answer is not None, "the connection closed without an answer"
    assert (answer.status, answer.code) == (400, "RequestTimeout"), answer.body[:300]
    assert b"<Message>" + MESSAGE + b"</Message>" in answer.body
    assert answer.headers.get("connection") == "close"
    assert IDLE_S * 0.8 <= took <= IDLE_S + 10, took
    assert rest == b"", rest[:200]
    assert answer.headers.get("x-amz-request-id")


def assert_stored(server: LiveServer, *keys: str) -> None:
    listed = server.client().list_objects_v2(Bucket=BUCKET).get("Contents", [])
    assert sorted(o["Key"] for o in listed) == sorted(keys)
    assert server.raw("GET", "/_fragstore/health", sign=False).status == 200


def test_body_shorter_than_content_length(server: LiveServer) -> None:
    head = put_head(server, "short", {"Content-Length": "1000"})
    assert_timed_out(*stall(server, head + b"x" * 500))
    assert_stored(server)


def test_no_body_byte_at_all(server: LiveServer) -> None:
    head = put_head(server, "nothing", {"Content-Length": "100", "Expect": "100-continue"})
    assert_timed_out(*stall(server, head))
    assert_stored(server)


def test_large_body_stalled_midway(server: LiveServer) -> None:
    head = put_head(server, "large", {"Content-Length": str(8 << 20)})
    assert_timed_out(*stall(server, head + b"y" * (3 << 20)))
    assert_stored(server)


def test_chunked_transfer_cut_mid_chunk(server: LiveServer) -> None:
    head = put_head(server, "chunked", {"Transfer-Encoding": "chunked"})
    assert_timed_out(*stall(server, head + b"400\r\n" + b"z" * 100))
    assert_stored(server)


def test_aws_chunked_cut_mid_chunk(server: LiveServer) -> None:
    body = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"
    head = put_head(server, "aws-chunked", {
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "5",
        "x-amz-trailer": "x-amz-checksum-crc32", "Content-Length": str(len(body)),
    }, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    assert_timed_out(*stall(server, head + body[:8]))
    assert_stored(server)


def test_xml_body_stalled(server: LiveServer) -> None:
    server.client().put_object(Bucket=BUCKET, Key="victim", Body=b"v")
    xml = b"<Delete><Object><Key>victim</Key></Object></Delete>"
    md5 = base64.b64encode(hashlib.md5(xml).digest()).decode()
    path = f"/{BUCKET}?delete"
    headers = signed(server, "POST", path, {"Content-Length": str(len(xml)), "Content-MD5": md5},
                     hashlib.sha256(xml).hexdigest())
    assert_timed_out(*stall(server, head_bytes("POST", path.encode(), headers, server.port) + xml[:20]))
    assert_stored(server, "victim")
    server.client().delete_object(Bucket=BUCKET, Key="victim")


def test_head_stalled(server: LiveServer) -> None:
    answer, took, rest = stall(server, b"PUT /idle/head HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
    assert_timed_out(answer, took, rest)  # answered by the protocol: the app never saw a request
    assert_stored(server)


def test_silent_connection_is_closed(server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) as sock:
        try:
            assert sock.recv(100) == b""
        except TimeoutError:
            pytest.fail("a connection that never sent a byte was kept open")


def test_slow_but_steady_client_is_served(server: LiveServer) -> None:
    pieces = 5
    head = put_head(server, "steady", {"Content-Length": str(pieces)})
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) as sock:
        sock.sendall(head[:20])
        time.sleep(IDLE_S / 2)
        sock.sendall(head[20:])
        for _ in range(pieces):  # the whole request takes longer than the limit, no pause does
            time.sleep(IDLE_S / 2)
            sock.sendall(b"s")
        answer = read_answer(sock)
    assert answer is not None and answer.status == 200, answer
    assert server.client().get_object(Bucket=BUCKET, Key="steady")["Body"].read() == b"s" * pieces
    server.client().delete_object(Bucket=BUCKET, Key="steady")


def test_keep_alive_connection_serves_again_after_a_pause(server: LiveServer) -> None:
    """The limit is on a request in progress; uvicorn's keep-alive governs the time between requests."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) as sock:
        for _ in range(2):
            sock.sendall(b"GET /_fragstore/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = read_answer(sock)
            assert answer is not None and answer.status == 200
            time.sleep(IDLE_S / 2)
