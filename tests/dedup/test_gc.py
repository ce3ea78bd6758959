"""Garbage collection: deleted objects free disk space, a dry run changes
nothing and predicts the real run, objects still alive survive compaction of
partially dead packs, and the grace period keeps recently dead manifests."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from storetest import SMALL, assert_same, content, gather, put, read

from dedup import Store, gc
from dedup.format import HEADER_SIZE
from dedup.index import PACK, U32, FragmentRow
from dedup.types import KiB, StoreConfig

pytestmark = pytest.mark.packstores  # every test once per pack store (conftest.py)


def pack_files(store: Store) -> dict[int, int]:
    """Length of each pack the pack store holds, by id."""
    return {p.pack_id: p.length for p in store.packs.list()}


def pack_rows(store: Store) -> dict[int, tuple[int, int, int]]:
    with store.index.read() as txn:
        return {U32.unpack(k)[0]: PACK.unpack(v) for k, v in txn.cursor(db=store.index.db["packs"])}


def live_accounting(store: Store) -> dict[int, int]:
    """Live bytes per pack as the ``packs`` table keeps them (packs holding some)."""
    return {pid: row[1] for pid, row in pack_rows(store).items() if row[1]}


def actual_live(store: Store) -> dict[int, int]:
    """Live bytes per pack counted from the fragment rows."""
    out: dict[int, int] = {}
    with store.index.read() as txn:
        for _, value in txn.cursor(db=store.index.db["fragments"]):
            row = FragmentRow.decode(value)
            out[row.pack] = out.get(row.pack, 0) + HEADER_SIZE + row.stored
    return out


def snapshot(store: Store, run) -> tuple:
    stats = run(store.stats())
    files = {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in Path(store.packs_dir).glob("*.pack")}
    return pack_files(store), files, pack_rows(store), stats.fragments, stats.unique_bytes, stats.stored_bytes


def test_delete_then_gc_frees_pack_bytes(store, run, bucket):
    data = content("gc", 2 * 1024 * KiB)
    run(put(store, bucket, "big", data))
    assert len(pack_files(store)) > 2  # several packs
    before = run(store.stats())
    assert before.pack_bytes >= len(data)
    run(store.delete_object(bucket, "big"))
    report = run(store.collect_garbage(grace_seconds=0))
    after = run(store.stats())
    assert report.manifests_reclaimed == 1
    assert report.bytes_freed == len(data)
    assert report.fragments_freed == before.fragments
    assert report.bytes_reclaimed_on_disk > 0
    assert after.pack_bytes < before.pack_bytes // 100
    assert (after.fragments, after.unique_bytes, after.stored_bytes) == (0, 0, 0)
    assert run(store.check()).ok
    again = run(store.collect_garbage(grace_seconds=0))
    assert (again.manifests_reclaimed, again.fragments_freed, again.packs_compacted, again.packs_deleted) == (0, 0, 0, 0)


def test_dry_run_changes_nothing(store, run, bucket):
    run(put(store, bucket, "keep", content("keep", 300 * KiB)))
    run(put(store, bucket, "drop", content("drop", 900 * KiB)))
    run(store.delete_object(bucket, "drop"))
    before = snapshot(store, run)
    report = run(store.collect_garbage(dry_run=True, grace_seconds=0))
    assert report.dry_run and report.manifests_reclaimed == 1
    assert snapshot(store, run) == before
    assert run(store.collect_garbage(dry_run=True, grace_seconds=0)) == report


def test_dry_run_predicts_the_real_run(store, run, bucket):
    run(put(store, bucket, "keep", content("keep", 300 * KiB)))
    run(put(store, bucket, "drop", content("drop", 900 * KiB)))
    run(store.delete_object(bucket, "drop"))
    dry = run(store.collect_garbage(dry_run=True, grace_seconds=0))
    real = run(store.collect_garbage(grace_seconds=0))
    assert not real.dry_run
    assert (dry.manifests_reclaimed, dry.fragments_freed, dry.bytes_freed) == (
        real.manifests_reclaimed, real.fragments_freed, real.bytes_freed)
    assert (dry.packs_compacted, dry.packs_deleted) == (real.packs_compacted, real.packs_deleted)
    assert real.packs_deleted > 0 and real.bytes_reclaimed_on_disk > 0
    assert dry.bytes_reclaimed_on_disk > 0


def test_dry_run_predicts_fragments_and_bytes(store, run, bucket):
    shared = content("shared", 200 * KiB)
    run(put(store, bucket, "a", shared + content("a-only", 100 * KiB)))
    run(put(store, bucket, "b", shared))
    run(store.delete_object(bucket, "a"))
    dry = run(store.collect_garbage(dry_run=True, grace_seconds=0))
    real = run(store.collect_garbage(grace_seconds=0))
    assert (dry.manifests_reclaimed, dry.fragments_freed, dry.bytes_freed) == (
        real.manifests_reclaimed, real.fragments_freed, real.bytes_freed)
    # Only what "a" did not share with "b" is freed (give or take the fragment
    # that straddles the boundary).
    assert 100 * KiB <= real.bytes_freed <= 100 * KiB + 2 * SMALL.max_fragment
    assert_same(run(read(store, bucket, "b")), shared)


def test_live_objects_survive_compaction_of_partially_dead_packs(punching, harness, run):
    """Punching gives the dead records' space back without compaction; where
    holes cannot be punched (or with a threshold of 1: any sealed pack with a
    dead block left is rewritten) the packs are compacted. Either way every live
    object reads back and the packs hold about what is live."""
    for threshold in (SMALL.compact_threshold, 1.0):
        harness.wipe()
        store = harness.open(StoreConfig(**{**SMALL.__dict__, "compact_threshold": threshold}))
        run(store.create_bucket("bucket-a", "owner"))
        keep = {f"keep{i}": content(f"keep{i}", 40 * KiB) for i in range(6)}
        for i, (key, data) in enumerate(keep.items()):
            drop = put(store, "bucket-a", f"drop{i}", content(f"drop{i}", 200 * KiB))
            if store.packs.segmented:  # at once: their records share segments (one per group commit)
                run(gather(put(store, "bucket-a", key, data), drop))
            else:
                run(put(store, "bucket-a", key, data))
                run(drop)
        assert len(pack_files(store)) >= 4
        for i in range(len(keep)):
            run(store.delete_object("bucket-a", f"drop{i}"))
        report = run(store.collect_garbage(grace_seconds=0))
        if punching and threshold < 1.0:
            assert report.packs_compacted == 0 and report.bytes_punched > 1024 * KiB
        elif store.packs.segmented:  # segments only of dead records are deleted whole
            assert report.packs_compacted + report.packs_deleted > 0
        else:
            assert report.packs_compacted > 0
        for key, data in keep.items():
            assert_same(run(read(store, "bucket-a", key)), data)
        assert run(store.check()).ok
        stats = run(store.stats())
        assert stats.unique_bytes == sum(len(d) for d in keep.values())
        assert stats.pack_bytes < 2 * stats.stored_bytes
        assert live_accounting(store) == actual_live(store)


@pytest.mark.lmdb_only("the pack layout of one process: with a shared index each start takes a new pack")
def test_compaction_moving_into_an_open_pack_that_is_itself_dead(harness, run, local_only):
    """A sealed pack below the threshold is compacted into the open pack; when
    the open pack held only dead records it is in the plan too (live 0)."""
    store = harness.reopen(StoreConfig(**{**SMALL.__dict__, "pack_size": 256 * KiB, "batch_bytes": 64 * KiB}))
    run(store.create_bucket("bucket-a", "owner"))
    keep = content("keep", 40 * KiB)
    run(put(store, "bucket-a", "keep", keep))
    run(put(store, "bucket-a", "drop", content("drop", 300 * KiB)))
    rows = pack_rows(store)
    assert len(rows) == 2
    open_pack = max(rows)
    assert 0 < rows[open_pack][0] < 256 * KiB  # the open pack holds only "drop" bytes
    run(store.delete_object("bucket-a", "drop"))
    run(store.collect_garbage(grace_seconds=0))
    assert_same(run(read(store, "bucket-a", "keep")), keep)
    assert run(store.check()).ok


def test_grace_period_keeps_dead_versions(store, run, bucket):
    data = content("grace", 300 * KiB)
    run(put(store, bucket, "k", data))
    run(store.delete_object(bucket, "k"))
    stats = run(store.stats())
    report = run(store.collect_garbage())  # the configured grace: 300 s
    assert report.manifests_reclaimed == 0 and report.bytes_freed == 0
    assert run(store.collect_garbage(grace_seconds=3600)).manifests_reclaimed == 0
    assert run(store.stats()).unique_bytes == stats.unique_bytes == len(data)
    assert run(store.check()).ok
    report = run(store.collect_garbage(grace_seconds=0))
    assert report.manifests_reclaimed == 1 and report.bytes_freed == len(data)


def test_overwrite_within_grace_then_reupload_keeps_bytes(store, run, bucket):
    """A fragment dead for less than the grace period that is uploaded again is
    simply referenced again; reclaiming the dead manifest later keeps it."""
    data = content("again", 300 * KiB)
    run(put(store, bucket, "k", data))
    run(store.delete_object(bucket, "k"))
    assert run(put(store, bucket, "k2", data)).new_bytes == 0
    report = run(store.collect_garbage(grace_seconds=0))
    assert report.manifests_reclaimed == 1 and report.fragments_freed == 0
    assert_same(run(read(store, bucket, "k2")), data)
    assert run(store.check()).ok


def test_reopen_leaves_dead_versions_to_gc_which_frees_their_packs(harness, run):
    """Opening to write leaves deleted versions to GC and its grace period,
    restart or not (`fragstore gc --grace N` on a stopped directory frees
    what N says, and reports it); GC then removes the emptied packs."""
    store = harness.store
    run(store.create_bucket("bucket-a", "owner"))
    run(put(store, "bucket-a", "k", content("r", 600 * KiB)))
    run(store.delete_object("bucket-a", "k"))
    store = harness.reopen(StoreConfig(**{**SMALL.__dict__, "manifest_grace_seconds": 0.0}))
    assert run(store.stats()).unique_bytes == 600 * KiB
    report = run(store.collect_garbage(grace_seconds=0))
    assert report.manifests_reclaimed == 1 and report.bytes_freed == 600 * KiB
    assert report.packs_deleted > 0
    assert run(store.stats()).pack_bytes == 0
    assert run(store.check()).ok


@pytest.mark.parametrize("threshold", [0.0, 1.0])
def test_compaction_threshold(punching, harness, run, threshold, local_only):
    """0 never compacts; 1 compacts every sealed pack with a dead byte left on
    disk (with holes: the partial blocks around them)."""
    store = harness.reopen(StoreConfig(**{**SMALL.__dict__, "compact_threshold": threshold}))
    run(store.create_bucket("bucket-a", "owner"))
    keep = content("k", 100 * KiB)
    run(put(store, "bucket-a", "keep", keep))
    run(put(store, "bucket-a", "drop", content("d", 100 * KiB)))
    run(put(store, "bucket-a", "tail", content("t", 300 * KiB)))  # the first pack is sealed
    run(store.delete_object("bucket-a", "drop"))
    report = run(store.collect_garbage(grace_seconds=0))
    if threshold == 0.0:
        assert report.packs_compacted == 0
    else:
        assert report.packs_compacted >= 1
    assert_same(run(read(store, "bucket-a", "keep")), keep)
    assert run(store.check()).ok
    assert os.listdir(store.path / "tmp") == []


def test_reupload_racing_gc_keeps_its_bytes(store, run, bucket):
    """The race the writer closes: a fragment freed by GC while a new upload of
    the same bytes references it again."""
    data = content("race", 400 * KiB)
    for _ in range(6):
        run(put(store, bucket, "k", data))
        run(store.delete_object(bucket, "k"))

        async def both():
            return await asyncio.gather(put(store, bucket, "k", data), store.collect_garbage(grace_seconds=0))

        run(both())
        assert_same(run(read(store, bucket, "k")), data)
        assert run(store.check()).ok


def test_a_get_in_flight_survives_compaction(punching, harness, run):
    # With holes, a threshold of 1 makes the half-dead packs be compacted too.
    store = harness.reopen(StoreConfig(**{**SMALL.__dict__, "compact_threshold": 1.0 if punching else 0.5}))
    bucket = "bucket-a"
    run(store.create_bucket(bucket, "owner"))
    keep, drop = content("keep", 9 * 1024 * KiB), content("drop", 18 * 1024 * KiB)
    run(gather(put(store, bucket, "keep", keep, piece=64 * KiB), put(store, bucket, "drop", drop, piece=64 * KiB)))
    run(store.delete_object(bucket, "drop"))
    run(put(store, bucket, "tail", content("tail", 50 * KiB)))  # the open pack keeps something live

    async def read_across_gc() -> tuple[bytes, object]:
        reader = await store.open_object(bucket, "keep")  # first batch loaded
        out = bytearray()
        report = None
        async for chunk in reader:
            out += chunk
            if report is None:
                report = await store.collect_garbage(grace_seconds=0)
        return bytes(out), report

    got, report = run(read_across_gc())
    assert report.packs_compacted > 0
    assert_same(got, keep)
    assert run(store.check()).ok


def test_a_get_of_a_deleted_object_finishes_within_the_grace_period(store, run, bucket):
    data = content("grace-read", 9 * 1024 * KiB)
    run(put(store, bucket, "k", data))

    async def read_while_deleted() -> bytes:
        reader = await store.open_object(bucket, "k")
        out = bytearray()
        async for chunk in reader:
            out += chunk
            if await store.delete_object(bucket, "k"):
                await store.collect_garbage()  # the configured grace keeps the manifest
        return bytes(out)

    assert_same(run(read_while_deleted()), data)
    assert run(store.collect_garbage(grace_seconds=0)).manifests_reclaimed == 1
    assert run(store.stats()).unique_bytes == 0


def test_small_segments_are_merged(store, run, bucket, pack_store):
    """Segmented stores write one pack per group commit: small PUTs make small
    segments, and GC merges them (once there are MERGE_MIN) into few, with
    every object still read back and the live bytes accounted."""
    if pack_store == "local":
        pytest.skip("local packs are appended to, never small")
    bodies = {f"small{i}": content(f"small{i}", 3 * KiB + i) for i in range(12)}
    for key, data in bodies.items():
        run(put(store, bucket, key, data))
    before = pack_files(store)
    assert len(before) >= 12 and all(n < SMALL.pack_size // gc.MERGE_SHARE for n in before.values())
    dry = run(store.collect_garbage(dry_run=True, grace_seconds=0))
    report = run(store.collect_garbage(grace_seconds=0))
    assert report.packs_compacted == dry.packs_compacted >= 12
    after = pack_files(store)
    assert len(after) <= 2 and not set(after) & set(before)
    assert sum(after.values()) == sum(before.values())  # every record was live: all of it moved
    for key, data in bodies.items():
        assert_same(run(read(store, bucket, key)), data)
    assert run(store.check()).ok
    assert live_accounting(store) == actual_live(store)
    again = run(store.collect_garbage(grace_seconds=0))
    assert again.packs_compacted == 0  # one merged segment is not MERGE_MIN of them
