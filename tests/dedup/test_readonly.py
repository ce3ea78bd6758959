"""dedup/readonly.py: a data directory read as it is, never written (not a byte,
not FORMAT, not LMDB's lock file), with writers kept out while it is open; and
the recovery of a Store opened to write leaves deleted versions to GC."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tarfile
from pathlib import Path

import pytest
from conftest import Harness
from storetest import OWNER, SMALL, content, put, stream

from dedup import Store, errors
from dedup.fsutil import lock_data_dir
from dedup.readonly import ReadOnlyStore
from dedup.types import KiB, StoreConfig

FORMAT1 = Path(__file__).parent / "fixtures" / "format1.tar.gz"


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every file and directory under ``root``: mode and content hash."""
    out: dict[str, tuple[int, str]] = {}
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(base, name)
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
            out[str(path.relative_to(root))] = (path.stat().st_mode, digest)
    return out


def untidy(harness: Harness) -> Path:
    """A closed data directory with everything a writer's open would tidy: a
    dead manifest younger than the grace period, a pending one (a PUT that
    never published), a torn tail on the open pack and a file in tmp/."""
    store = harness.store
    assert store is not None
    run = harness.run
    run(store.create_bucket("bucket-a", OWNER))
    run(put(store, "bucket-a", "kept", content("kept", 200 * KiB)))
    run(put(store, "bucket-a", "gone", content("gone", 150 * KiB)))
    run(store.delete_object("bucket-a", "gone"))
    mid = run(store._new_mid())
    run(store.ingest.run(mid, stream([content("pending", 100 * KiB)]), lambda got: lambda w: None))
    open_pack = store.writer.open_pack
    harness.close()
    with open(harness.path / "packs" / f"{open_pack:08x}.pack", "ab") as pack:
        pack.write(b"a torn record that was never committed")
    (harness.path / "tmp" / "scratch").write_bytes(b"left by a crash")
    return harness.path


@pytest.mark.lmdb_only  # dedup/readonly.py and the map size are LMDB's
def test_reading_writes_nothing(harness: Harness) -> None:
    root = untidy(harness)
    before = snapshot(root)
    ro = harness.run(ReadOnlyStore.open(root, SMALL))
    try:
        stats = harness.run(ro.stats(exact=True, dead=True))
        assert (stats.objects, stats.dead_manifests, stats.pending_manifests) == (1, 1, 1)
        assert stats.dead_unique_bytes == 150 * KiB
        report = harness.run(ro.check())
        assert report.ok and not report.repaired
        plan = harness.run(ro.plan_garbage_collection(grace_seconds=0))
        assert plan.dry_run and plan.manifests_reclaimed == 1 and plan.bytes_freed == 150 * KiB
        assert harness.run(ro.plan_garbage_collection()).manifests_reclaimed == 0  # younger than the grace
    finally:
        harness.run(ro.close())
    assert snapshot(root) == before


@pytest.mark.lmdb_only  # dedup/readonly.py and the map size are LMDB's
def test_readers_share_and_keep_writers_out(harness: Harness) -> None:
    root = untidy(harness)
    reader = harness.run(ReadOnlyStore.open(root, SMALL))
    other_reader = lock_data_dir(root, shared=True)  # (LMDB opens one environment once per process)
    with pytest.raises(errors.DataDirLocked):
        harness.run(Store.open(root, SMALL))
    harness.run(reader.close())
    with pytest.raises(errors.DataDirLocked):
        harness.run(Store.open(root, SMALL))
    os.close(other_reader)
    store = harness.open()
    with pytest.raises(errors.DataDirLocked):
        harness.run(ReadOnlyStore.open(root, SMALL))
    assert store.path == root


def test_an_older_format_is_refused_not_upgraded(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> None:
    with tarfile.open(FORMAT1) as tar:
        tar.extractall(tmp_path, filter="data")
    root = tmp_path / "data"
    before = snapshot(root)
    with pytest.raises(errors.ReadOnlyRefused, match=r"format 1.*start the server on it once"):
        loop.run_until_complete(ReadOnlyStore.open(root, StoreConfig()))
    assert snapshot(root) == before


def test_a_directory_without_data_is_refused_and_left_empty(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> None:
    with pytest.raises(errors.NotADataDir, match="no FORMAT"):
        loop.run_until_complete(ReadOnlyStore.open(tmp_path, StoreConfig()))
    with pytest.raises(errors.NotADataDir, match="no FORMAT"):
        loop.run_until_complete(Store.open(tmp_path, StoreConfig(), create=False))
    assert list(tmp_path.iterdir()) == []


def test_opening_to_write_leaves_deleted_versions_to_gc(harness: Harness) -> None:
    """Recovery reclaims what a crash left (a pending manifest: nobody can be
    reading it) and leaves deleted versions to GC and its grace period."""
    root = untidy(harness)
    store = harness.open(StoreConfig(**{**SMALL.__dict__, "manifest_grace_seconds": 0.0}))
    stats = harness.run(store.stats(dead=True))
    assert (stats.dead_manifests, stats.pending_manifests) == (1, 0)
    assert stats.dead_unique_bytes == 150 * KiB
    assert stats.unique_bytes == 350 * KiB  # the deleted object's fragments are still there
    assert list((root / "tmp").iterdir()) == [] or harness.index  # many processes share tmp/
    assert harness.run(store.collect_garbage()).manifests_reclaimed == 1
    stats = harness.run(store.stats(dead=True))
    assert (stats.dead_manifests, stats.unique_bytes, stats.dead_unique_bytes) == (0, 200 * KiB, 0)


@pytest.mark.lmdb_only("a directory of an older format is LMDB's files")
@pytest.mark.parametrize("found", [3, 4])
def test_a_directory_from_before_the_delta_tables_is_refused_by_name(
        tmp_path: Path, loop: asyncio.AbstractEventLoop, found: int) -> None:
    # formats 3 and 4 had no bases/layouts tables: read-only cannot create
    # them, so it says to open the directory to write once
    import json

    import lmdb

    data = tmp_path / "data"
    store = loop.run_until_complete(Store.open(data, SMALL))
    loop.run_until_complete(store.create_bucket("bucket", OWNER))
    loop.run_until_complete(store.close())
    env = lmdb.open(str(data / "index"), max_dbs=32)
    with env.begin(write=True) as txn:
        for name in (b"bases", b"layouts"):
            txn.drop(env.open_db(name, txn=txn), delete=True)
    env.close()
    doc = json.loads((data / "FORMAT").read_text())
    (data / "FORMAT").write_text(json.dumps({**doc, "format": found}))
    with pytest.raises(errors.ReadOnlyRefused, match="start the server on it once"):
        loop.run_until_complete(ReadOnlyStore.open(data, SMALL))
    store = loop.run_until_complete(Store.open(data, SMALL))  # the upgrade makes the tables
    loop.run_until_complete(store.close())
    reader = loop.run_until_complete(ReadOnlyStore.open(data, SMALL))
    assert [b.name for b in loop.run_until_complete(reader.list_buckets())] == ["bucket"]
    loop.run_until_complete(reader.close())
