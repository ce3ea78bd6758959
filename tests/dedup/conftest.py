"""Fixtures of the engine tests.

pytest-asyncio is not used: each test gets its own event loop (``loop``), a
``run`` that drives a coroutine to completion on it, and a ``store`` opened on
it in ``tmp_path`` with the small configuration. ``reopen`` closes the store and
opens the same data directory again (optionally with another configuration).

Pack stores: the tests of a module marked ``packstores`` run once per pack
store (``pack_store``: "local", pack files under the data directory; "s3",
segments in a bucket of a second fragstore process in embedded mode, started
once per test process by ``pack_server``, each test under a prefix of its own).
Every configuration the harness opens gets the pack settings of its run.

The index: every test that takes ``harness`` (so ``store``, ``run``, ``bucket``)
runs twice, with the index in LMDB (``lmdb``) and in PostgreSQL (``pg``: one
throw-away cluster per test session, tests/services, and a fresh schema per
test). ``FRAGSTORE_TEST_INDEX=lmdb`` (or ``pg``) runs only one of them. A
test about the embedded index itself (LMDB's files, what one process alone
may do to its data directory on open) marks itself
``@pytest.mark.lmdb_only("why")``; tests/cluster has what many processes do."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import sys
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

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.live_server import ACCESS_KEY, SECRET_KEY, LiveServer, start_server  # noqa: E402

PACK_STORES = ("local", "s3")
PACKS_BUCKET = "packs"


class Harness:
    """One data directory, one event loop, the store currently open on it."""

    def __init__(self, path: Path, loop: asyncio.AbstractEventLoop, config: StoreConfig,
                 packs: dict[str, Any] | None = None, index: str = "") -> None:
        self.path = path
        self.loop = loop
        self.packs = packs or {}  # the pack settings every configuration opened gets
        self.index = index  # StoreConfig.index of every open: "" (LMDB) or a PostgreSQL URL
        self.config = replace(config, index=index, **self.packs)
        self.store: Store | None = None

    def run(self, aw: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(aw)

    def open(self, config: StoreConfig | None = None) -> Store:
        self.config = replace(config or self.config, index=self.index, **self.packs)
        self.store = self.run(Store.open(self.path, self.config))
        return self.store

    def close(self) -> None:
        if self.store is not None:
            self.run(self.store.close())
            self.store = None

    def reopen(self, config: StoreConfig | None = None) -> Store:
        self.close()
        return self.open(config)

    def wipe(self) -> None:
        """Close the store and remove its data directory; S3 packs move to a
        new prefix (a prefix belongs to one data directory); a PostgreSQL index
        is emptied."""
        self.close()
        shutil.rmtree(self.path)
        if self.packs:
            self.packs = {**self.packs, "packs": f"{self.packs['packs'].rstrip('/')}-{uuid.uuid4().hex[:6]}"}
        if self.index:  # and the index in PostgreSQL is emptied
            import psycopg

            with psycopg.connect(self.index, autocommit=True) as conn:
                for (name,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"):
                    conn.execute(f'DROP TABLE "{name}"')


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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "pack_store" in metafunc.fixturenames and metafunc.definition.get_closest_marker("packstores"):
        metafunc.parametrize("pack_store", PACK_STORES, indirect=True)


@pytest.fixture
def pack_store(request: pytest.FixtureRequest) -> str:
    """The pack store of this run: "local" unless the module is marked ``packstores``."""
    return str(getattr(request, "param", "local"))


@pytest.fixture(scope="session")
def pack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A second fragstore (embedded mode) whose bucket ``packs`` holds S3 packs."""
    server = start_server(Path(tmp_path_factory.mktemp("pack-server")) / "data")
    try:
        server.client().create_bucket(Bucket=PACKS_BUCKET)
        yield server
    finally:
        server.stop()


@pytest.fixture
def pack_settings(pack_store: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """StoreConfig fields that put this test's packs in its pack store."""
    if pack_store == "local":
        return {}
    server: LiveServer = request.getfixturevalue("pack_server")
    return {"packs": f"s3://{PACKS_BUCKET}/{uuid.uuid4().hex[:12]}", "packs_endpoint": server.url,
            "packs_access_key": ACCESS_KEY, "packs_secret_key": SECRET_KEY}


@pytest.fixture
def harness(tmp_path: Path, loop: asyncio.AbstractEventLoop, pack_settings: dict[str, Any],
            index_url: str) -> Iterator[Harness]:
    h = Harness(tmp_path / "data", loop, SMALL, pack_settings, index_url)
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


Flip = Callable[[Store, int, int, int], None]


@pytest.fixture
def flip(pack_store: str, request: pytest.FixtureRequest) -> Flip:
    """``flip(store, pack_id, offset, n)``: invert ``n`` bytes of a pack where it
    is kept (the file; or the segment object, read, changed and written back to
    the pack server, the store's cached blocks of it dropped)."""

    def local(store: Store, pack_id: int, offset: int, n: int = 4) -> None:
        with open(store.path / "packs" / f"{pack_id:08x}.pack", "r+b") as f:
            f.seek(offset)
            data = f.read(n)
            f.seek(offset)
            f.write(bytes(b ^ 0xFF for b in data))

    def remote(store: Store, pack_id: int, offset: int, n: int = 4) -> None:
        client = request.getfixturevalue("pack_server").client()
        key = store.packs.key(pack_id)  # type: ignore[attr-defined]
        body = bytearray(client.get_object(Bucket=PACKS_BUCKET, Key=key)["Body"].read())
        body[offset : offset + n] = bytes(b ^ 0xFF for b in body[offset : offset + n])
        client.put_object(Bucket=PACKS_BUCKET, Key=key, Body=bytes(body))
        store.packs.forget(pack_id)

    return local if pack_store == "local" else remote


@pytest.fixture
def local_only(pack_store: str) -> None:
    """Skip the s3 run of a test about local packs: their layout (one open
    pack, sealed at pack_size), or a child process opening the directory with
    the default (local) settings."""
    if pack_store != "local":
        pytest.skip("local packs only: their layout, or a child process with the default settings")
