"""Fixtures of the engine tests.

pytest-asyncio is not used: each test gets its own event loop (``loop``), a
``run`` that drives a coroutine to completion on it, and a ``store`` opened on
it in ``tmp_path`` with the small configuration. ``reopen`` closes the store and
opens the same data directory again (optionally with another configuration).

The index: every test that takes ``harness`` (so ``store``, ``run``, ``bucket``)
runs twice, with the index in LMDB (``lmdb``) and in PostgreSQL (``pg``: one
throw-away cluster per test session, tests/services, and a fresh schema per
test). ``FRAGSTORE_TEST_INDEX=lmdb`` (or ``pg``) runs only one of them. A
test about LMDB's files themselves marks itself ``@pytest.mark.lmdb_only``."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from storetest import OWNER, SMALL

from dedup import Store, holes
from dedup.types import StoreConfig
from tests.services.fixtures import postgres  # noqa: F401


class Harness:
    """One data directory, one event loop, the store currently open on it."""

    def __init__(self, path: Path, loop: asyncio.AbstractEventLoop, config: StoreConfig, index: str = "") -> None:
        self.path = path
        self.loop = loop
        self.index = index  # StoreConfig.index of every open: "" (LMDB) or a PostgreSQL URL
        self.config = replace(config, index=index)
        self.store: Store | None = None

    def run(self, aw: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(aw)

    def open(self, config: StoreConfig | None = None) -> Store:
        self.config = replace(config or self.config, index=self.index)
        self.store = self.run(Store.open(self.path, self.config))
        return self.store

    def close(self) -> None:
        if self.store is not None:
            self.run(self.store.close())
            self.store = None

    def wipe(self) -> None:
        """Remove the (closed) store's data directory and empty its index."""
        assert self.store is None
        shutil.rmtree(self.path)
        if self.index:
            import psycopg

            with psycopg.connect(self.index, autocommit=True) as conn:
                for (name,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"):
                    conn.execute(f'DROP TABLE "{name}"')

    def reopen(self, config: StoreConfig | None = None) -> Store:
        self.close()
        return self.open(config)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.run_until_complete(lp.shutdown_asyncgens())
    lp.run_until_complete(lp.shutdown_default_executor())
    lp.close()


INDEXES = [name for name in ("lmdb", "pg") if os.environ.get("FRAGSTORE_TEST_INDEX", name) == name]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lmdb_only(why): the test is about the embedded index (LMDB's files, one process)")


@pytest.fixture(params=INDEXES)
def index_url(request: pytest.FixtureRequest) -> str:
    """"" (the index in LMDB) or the URL of a new, empty PostgreSQL schema."""
    if request.param == "lmdb":
        return ""
    marker = request.node.get_closest_marker("lmdb_only")
    if marker is not None:
        pytest.skip(marker.args[0] if marker.args else "about the LMDB index's files")
    import psycopg

    cluster = request.getfixturevalue("postgres")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(cluster.dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{cluster.dsn}?options=-csearch_path%3D{schema}"


@pytest.fixture
def harness(tmp_path: Path, loop: asyncio.AbstractEventLoop, index_url: str) -> Iterator[Harness]:
    h = Harness(tmp_path / "data", loop, SMALL, index_url)
    h.open()
    yield h
    h.close()


@pytest.fixture
def store(harness: Harness) -> Store:
    assert harness.store is not None
    return harness.store


@pytest.fixture
def run(harness: Harness) -> Callable[[Awaitable[Any]], Any]:
    return harness.run


@pytest.fixture
def bucket(store: Store, run: Callable[[Awaitable[Any]], Any]) -> str:
    run(store.create_bucket("bucket-a", OWNER))
    return "bucket-a"


def _unsupported(fd: int, offset: int, length: int) -> None:
    raise OSError(errno.EOPNOTSUPP, "Operation not supported")


@pytest.fixture
def no_holes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The filesystem cannot punch holes: ``dedup.holes.punch_hole`` fails as
    fallocate(2) does there. Stores opened after this see it (their probe)."""
    monkeypatch.setattr(holes, "punch_hole", _unsupported)


@pytest.fixture(params=["holes", "no-holes"])
def punching(request: pytest.FixtureRequest, harness: Harness, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Run the test on a filesystem that punches holes and on one that cannot:
    the store is reopened accordingly. The value: whether holes are punched.
    Name it before ``store`` and ``bucket`` in a test's arguments (they take
    the store open at the time)."""
    if request.param == "no-holes":
        monkeypatch.setattr(holes, "punch_hole", _unsupported)
        harness.reopen()
    assert harness.store is not None
    if request.param == "holes" and not harness.store.writer.holes.supported:
        pytest.skip("the filesystem of the test directory cannot punch holes")
    assert harness.store.writer.holes.supported == (request.param == "holes")
    return bool(request.param == "holes")
