"""SIGTERM: the requests in flight finish, the store is closed, the process
exits 0, and the next start needs no repair."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.live_server import ROOT, LiveServer, sign_headers, start_server

STOP_LIMIT_S = 60.0


def fragstore(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, env=server.env,
                          capture_output=True, text=True, timeout=300)


def terminate(server: LiveServer) -> int:
    server.process.send_signal(signal.SIGTERM)
    return server.process.wait(timeout=STOP_LIMIT_S)


def wait_for_log(server: LiveServer, text: str) -> None:
    deadline = time.monotonic() + STOP_LIMIT_S
    while text not in server.log():
        assert time.monotonic() < deadline, f"{text!r} never logged:\n{server.log()}"
        assert server.process.poll() is None, f"server exited:\n{server.log()}"
        time.sleep(0.05)


def test_sigterm_closes_cleanly_and_restarts_without_repair(tmp_path: Path) -> None:
    data = tmp_path / "data"
    body = os.urandom(500_000)
    with start_server(data) as server:
        s3 = server.client()
        s3.create_bucket(Bucket="durable")
        s3.put_object(Bucket="durable", Key="k", Body=body)
        assert json.loads((data / "server.json").read_text())["port"] == server.port
        assert terminate(server) == 0, server.log()
        log = server.log()
    assert "store closed" in log and "Traceback" not in log
    assert not (data / "server.json").exists()

    check = fragstore(server, "check", "--data", str(data))  # nobody holds it now: direct
    assert check.returncode == 0 and "OK" in check.stdout, check.stdout + check.stderr

    with start_server(data) as again:
        assert again.client().get_object(Bucket="durable", Key="k")["Body"].read() == body
        report = json.loads(again.raw("POST", "/_fragstore/check").body)
        assert report["ok"] is True, report


def test_request_in_flight_finishes_after_sigterm(tmp_path: Path) -> None:
    data = tmp_path / "data"
    body = os.urandom(300_000)
    with start_server(data) as server:
        server.client().create_bucket(Bucket="inflight")
        target = "/inflight/late"
        headers = sign_headers(server, "PUT", target, {"Content-Length": str(len(body)), "Expect": "100-continue"},
                               hashlib.sha256(body).hexdigest())
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
            head = f"PUT {target} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
            sock.sendall(head.encode())
            assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue")  # the handler is reading the body
            server.process.send_signal(signal.SIGTERM)
            wait_for_log(server, "Waiting for connections to close")  # shutdown has begun, our request is in flight
            sock.sendall(body)
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                assert chunk, answer
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert server.process.wait(timeout=STOP_LIMIT_S) == 0, server.log()
    with start_server(data) as again:
        assert again.client().get_object(Bucket="inflight", Key="late")["Body"].read() == body
