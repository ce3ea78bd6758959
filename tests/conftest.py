"""Shared fixtures: one live server per test session, a boto3 client, a fresh bucket per test."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.` and `server.` importable

from tests.live_server import LiveServer, start_server  # noqa: E402


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(Path(tmp_path_factory.mktemp("live")) / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3(live_server: LiveServer) -> Any:
    return live_server.client()


@pytest.fixture
def bucket(s3: Any) -> str:
    """A new, empty bucket named for this test only."""
    name = f"t-{uuid.uuid4().hex[:20]}"
    s3.create_bucket(Bucket=name)
    return name
