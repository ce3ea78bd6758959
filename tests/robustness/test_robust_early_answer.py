"""An answer given before the request body is read (server/http/linger.py,
server/http/limits.py): a PUT with a wrong signature, without credentials, or
to a bucket that does not exist is refused at once, while the client is still
sending a large body. The client must still read the whole ``<Error>`` XML,
as S3 lets it: the server drains and drops the rest of the body (a "lingering
close") instead of closing on unread bytes, which makes the kernel reset the
connection (boto3 then reports a connection error, not the S3 error). The
drain is bounded: a client that sends without end is cut off.

Without the lingering close the raw-socket tests fail deterministically: the
body is larger than the socket buffers of both ends can hold, so the client is
still writing when the server closes, and its write fails with a reset. The
boto3 tests guard what users see; on loopback they pass even without it
(urllib3 ignores EPIPE/ECONNRESET while sending and reads the answer, which is
already in the local receive buffer), but over a real network the reset can
destroy the answer before it arrives.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from server.http.linger import LINGER_BYTES, LINGER_S
from tests.live_server import LiveServer, start_server
from tests.robustness.fuzzing import logged_errors
from tests.robustness.inthread import serving
from tests.robustness.rawhttp import Answer, head_bytes, read_answer, signed

BUCKET = "early"
BODY = 40 << 20  # more than both ends' socket buffers hold (Linux tcp_rmem max 32 MiB + tcp_wmem max 4 MiB)
PIECE = b"x" * (1 << 20)
WAIT_S = 30.0
UNSIGNED = "UNSIGNED-PAYLOAD"

assert BODY < LINGER_BYTES, "the body must fit in what a lingering close drains"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(tmp_path_factory.mktemp("early") / "data") as live:
        live.client().create_bucket(Bucket=BUCKET)
        yield live
        live.stop()
        errors = logged_errors(live.log())
        assert errors == [], errors[:5]


def put_head(server: LiveServer, path: str, length: int, *, secret_key: str | None = None,
             sign: bool = True) -> bytes:
    """The head of a PUT of ``length`` unsigned-payload bytes, signed (with ``secret_key``) or not."""
    headers = {"Content-Length": str(length)}
    if sign:
        headers = signed(server, "PUT", path, {**headers, "x-amz-content-sha256": UNSIGNED}, UNSIGNED,
                         secret_key=secret_key)
    return head_bytes("PUT", path.encode(), headers, server.port)


def send_body(sock: socket.socket, size: int) -> None:
    """Send ``size`` bytes as fast as the connection takes them."""
    while size > 0:
        piece = PIECE[:size]
        sock.sendall(piece)
        size -= len(piece)


def rest_of(sock: socket.socket) -> bytes:
    """What the server sends after its answer until it closes."""
    rest = b""
    while piece := sock.recv(65536):
        rest += piece
    return rest


def assert_error(answer: Answer | None, status: int, codes: set[str]) -> None:
    assert answer is not None, "the connection closed (or was reset) without an answer"
    assert answer.status == status and answer.code in codes, (answer.status, answer.body[:300])
    assert answer.headers.get("content-type") == "application/xml"
    assert answer.body.startswith(b"<?xml") and answer.body.rstrip().endswith(b"</Error>"), answer.body[-200:]
    assert answer.headers.get("connection") == "close"
    assert answer.headers.get("x-amz-request-id")


def assert_serving(server: LiveServer) -> None:
    s3 = server.client()
    s3.put_object(Bucket=BUCKET, Key="after", Body=b"still here")
    assert s3.get_object(Bucket=BUCKET, Key="after")["Body"].read() == b"still here"
    s3.delete_object(Bucket=BUCKET, Key="after")


REFUSED: dict[str, tuple[str, dict[str, Any], int, set[str]]] = {
    "wrong-signature": (f"/{BUCKET}/k", {"secret_key": "not-the-secret"}, 403, {"SignatureDoesNotMatch"}),
    "no-credentials": (f"/{BUCKET}/k", {"sign": False}, 403, {"AccessDenied"}),
    "missing-bucket": ("/no-such-bucket-here/k", {}, 404, {"NoSuchBucket"}),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_whole_body_sent_then_error_read(server: LiveServer, name: str) -> None:
    path, sign, status, codes = REFUSED[name]
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) as sock:
        sock.sendall(put_head(server, path, BODY, **sign))
        try:
            send_body(sock, BODY)
        except OSError as exc:
            pytest.fail(f"the server reset the connection while the body was sent: {exc!r}")
        assert_error(read_answer(sock), status, codes)
        assert rest_of(sock) == b""
    assert_serving(server)


@pytest.mark.parametrize("name", list(REFUSED))
def test_part_of_body_sent_then_error_read(server: LiveServer, name: str) -> None:
    """The client stops halfway and reads: the answer and the server's FIN come at once,
    not after a linger that waits for the rest."""
    path, sign, status, codes = REFUSED[name]
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) as sock:
        sock.sendall(put_head(server, path, 2 * BODY, **sign))
        try:
            send_body(sock, BODY)
        except OSError as exc:
            pytest.fail(f"the server reset the connection while the body was sent: {exc!r}")
        started = time.monotonic()
        assert_error(read_answer(sock), status, codes)
        assert rest_of(sock) == b""
        assert time.monotonic() - started < LINGER_S / 2
    assert_serving(server)


def without_expect(s3: Any) -> Any:
    """``s3`` sending bodies at once, as clients without "Expect: 100-continue" do (boto3
    asks for "100 Continue" before a PutObject body, so a refusal comes before the body)."""
    def drop_expect(request: Any, **_: Any) -> None:
        request.headers.pop("Expect", None)

    s3.meta.events.register("before-send.s3.PutObject", drop_expect)
    return s3


@pytest.mark.parametrize("expect", [True, False], ids=["expect-100-continue", "body-at-once"])
def test_boto3_put_to_missing_bucket_gets_no_such_bucket(server: LiveServer, expect: bool) -> None:
    s3 = server.client()  # retries off: a reset would surface as a connection error
    with pytest.raises(ClientError) as raised:
        (s3 if expect else without_expect(s3)).put_object(Bucket="no-such-bucket-here", Key="k",
                                                          Body=b"b" * (20 << 20))
    assert raised.value.response["Error"]["Code"] == "NoSuchBucket"
    assert_serving(server)


def test_boto3_put_with_wrong_secret_gets_signature_error(server: LiveServer) -> None:
    s3 = without_expect(server.client(aws_secret_access_key="not-the-secret"))
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=BUCKET, Key="k", Body=b"b" * (20 << 20))
    assert raised.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert_serving(server)


def test_client_sending_fast_without_end_is_cut_off(server: LiveServer) -> None:
    """A body larger than the drain allows: the server stops reading after LINGER_BYTES."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) as sock:
        sock.sendall(put_head(server, "/no-such-bucket-here/k", 1 << 40))
        started, sent = time.monotonic(), 0
        with pytest.raises(OSError):
            while time.monotonic() - started < LINGER_S + 10:
                sock.sendall(PIECE)
                sent += len(PIECE)
        assert time.monotonic() - started < LINGER_S + 5
        assert sent < 2 * LINGER_BYTES  # what the drain took, plus what socket buffers hold (tens of MiB)
    assert_serving(server)


def test_client_sending_slowly_without_end_is_cut_off(server: LiveServer) -> None:
    """A client that reads its answer but keeps sending is closed after LINGER_S."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) as sock:
        sock.sendall(put_head(server, "/no-such-bucket-here/k", 1 << 40))
        assert_error(read_answer(sock), 404, {"NoSuchBucket"})
        assert rest_of(sock) == b""  # the server shut its side after the answer
        started = time.monotonic()
        with pytest.raises(OSError):
            while time.monotonic() - started < LINGER_S + 10:
                sock.sendall(b"y" * 1024)
                time.sleep(0.05)
        assert LINGER_S * 0.8 <= time.monotonic() - started < LINGER_S + 5
    assert_serving(server)


def test_expect_continue_client_that_sends_no_body(server: LiveServer) -> None:
    """Refused before "100 Continue", the client sends no body and closes after the answer."""
    path = "/no-such-bucket-here/k"
    headers = signed(server, "PUT", path, {"Content-Length": str(BODY), "Expect": "100-continue",
                                           "x-amz-content-sha256": UNSIGNED}, UNSIGNED)
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) as sock:
        sock.sendall(head_bytes("PUT", path.encode(), headers, server.port))
        started = time.monotonic()
        assert_error(read_answer(sock), 404, {"NoSuchBucket"})
        assert rest_of(sock) == b""
        assert time.monotonic() - started < LINGER_S / 2
    assert_serving(server)


# The protocol on its own: an app that answers without reading and keeps the connection alive.

calls: list[str] = []


async def answer_at_once(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A tiny ASGI app: answers 200 without reading the body, and without Connection: close."""
    if scope["type"] != "http":
        return
    calls.append(scope["path"])
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def early_port() -> Iterator[int]:
    """uvicorn on 127.0.0.1 with the limited protocol and :func:`answer_at_once`, in a thread."""
    with serving(answer_at_once) as port:
        calls.clear()
        yield port


def test_unread_body_is_never_taken_for_a_request(early_port: int) -> None:
    """A body made of requests, left unread by a keep-alive answer, is drained and dropped."""
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    body = smuggled * (BODY // len(smuggled))
    with socket.create_connection(("127.0.0.1", early_port), timeout=WAIT_S) as sock:
        sock.sendall(b"PUT /first HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        try:
            sock.sendall(body)
        except OSError as exc:
            pytest.fail(f"the server reset the connection while the body was sent: {exc!r}")
        answer = read_answer(sock)
        assert answer is not None and (answer.status, answer.body) == (200, b"ok")
        assert rest_of(sock) == b"", "the server answered leftover body bytes as a request"
    assert calls == ["/first"]
