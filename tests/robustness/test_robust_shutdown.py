"""SIGTERM: requests in flight finish, the store is closed cleanly (no pending
version, every pack file exactly its committed length, tmp/ empty: the next
start has nothing to repair) and the process exits 0. A client that stalls
mid-body must not keep the server from stopping."""

from __future__ import annotations

import hashlib
import http.client
import os
import signal
import socket
from pathlib import Path

import pytest

from dedup.index import U64, Index
from dedup.packs import list_pack_ids, pack_path
from dedup.types import StoreConfig
from server.admin.serve import GRACEFUL_SHUTDOWN_S
from tests.live_server import LiveServer, sign_headers, start_server
from tests.robustness import offline

BUCKET = "term"
MiB = 1024 * 1024
EXIT_LIMIT_S = 60  # how long to wait for the process to go before calling it hung
STALL_LIMIT_S = GRACEFUL_SHUTDOWN_S + 30  # with a stalled client: the server cuts it off after its grace


def start_put(server: LiveServer, key: str, length: int) -> socket.socket:
    """A PUT whose handler is known to run: headers sent with ``Expect:
    100-continue`` and the server's "100 Continue" received."""
    target = f"/{BUCKET}/{key}"
    headers = sign_headers(server, "PUT", target, {"Content-Length": str(length), "Expect": "100-continue"},
                           "UNSIGNED-PAYLOAD")
    head = f"PUT {target} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=EXIT_LIMIT_S)
    sock.sendall(head.encode())
    interim = b""
    while not interim.endswith(b"\r\n\r\n"):
        interim += sock.recv(1)
    assert interim.startswith(b"HTTP/1.1 100"), interim
    return sock


def response_status(sock: socket.socket) -> int:
    """The status of the answer on ``sock``, read to the end of its headers."""
    head = b""
    while b"\r\n\r\n" not in head:
        piece = sock.recv(4096)
        if not piece:
            break
        head += piece
    sock.close()
    return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0


def nothing_to_repair(data_dir: Path) -> list[str]:
    """What the next open would have to repair, found without opening the store."""
    problems = [f"tmp/ holds {p.name}" for p in (data_dir / "tmp").iterdir()]
    index = Index(data_dir / "index", StoreConfig().map_size)
    try:
        with index.read() as txn:
            pending = [U64.unpack(k)[0] for k, _ in txn.cursor(db=index.db["pending"])]
            packs = {pid: index.pack(txn, pid) for pid in list_pack_ids(data_dir / "packs")}
    finally:
        index.close()
    problems += [f"pending version {mid}" for mid in pending]
    for pid, row in packs.items():
        size = os.stat(pack_path(data_dir / "packs", pid)).st_size
        if row is None or size != row[0]:
            problems.append(f"pack {pid}: {size} bytes on disk, committed {row}")
    return problems


def test_sigterm_lets_requests_finish(tmp_path: Path) -> None:
    data = tmp_path / "data"
    big = os.urandom(8 * MiB)
    body = os.urandom(3 * MiB)
    server = start_server(data)
    s3 = server.client()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="big", Body=big)
    upload = start_put(server, "uploading", len(body))
    upload.sendall(body[: MiB])
    reading = http.client.HTTPConnection("127.0.0.1", server.port, timeout=EXIT_LIMIT_S)
    reading.request("GET", f"/{BUCKET}/big", headers=sign_headers(
        server, "GET", f"/{BUCKET}/big", {}, hashlib.sha256(b"").hexdigest()))
    answer = reading.getresponse()
    first = answer.read(MiB)

    server.process.send_signal(signal.SIGTERM)
    upload.sendall(body[MiB:])
    assert response_status(upload) == 200
    assert answer.status == 200 and first + answer.read() == big
    reading.close()
    assert server.process.wait(timeout=EXIT_LIMIT_S) == 0
    server.stop()

    assert nothing_to_repair(data) == []
    assert offline.check(data).ok
    with start_server(data) as again:
        s3 = again.client()
        assert s3.get_object(Bucket=BUCKET, Key="uploading")["Body"].read() == body
        assert s3.get_object(Bucket=BUCKET, Key="big")["Body"].read() == big


def test_sigterm_with_a_stalled_client(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data)
    server.client().create_bucket(Bucket=BUCKET)
    stalled = start_put(server, "stalled", 2 * MiB)
    stalled.sendall(b"x" * MiB)  # and never the rest
    try:
        server.process.send_signal(signal.SIGTERM)
        try:
            code = server.process.wait(timeout=STALL_LIMIT_S)
        except Exception:
            pytest.fail("the server did not stop while a client stalled")
        assert code == 0
    finally:
        stalled.close()
        server.stop()
    assert nothing_to_repair(data) == []
    with start_server(data) as again:
        assert "Contents" not in again.client().list_objects_v2(Bucket=BUCKET)
