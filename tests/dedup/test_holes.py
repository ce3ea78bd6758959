"""Holes: a delete gives its disk space back at the next GC, without compaction.

Measured on the pack files' allocated blocks (``st_blocks``): a deleted
object's records are punched out of their pack; the issue's scenario (delete,
upload more, GC) keeps only what is live; deleting everything leaves the packs
directory nearly empty. Also: a crash between the commit that frees and the
punch, a punch that fails, a filesystem that cannot punch (the seam:
``dedup.holes.punch_hole``), the dry run's estimate, and GETs racing punching
and compaction.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from storetest import (
    OWNER,
    SMALL,
    assert_same,
    can_punch,
    content,
    put,
    read,
    start_upload,
    upload_part,
)

from dedup import Store, errors, gc, holes
from dedup.index import Index
from dedup.packs import list_pack_ids, pack_path, scan_records
from dedup.types import DeleteRequest, KiB, MiB, StoreConfig

B = "bucket-a"
# One pack holds everything below (as 256 MiB packs hold the 130 MB).
BIG_PACKS = StoreConfig(**{**SMALL.__dict__, "pack_size": 64 * MiB})
CRASHER = Path(__file__).with_name("holes_crash.py")


@pytest.fixture(autouse=True)
def _holes_here(tmp_path: Path) -> None:
    if not can_punch(tmp_path):
        pytest.skip("the filesystem of the test directory cannot punch holes")


def allocated(path: Path) -> int:
    """Bytes the files below ``path`` occupy on the filesystem."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.stat(os.path.join(root, name)).st_blocks * 512
    return total


def queued(data: Path) -> int:
    """Rows of the ``holes`` queue (the store must be closed)."""
    index = Index(data / "index", SMALL.map_size)
    try:
        with index.read() as txn:
            return sum(1 for _ in txn.cursor(db=index.db["holes"]))
    finally:
        index.close()


def stored_by(store: Store, run, action) -> int:
    """Stored bytes (record headers included) that ``action`` adds."""
    before = run(store.stats()).stored_bytes
    run(action)
    return run(store.stats()).stored_bytes - before


def test_a_delete_gives_its_blocks_back_at_the_next_gc(harness, run):
    store = harness.reopen(BIG_PACKS)
    run(store.create_bucket(B, OWNER))
    keep = content("keep", 700 * KiB)
    run(put(store, B, "keep", keep))
    stored = stored_by(store, run, put(store, B, "drop", content("drop", 1500 * KiB)))
    run(put(store, B, "after", content("after", 300 * KiB)))  # the dead records lie between live ones
    [pid] = list_pack_ids(store.packs_dir)
    path = pack_path(store.packs_dir, pid)
    before, size = path.stat().st_blocks * 512, path.stat().st_size
    run(store.delete_object(B, "drop"))
    report = run(store.collect_garbage(grace_seconds=0))
    returned = before - path.stat().st_blocks * 512
    # All of its records but the partial blocks it shares with its neighbours.
    assert stored - 2 * 4096 <= returned <= stored
    assert report.bytes_punched == returned == report.bytes_reclaimed_on_disk
    assert (report.packs_compacted, report.packs_deleted) == (0, 0)
    assert path.stat().st_size == size  # same length: the space is holes now
    assert_same(run(read(store, B, "keep")), keep)
    assert_same(run(read(store, B, "after")), content("after", 300 * KiB))
    assert run(store.check()).ok
    harness.close()
    assert queued(harness.path) == 0


@pytest.mark.parametrize("config", [BIG_PACKS, SMALL], ids=["one-pack", "small-packs"])
def test_delete_then_upload_more_then_gc_keeps_only_what_is_live(harness, run, config):
    """The issue's scenario, scaled down 25 times: delete a 50 MB object, upload
    80 MB more, GC. Before holes: 0 packs compacted and the 50 MB stayed."""
    store = harness.reopen(config)
    run(store.create_bucket(B, OWNER))
    run(put(store, B, "old", content("old", 2_000_000), piece=64 * KiB))
    run(store.delete_object(B, "old"))
    new = content("new", 3_200_000)
    run(put(store, B, "new", new, piece=64 * KiB))
    before = allocated(store.packs_dir)
    report = run(store.collect_garbage(grace_seconds=0))
    after = allocated(store.packs_dir)
    live = run(store.stats()).stored_bytes
    assert report.packs_compacted == 0
    assert before - after >= 2_000_000 - 64 * KiB
    assert live <= after <= live + 64 * KiB
    assert_same(run(read(store, B, "new")), new)
    assert run(store.check()).ok


@pytest.mark.parametrize("config", [BIG_PACKS, SMALL], ids=["one-pack", "small-packs"])
def test_deleting_everything_leaves_the_packs_nearly_empty(harness, run, config):
    """The issue's target: after deleting every object and one GC, the data
    directory is within 1 MiB (plus the index) of empty."""
    store = harness.reopen(config)
    run(store.create_bucket(B, OWNER))
    run(store.create_bucket("bucket-b", OWNER))
    shared = content("shared", 600 * KiB)

    async def fill() -> None:  # concurrent PUTs: their records interleave in the packs
        await asyncio.gather(*(put(store, B, f"k{i}", content(i, (i % 7) * 150 * KiB + 1000), piece=(i + 3) * KiB)
                               for i in range(16)))
        await put(store, "bucket-b", "dup", shared + content("tail", 90 * KiB))
        await put(store, B, "dup", shared)

    run(fill())
    upload_id = start_upload(store, run, B, "mp")
    parts = [run(upload_part(store, B, "mp", upload_id, n, content(f"part{n}", 100 * KiB)))[0] for n in (1, 2)]
    run(store.complete_multipart_upload(B, "mp", upload_id, [(p.part_number, p.etag) for p in parts]))
    assert allocated(store.packs_dir) > 7 * MiB
    for bucket in (B, "bucket-b"):
        keys = [e.key for e in run(store.list_objects(bucket)).entries]
        run(store.delete_objects(bucket, [DeleteRequest(k) for k in keys]))
    run(store.collect_garbage(grace_seconds=0))
    stats = run(store.stats())
    assert (stats.objects, stats.fragments, stats.stored_bytes) == (0, 0, 0)
    assert allocated(store.packs_dir) < 1 * MiB
    assert allocated(store.path) - allocated(store.path / "index") < 1 * MiB
    assert stats.pack_bytes < 1 * MiB
    assert run(store.check()).ok


def test_a_crash_between_the_commit_and_the_punch(tmp_path, loop):
    """The subprocess frees an object's fragments (committed) and is killed at
    its first punch: the ranges stay queued, the store is consistent, and the
    next open and GC give the space back."""
    data = tmp_path / "data"
    proc = subprocess.run([sys.executable, str(CRASHER), str(data)], cwd=CRASHER.parent,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert proc.stdout.split() == ["GC", "PUNCH"], proc.stdout
    assert queued(data) > 0
    before = allocated(data / "packs")
    assert before >= 1500 * KiB

    async def reopen() -> tuple[bool, int]:
        store = await Store.open(data, BIG_PACKS)
        try:
            ok = (await store.check()).ok
            assert_same(await read(store, "crash", "keep"), content("keep", 300 * KiB))
            assert (await store.stats()).unique_bytes == 300 * KiB
            await store.collect_garbage(grace_seconds=0)
            return ok, allocated(data / "packs")
        finally:
            await store.close()

    ok, after = loop.run_until_complete(reopen())
    assert ok
    assert after <= 300 * KiB + 64 * KiB
    assert queued(data) == 0


def test_a_failed_punch_is_tried_again_by_the_next_gc(harness, run, monkeypatch, caplog):
    store = harness.reopen(BIG_PACKS)
    run(store.create_bucket(B, OWNER))
    run(put(store, B, "keep", content("keep", 200 * KiB)))
    run(put(store, B, "drop", content("drop", 800 * KiB)))
    run(store.delete_object(B, "drop"))
    real = holes.punch_hole

    def failing(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(holes, "punch_hole", failing)
    before = allocated(store.packs_dir)
    with caplog.at_level(logging.WARNING, "fragstore.gc"):
        report = run(store.collect_garbage(grace_seconds=0))
    assert report.fragments_freed > 0 and report.bytes_punched == 0
    assert "the next GC tries again" in caplog.text
    assert allocated(store.packs_dir) == before
    assert run(store.check()).ok
    monkeypatch.setattr(holes, "punch_hole", real)
    report = run(store.collect_garbage(grace_seconds=0))
    assert report.fragments_freed == 0 and report.bytes_punched >= 800 * KiB - 8 * KiB
    assert allocated(store.packs_dir) <= before - (800 * KiB - 8 * KiB)
    assert_same(run(read(store, B, "keep")), content("keep", 200 * KiB))
    assert run(store.check()).ok


def test_without_punch_support_compaction_gives_the_space_back(no_holes, harness, run, caplog):
    """A filesystem that cannot punch holes: logged once, nothing is queued, and
    GC compacts as before holes (the open pack is sealed and rewritten when its
    live share falls below the threshold)."""
    with caplog.at_level(logging.WARNING, "fragstore.holes"):
        store = harness.reopen(BIG_PACKS)
        run(store.create_bucket(B, OWNER))
        keep = content("keep", 300 * KiB)
        run(put(store, B, "keep", keep))
        run(put(store, B, "drop", content("drop", 1200 * KiB)))
        run(store.delete_object(B, "drop"))
        before = allocated(store.packs_dir)
        report = run(store.collect_garbage(grace_seconds=0))
        run(store.collect_garbage(grace_seconds=0))
    assert caplog.text.count("cannot punch holes") == 1
    assert not store.writer.packs.punches
    assert report.bytes_punched == 0 and report.packs_compacted == 1
    assert report.bytes_reclaimed_on_disk >= 1500 * KiB - 8 * KiB
    assert allocated(store.packs_dir) <= before - 1200 * KiB
    assert_same(run(read(store, B, "keep")), keep)
    assert run(store.check()).ok
    harness.close()
    assert queued(harness.path) == 0


def test_without_punch_support_the_threshold_decides(no_holes, harness, run):
    """What the issue measured: a pack more than half live keeps its dead bytes."""
    store = harness.reopen(BIG_PACKS)
    run(store.create_bucket(B, OWNER))
    run(put(store, B, "old", content("old", 2_000_000), piece=64 * KiB))
    run(store.delete_object(B, "old"))
    run(put(store, B, "new", content("new", 3_200_000), piece=64 * KiB))
    report = run(store.collect_garbage(grace_seconds=0))
    assert (report.packs_compacted, report.bytes_reclaimed_on_disk) == (0, 0)
    assert allocated(store.packs_dir) >= 5_200_000


def test_the_dry_run_estimates_the_holes(harness, run):
    store = harness.reopen(BIG_PACKS)
    run(store.create_bucket(B, OWNER))
    run(put(store, B, "keep", content("keep", 300 * KiB)))
    run(put(store, B, "drop", content("drop", 900 * KiB)))
    run(store.delete_object(B, "drop"))
    dry = run(store.collect_garbage(dry_run=True, grace_seconds=0))
    real = run(store.collect_garbage(grace_seconds=0))
    assert dry.dry_run and dry.bytes_punched > 0
    assert abs(dry.bytes_punched - real.bytes_punched) <= 8 * KiB
    assert abs(dry.bytes_reclaimed_on_disk - real.bytes_reclaimed_on_disk) <= 8 * KiB


def test_a_restart_leaves_deleted_versions_to_gc(harness, run):
    """Opening frees only what a crash left (pending manifests, queued holes):
    deleted versions wait for GC and its grace period, restart or not, so that
    ``gc --grace N`` frees what N says; that GC punches their records."""
    store = harness.reopen(BIG_PACKS)
    run(store.create_bucket(B, OWNER))
    run(put(store, B, "keep", content("keep", 100 * KiB)))
    run(put(store, B, "drop", content("drop", 900 * KiB)))
    run(store.delete_object(B, "drop"))
    before = allocated(store.packs_dir)
    store = harness.reopen()
    assert allocated(store.packs_dir) >= before - 8 * KiB
    report = run(store.collect_garbage(grace_seconds=0))
    assert report.manifests_reclaimed == 1 and report.bytes_punched >= 900 * KiB - 8 * KiB
    assert allocated(store.packs_dir) <= before - 900 * KiB
    assert run(store.check()).ok


# -- GETs racing punching and compaction ----------------------------------------


def test_gets_racing_deletes_punching_and_compaction_read_right_bytes(harness, run):
    """Readers stream live objects while others are deleted, their records
    punched and half-dead packs compacted (threshold 1), round after round."""
    store = harness.reopen(StoreConfig(**{**SMALL.__dict__, "compact_threshold": 1.0}))
    run(store.create_bucket(B, OWNER))
    bodies = {f"live{i}": content(f"live{i}", 700 * KiB + i) for i in range(4)}

    async def scenario() -> int:
        for key, body in bodies.items():
            await put(store, B, key, body)
        compacted = 0
        for round_ in range(4):
            await asyncio.gather(*(put(store, B, f"dead{round_}-{i}", content(f"dead{round_}-{i}", 300 * KiB))
                                   for i in range(3)))
            readers = [read(store, B, key) for key in bodies]

            async def churn(round_: int = round_) -> int:
                await store.delete_objects(B, [DeleteRequest(f"dead{round_}-{i}") for i in range(3)])
                report = await store.collect_garbage(grace_seconds=0)
                return report.packs_compacted

            *got, n = await asyncio.gather(*readers, churn())
            compacted += n
            for body, data in zip(bodies.values(), got, strict=True):
                assert_same(data, body)
        return compacted

    assert run(scenario()) > 0
    assert run(store.check()).ok


def test_a_reader_whose_old_copy_was_punched_looks_the_fragment_up_again(harness, run):
    """Compaction never punches the old copy of a record it moved (the whole old
    pack goes), but a reader that meets zeros where its fragment was (the hash
    fails) looks it up again before calling it corrupt. Here the records move
    and their old copies are punched between a batch's lookup and its read."""
    store = harness.reopen(BIG_PACKS)
    run(store.create_bucket(B, OWNER))
    body = content("moved", 3 * MiB)
    run(put(store, B, "k", body))
    [pid] = list_pack_ids(store.packs_dir)
    path = pack_path(store.packs_dir, pid)
    reader = run(store.open_object(B, "k"))  # the first batch is read
    lookup = reader._next_fragments
    punched: list[int] = []

    def lookup_then_move_and_punch():  # in the reader's worker thread
        frags = lookup()
        if frags and not punched:
            store.writer.run_sync(gc._seal)
            records = list(scan_records(path))
            batch = list(records)
            store.writer.run_sync(lambda w: gc._move(w, pid, batch))
            punched.append(store.packs.holes.punch(path, [(pos, h.total) for pos, h, _ in records]))
        return frags

    reader._next_fragments = lookup_then_move_and_punch

    async def consume() -> bytes:
        out = bytearray()
        try:
            async for chunk in reader:
                out += chunk
        finally:
            await reader.aclose()
        return bytes(out)

    assert_same(run(consume()), body)
    assert punched and punched[0] > 2 * MiB
    assert run(store.check()).ok


def test_a_get_outliving_the_grace_period_fails_cleanly(harness, run):
    """A GET of a deleted object whose manifest GC reclaims (and punches) under
    it: it serves right bytes and then fails with CorruptFragment, never zeros."""
    store = harness.reopen(BIG_PACKS)
    run(store.create_bucket(B, OWNER))
    body = content("late", 6 * MiB)
    run(put(store, B, "k", body))
    run(put(store, B, "other", content("other", 200 * KiB)))

    async def scenario() -> tuple[bytes, BaseException | None]:
        reader = await store.open_object(B, "k")
        out = bytearray()
        try:
            async for chunk in reader:
                out += chunk
                if (await store.delete_object(B, "k")).removed:
                    report = await store.collect_garbage(grace_seconds=0)
                    assert report.bytes_punched > 4 * MiB
        except errors.CorruptFragment as exc:
            return bytes(out), exc
        finally:
            await reader.aclose()
        return bytes(out), None

    got, failure = run(scenario())
    assert failure is not None
    assert len(got) < len(body)
    assert_same(got, body[: len(got)])
    assert_same(run(read(store, B, "other")), content("other", 200 * KiB))


def test_a_probe_refused_for_any_reason_means_no_holes(tmp_path, monkeypatch, caplog):
    def refuse(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(holes, "punch_hole", refuse)
    with caplog.at_level(logging.WARNING, "fragstore.holes"):
        assert not holes.Holes(tmp_path).supported
    assert "cannot punch holes" in caplog.text
    assert list(tmp_path.iterdir()) == []  # the probe's scratch file is gone


def test_support_lost_after_open_turns_punching_off(harness, run, monkeypatch):
    """EOPNOTSUPP from a later punch (the probe passed): the queue is dropped,
    nothing more is queued, and compaction takes over."""
    store = harness.reopen(BIG_PACKS)
    run(store.create_bucket(B, OWNER))
    keep = content("keep", 200 * KiB)
    run(put(store, B, "keep", keep))
    run(put(store, B, "drop", content("drop", 900 * KiB)))
    run(store.delete_object(B, "drop"))

    def unsupported(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(holes, "punch_hole", unsupported)
    report = run(store.collect_garbage(grace_seconds=0))
    assert not store.writer.packs.punches
    assert report.bytes_punched == 0 and report.packs_compacted == 1  # the open pack, sealed and rewritten
    assert_same(run(read(store, B, "keep")), keep)
    assert run(store.check()).ok
    harness.close()
    assert queued(harness.path) == 0
