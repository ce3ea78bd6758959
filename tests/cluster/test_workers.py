"""``fragstore serve --workers N``: N processes on one port and one data
directory, each a gateway of the PostgreSQL index (server/admin/workers.py)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import time
import urllib.request
from pathlib import Path

from tests.live_server import LiveServer, clean_env, fragstore, start_server


def _gateways_seen(server: LiveServer, want: int, limit_s: float = 60) -> set[int]:
    """The gateways that answered health checks until ``want`` of them did (the
    workers start side by side; the server answered once the first one had)."""
    seen: set[int] = set()
    deadline = time.monotonic() + limit_s
    while len(seen) < want and time.monotonic() < deadline:  # a new connection each time: the kernel picks
        with urllib.request.urlopen(server.url + "/_fragstore/health", timeout=10) as answer:
            seen.add(int(json.load(answer)["index"]["gateway"]))
        time.sleep(0.02)
    return seen


def _workers(server: LiveServer) -> list[int]:
    pid = server.process.pid
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_workers_share_one_port_and_one_data_directory(tmp_path: Path, pg_dsn: str) -> None:
    server = start_server(tmp_path / "data", extra_args=["--index", pg_dsn, "--workers", "2", "--gc-interval", "0"])
    try:
        assert len(_workers(server)) == 2
        assert len(_gateways_seen(server, 2)) == 2
        s3 = server.client()
        s3.create_bucket(Bucket="workers")
        bodies = {f"k{i}": random.Random(i).randbytes(200_000 + i) for i in range(16)}
        for key, body in bodies.items():
            s3.put_object(Bucket="workers", Key=key, Body=body)
        victim = _workers(server)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (victim in _workers(server) or len(_workers(server)) < 2) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert victim not in _workers(server) and len(_workers(server)) == 2  # another one took its place
        for key, body in bodies.items():
            got = server.client().get_object(Bucket="workers", Key=key)["Body"].read()
            assert hashlib.md5(got).digest() == hashlib.md5(body).digest()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0
    finally:
        server.stop()


def test_workers_need_a_shared_index(tmp_path: Path) -> None:
    result = fragstore("serve", "--data", str(tmp_path / "data"), "--workers", "2", env=clean_env(), timeout=60)
    assert result.returncode == 2 and "--workers above 1 needs --index" in result.stderr
