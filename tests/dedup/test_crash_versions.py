"""Crash safety of S3 versions: the kill loop of test_crash.py on a bucket with
versioning enabled, where the writer also removes versions by id.

After each SIGKILL the data directory is reopened and, per key:

- every acknowledged version (PUT, COPY, delete marker) is listed and reads
  back byte for byte (a marker as a marker), unless an acknowledged DELVER
  removed it: nothing acknowledged is lost;
- no version removed by an acknowledged DELVER is listed: nothing comes back;
- a listed version nobody acknowledged comes from a write announced but cut
  short by the kill (at most one per such write, with that write's bytes);
- acknowledged versions are listed newest first, in the order they were
  acknowledged, and the current version is the first listed;
- ``check`` is ok, and after GC no stored byte is left that no version uses.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from crash_writer import BUCKET, body
from storetest import SMALL, read
from test_crash import _kill_after

from dedup import Store, errors

MARKER = -2


@dataclass
class Versions:
    """Per key: acknowledged versions in order (id -> content id or MARKER),
    removed ids, and the writes announced but not acknowledged."""

    acked: dict[str, dict[str, int]] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    pending: dict[str, list[int]] = field(default_factory=dict)
    acks: int = 0

    def feed(self, line: str) -> None:
        words = line.split()
        if len(words) < 3 or words[0] not in ("TRY", "ACK"):
            return
        op = words[1]
        key = words[3] if op == "COPY" else words[2]
        if words[0] == "TRY":
            if op in ("PUT", "COPY"):
                self.pending.setdefault(key, []).append(int(words[4] if op == "COPY" else words[3]))
            elif op == "DEL":
                self.pending.setdefault(key, []).append(MARKER)
            return
        self.acks += 1
        if op == "DELVER":
            self.acked.get(key, {}).pop(words[3], None)
            self.removed.add(words[3])
            return
        cid = MARKER if op == "DEL" else int(words[4] if op == "COPY" else words[3])
        self.acked.setdefault(key, {})[words[-1]] = cid
        self.pending[key].remove(cid)


async def _read(store: Store, key: str, version_id: str) -> bytes:
    return await read(store, BUCKET, key, version_id=version_id)


async def _verify(data: Path, model: Versions) -> None:
    store = await Store.open(data, SMALL)
    try:
        if BUCKET not in [b.name for b in await store.list_buckets()]:
            assert not any(model.acked.values())
            return
        listed: dict[str, list[tuple[str, bool, bool]]] = {}
        for e in (await store.list_object_versions(BUCKET, max_keys=100000)).entries:
            listed.setdefault(e.key, []).append((e.version_id, e.delete_marker, e.is_latest))
        for key in set(listed) | set(model.acked):
            found = listed.get(key, [])
            ids = [vid for vid, _, _ in found]
            acked = model.acked.get(key, {})
            assert [vid for vid in ids if vid in acked] == list(acked)[::-1], f"{key}: order or loss"
            assert not set(ids) & model.removed, f"{key}: a removed version came back"
            unknown = [(vid, marker) for vid, marker, _ in found if vid not in acked]
            pending = list(model.pending.get(key, []))
            for vid, marker in unknown:
                if marker:
                    assert MARKER in pending, f"{key}: delete marker {vid} nobody wrote"
                    pending.remove(MARKER)
                    acked_now = MARKER
                else:
                    got = await _read(store, key, vid)
                    match = [cid for cid in pending if cid != MARKER and body(cid) == got]
                    assert match, f"{key}: version {vid} holds bytes nobody wrote"
                    pending.remove(match[0])
                    acked_now = match[0]
                model.acked.setdefault(key, {})[vid] = acked_now
            for vid, marker, latest in found:
                cid = model.acked[key][vid]
                assert marker == (cid == MARKER)
                if not marker:
                    assert await _read(store, key, vid) == body(cid), f"{key} {vid}: bytes differ"
                assert latest == (vid == ids[0])
            if found and found[0][1]:
                with pytest.raises(errors.NoSuchKey):
                    await store.head_object(BUCKET, key)
            # from now on the store's order is the model's
            model.acked[key] = {vid: model.acked[key][vid] for vid in reversed(ids)}
        model.pending = {}
        report = await store.check()
        assert report.ok, report
        await store.collect_garbage(grace_seconds=0)
        stats = await store.stats(exact=True)
        assert stats.objects == sum(1 for vs in model.acked.values() for c in vs.values() if c != MARKER)
        assert stats.unique_bytes == sum(b.unique_bytes or 0 for b in stats.buckets)
    finally:
        await store.close()


def _kill_loop(tmp_path: Path, rounds: int, seed: int, gc: bool) -> None:
    rng = random.Random(seed)
    data = tmp_path / "data"
    model = Versions()
    for r in range(rounds):
        delay = rng.choice([rng.uniform(0.0, 0.5), rng.uniform(0.5, 1.5)])
        for line in _kill_after(data, seed * 1000 + r, delay, gc, "--versioned"):
            model.feed(line)
        asyncio.run(_verify(data, model))
    assert model.acks > 0


def test_kill_loop_versioned(tmp_path):
    _kill_loop(tmp_path, rounds=12, seed=11, gc=True)


@pytest.mark.slow
def test_kill_loop_versioned_long(tmp_path):
    _kill_loop(tmp_path, rounds=120, seed=12, gc=True)
