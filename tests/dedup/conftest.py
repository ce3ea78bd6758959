"""Fixtures of the engine tests.

pytest-asyncio is not used: each test gets its own event loop (``loop``), a
``run`` that drives a coroutine to completion on it, and a ``store`` opened on
it in ``tmp_path`` with the small configuration. ``reopen`` closes the store and
opens the same data directory again (optionally with another configuration)."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from storetest import OWNER, SMALL

from dedup import Store, holes
from dedup.types import StoreConfig


class Harness:
    """One data directory, one event loop, the store currently open on it."""

    def __init__(self, path: Path, loop: asyncio.AbstractEventLoop, config: StoreConfig) -> None:
        self.path = path
        self.loop = loop
        self.config = config
        self.store: Store | None = None

    def run(self, aw: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(aw)

    def open(self, config: StoreConfig | None = None) -> Store:
        self.config = config or self.config
        self.store = self.run(Store.open(self.path, self.config))
        return self.store

    def close(self) -> None:
        if self.store is not None:
            self.run(self.store.close())
            self.store = None

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


@pytest.fixture
def harness(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> Iterator[Harness]:
    h = Harness(tmp_path / "data", loop, SMALL)
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
    if request.param == "holes" and not harness.store.writer.packs.punches:
        pytest.skip("the filesystem of the test directory cannot punch holes")
    assert harness.store.writer.packs.punches == (request.param == "holes")
    return bool(request.param == "holes")
