"""Fixtures of the cluster tests: gateways (real ``fragstore serve`` processes)
on one PostgreSQL index (a throw-away cluster per session, tests/services; a new
database per test) and one data directory whose packs they share, each
appending to packs of its own (dedup/gateways.py)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.live_server import LiveServer, start_server  # noqa: E402
from tests.services.fixtures import pg_dsn, postgres  # noqa: E402, F401


class Cluster:
    """Gateways on one index and one data directory; ``start`` adds one."""

    def __init__(self, root: Path, index: str, extra_args: list[str]) -> None:
        self.root = root
        self.index = index
        self.extra_args = extra_args
        self.data = root / "data"
        self.gateways: list[LiveServer] = []

    def start(self, *extra: str) -> LiveServer:
        n = len(self.gateways)
        server = start_server(self.data, extra_args=["--index", self.index, *self.extra_args, *extra],
                              log_path=self.root / f"gateway{n}.log")
        self.gateways.append(server)
        return server

    def admin(self, server: LiveServer, method: str, path: str) -> Any:
        """A root request to an admin endpoint; its JSON."""
        answer = server.raw(method, path)
        assert answer.status == 200, answer.body
        return json.loads(answer.body)

    def stop(self) -> None:
        for server in self.gateways:
            server.stop()


@pytest.fixture
def cluster(tmp_path: Path, pg_dsn: str) -> Iterator[Cluster]:  # noqa: F811
    """Two gateways, background GC and lifecycle off (tests start their own)."""
    c = Cluster(tmp_path, pg_dsn, ["--gc-interval", "0", "--lifecycle-interval", "0", "--history-interval", "0"])
    try:
        c.start()
        c.start()
        yield c
    finally:
        c.stop()
