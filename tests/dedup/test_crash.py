"""Crash safety.

The kill loop runs ``crash_writer.py`` in a subprocess against one data
directory, SIGKILLs it after a random delay (sometimes while it is still
opening and recovering), reopens the directory here and checks that every
acknowledged write is there byte for byte (the last acknowledged PUT or COPY of
each key, absent after an acknowledged DELETE; a write that was announced but
not acknowledged may or may not have happened), that ``check`` is ok, and
that after GC no stored byte is left that no live object uses.

The recovery steps are also tested one by one: the open pack cut back to its
committed length, uncommitted pack files removed, pending manifests and stale
uploads reclaimed, tmp/ cleared.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from crash_writer import BUCKET, body
from storetest import META, SMALL, assert_same, content, md5, put, read, stream

from dedup import Store, errors
from dedup.packs import list_pack_ids, pack_path
from dedup.types import KiB, StoreConfig

WRITER = Path(__file__).with_name("crash_writer.py")
ABSENT = -1  # the state of a deleted or never written key


@dataclass
class Model:
    """What the store must hold: per key the last acknowledged content id, and
    the content id of a write announced after it but never acknowledged."""

    acked: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    acks: int = 0

    def feed(self, line: str) -> None:
        words = line.split()
        if len(words) < 3 or words[0] not in ("TRY", "ACK"):
            return  # READY, GC
        op = words[1]
        key = words[3] if op == "COPY" else words[2]
        if op == "DEL":
            state = ABSENT
        else:
            state = int(words[4] if op == "COPY" else words[3])
        if words[0] == "TRY":
            self.pending[key] = state
            return
        if state != ABSENT:  # the ETag the store acknowledged is the MD5 of the body
            assert words[-1] == md5(body(state)), line
        self.acks += 1
        self.acked[key] = state
        self.pending.pop(key, None)

    def allowed(self, key: str) -> set[int]:
        states = {self.acked.get(key, ABSENT)}
        if key in self.pending:
            states.add(self.pending[key])
        return states


def _kill_after(data: Path, seed: int, delay: float, gc: bool, *flags: str) -> list[str]:
    args = [sys.executable, str(WRITER), str(data), str(seed)] + (["--gc"] if gc else []) + list(flags)
    proc = subprocess.Popen(args, cwd=WRITER.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    # The delay counts from the writer's READY (its store open), so that a
    # loaded machine's slow start does not eat the time meant for writes; the
    # shortest delays still kill it at once, during its start and recovery.
    before = [""]
    if delay >= 0.05:
        before = [proc.stdout.readline()]
        while before[-1] and before[-1].strip() != "READY":
            before.append(proc.stdout.readline())
    time.sleep(delay)  # where the kill lands; nothing is asserted about time
    proc.send_signal(signal.SIGKILL)
    # Read through the same buffered stream as readline above: communicate()
    # would read the pipe underneath it and lose what readline buffered.
    out = proc.stdout.read()
    err = proc.stderr.read() if proc.stderr else ""
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"the writer stopped by itself:\n{err}"
    complete = ("".join(before) + out).split("\n")[:-1]  # a line cut by the kill has no newline yet
    return complete


async def _verify(data: Path, model: Model) -> dict[str, int]:
    """Open the data directory, compare every key with the model, run check."""
    store = await Store.open(data, SMALL)
    try:
        seen: dict[str, int] = {}
        buckets = [b.name for b in await store.list_buckets()]
        keys = set(model.acked) | set(model.pending)
        if BUCKET not in buckets:
            assert all(model.allowed(k) >= {ABSENT} for k in keys)
            return {}
        listed = {e.key for e in (await store.list_objects(BUCKET)).entries}
        assert listed <= keys, f"keys nobody wrote: {listed - keys}"
        for key in sorted(keys):
            allowed = model.allowed(key)
            try:
                got = await read(store, BUCKET, key)
            except errors.NoSuchKey:
                assert ABSENT in allowed, f"{key}: acknowledged write lost (want {allowed})"
                seen[key] = ABSENT
                continue
            match = [cid for cid in allowed if cid != ABSENT and body(cid) == got]
            assert match, f"{key}: {len(got)} bytes match none of {allowed}"
            seen[key] = match[0]
            assert key in listed
        report = await store.check()
        assert report.ok, report
        # Nothing a crash interrupted leaks: after GC every stored fragment
        # belongs to a live object.
        await store.collect_garbage(grace_seconds=0)
        stats = await store.stats(exact=True)
        assert stats.objects == len(listed)
        assert stats.unique_bytes == sum(b.unique_bytes or 0 for b in stats.buckets)
        return seen
    finally:
        await store.close()


def _kill_loop(tmp_path: Path, rounds: int, seed: int, gc: bool) -> None:
    rng = random.Random(seed)
    data = tmp_path / "data"
    model = Model()
    for r in range(rounds):
        delay = rng.choice([rng.uniform(0.0, 0.5), rng.uniform(0.5, 1.5)])
        for line in _kill_after(data, seed * 1000 + r, delay, gc):
            model.feed(line)
        seen = asyncio.run(_verify(data, model))
        model.acked = {k: v for k, v in seen.items()}
        model.pending = {}
    assert model.acks > 0  # the loop did real work between kills (how much depends on load)


def test_kill_loop(tmp_path):
    _kill_loop(tmp_path, rounds=20, seed=1, gc=False)


def test_kill_loop_with_gc(tmp_path):
    _kill_loop(tmp_path, rounds=10, seed=2, gc=True)


@pytest.mark.slow
@pytest.mark.parametrize("gc", [False, True])
def test_kill_loop_long(tmp_path, gc):
    _kill_loop(tmp_path, rounds=150, seed=3 + gc, gc=gc)


# -- recovery steps, one by one -------------------------------------------------


@pytest.mark.lmdb_only("one process owns the directory; with a shared index a start never cuts or removes packs (tests/cluster)")
def test_uncommitted_pack_bytes_are_cut_off(harness, run):
    store = harness.store
    run(store.create_bucket("bucket-a", "owner"))
    data = content("committed", 100 * KiB)
    run(put(store, "bucket-a", "k", data))
    newest = pack_path(store.packs_dir, list_pack_ids(store.packs_dir)[-1])
    committed = newest.stat().st_size
    harness.close()
    with open(newest, "ab") as f:
        f.write(b"torn record from a crash" * 100)
    store = harness.open()
    assert newest.stat().st_size == committed
    assert_same(run(read(store, "bucket-a", "k")), data)
    assert run(put(store, "bucket-a", "k2", content("after", 100 * KiB))).new_bytes == 100 * KiB
    assert run(store.check()).ok


@pytest.mark.lmdb_only("one process owns the directory; with a shared index a start never cuts or removes packs (tests/cluster)")
def test_uncommitted_pack_files_are_removed(harness, run):
    run(harness.store.create_bucket("bucket-a", "owner"))
    run(put(harness.store, "bucket-a", "k", b"x" * 1000))
    packs = harness.store.packs_dir
    stray = pack_path(packs, list_pack_ids(packs)[-1] + 1)
    harness.close()
    stray.write_bytes(b"a pack created before its first commit")
    store = harness.open()
    assert not stray.exists()
    assert_same(run(read(store, "bucket-a", "k")), b"x" * 1000)
    assert run(store.check()).ok


def test_pending_versions_are_reclaimed_on_open(harness, run):
    """A put that streamed its fragments but never published its key."""
    store = harness.store
    data = content("pending", 300 * KiB)
    mid = run(store._new_mid())
    result, _ = run(store.ingest.run(mid, stream([data]), lambda got: lambda w: None))
    assert result.new_bytes == len(data)
    assert run(store.stats()).unique_bytes == len(data)
    store = harness.reopen()
    stats = run(store.stats())
    assert (stats.unique_bytes, stats.fragments, stats.objects) == (0, 0, 0)
    assert run(store.check()).ok
    run(store.collect_garbage(grace_seconds=0))
    assert run(store.stats()).pack_bytes == 0


def test_stale_uploads_are_aborted_on_open(harness, run):
    store = harness.store
    run(store.create_bucket("bucket-a", "owner"))
    upload = run(store.create_multipart_upload("bucket-a", "k", META))
    run(store.upload_part("bucket-a", "k", upload.upload_id, 1, stream([content("part", 100 * KiB)])))
    store = harness.reopen()  # young: kept
    assert len(run(store.list_multipart_uploads("bucket-a")).uploads) == 1
    store = harness.reopen(StoreConfig(**{**SMALL.__dict__, "upload_max_age_seconds": 0.0}))
    assert run(store.list_multipart_uploads("bucket-a")).uploads == ()
    assert run(store.stats()).dead_manifests == 1  # its part, freed after the grace period like any
    run(store.collect_garbage(grace_seconds=0))
    assert run(store.stats()).unique_bytes == 0
    assert run(store.check()).ok


@pytest.mark.lmdb_only("one process owns the directory; with a shared index a start never cuts or removes packs (tests/cluster)")
def test_tmp_is_cleared_on_open(harness):
    tmp = harness.path / "tmp"
    harness.close()
    (tmp / "leftover").write_bytes(b"scratch")
    (tmp / "dir").mkdir()
    harness.open()
    assert list(tmp.iterdir()) == []


def test_vids_are_not_reused_after_reopen(harness, run):
    store = harness.store
    run(store.create_bucket("bucket-a", "owner"))
    run(put(store, "bucket-a", "a", content("a", 50 * KiB)))
    store = harness.reopen()
    run(put(store, "bucket-a", "b", content("b", 50 * KiB)))
    run(store.delete_object("bucket-a", "a"))
    run(store.collect_garbage(grace_seconds=0))
    assert_same(run(read(store, "bucket-a", "b")), content("b", 50 * KiB))
    assert run(store.check()).ok


def test_empty_part_does_not_share_its_version_after_reopen(harness, run):
    """An empty part's manifest id must not be handed out again after a restart."""
    store = harness.store
    run(store.create_bucket("bucket-a", "owner"))
    upload = run(store.create_multipart_upload("bucket-a", "mp", META))
    part, _ = run(store.upload_part("bucket-a", "mp", upload.upload_id, 1, stream([])))
    store = harness.reopen()
    data = content("after-empty-part", 50 * KiB)
    run(put(store, "bucket-a", "k", data))
    run(store.complete_multipart_upload("bucket-a", "mp", upload.upload_id, [(1, part.etag)]))
    run(store.delete_object("bucket-a", "k"))
    run(store.collect_garbage(grace_seconds=0))
    assert run(store.stats()).unique_bytes == 0  # nothing keeps "k"'s bytes alive
    assert run(store.check()).ok
