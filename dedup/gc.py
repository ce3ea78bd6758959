"""Garbage collection: reclaim dead manifests, then compact packs.

Reclaiming deletes the rows of manifests that reached refcount zero
more than a grace period ago and frees the fragments that no row names any
more. Compaction is planned (pure, from the ``packs`` table; the dry run stops
there) separately from its execution (restic's prune): a pack whose live share
fell below the threshold has its live records copied to the open pack, the
index repointed and committed, and only then is the old pack retired and its
file removed. A pack with nothing live is retired without copying.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dedup.format import HEADER_SIZE, RecordHeader
from dedup.index import PACK, U32, U64, U64X2, FragmentRow, Index, manifest_entries
from dedup.manifests import reclaim_rows
from dedup.packs import PackFiles, pack_path, scan_records
from dedup.types import GcReport
from dedup.writer import NewRecord, Writer, WriteTxn

ROWS_PER_JOB = 20000
MOVE_BYTES = 8 * 1024 * 1024
RETIRED = 2


@dataclass(frozen=True)
class PackPlan:
    pack_id: int
    committed: int
    live: int
    is_open: bool


def due_manifests(index: Index, cutoff_ns: int) -> list[tuple[bytes, int]]:
    with index.read() as txn:
        out = []
        for key, _ in txn.cursor(db=index.db["dead"]):
            t, mid = U64X2.unpack(key)
            if t > cutoff_ns:
                break
            out.append((key, mid))
        return out


def simulate_reclaim(index: Index, mids: list[int]) -> tuple[int, int, dict[int, int]]:
    """(fragments, raw bytes, pack bytes freed per pack) that reclaiming
    ``mids`` would free."""
    drops: Counter[bytes] = Counter()
    with index.read() as txn:
        cur = txn.cursor(db=index.db["manifests"])
        for mid in mids:
            prefix = U64.pack(mid)
            if cur.set_range(prefix):
                for key, value in cur:
                    if key[:8] != prefix:
                        break
                    for digest, _length in manifest_entries(value):
                        drops[digest] += 1
        freed = freed_bytes = 0
        per_pack: dict[int, int] = {}
        for digest, n in drops.items():
            row = index.fragment(txn, digest)
            if row is not None and row.refcount <= n:
                freed += 1
                freed_bytes += row.raw
                per_pack[row.pack] = per_pack.get(row.pack, 0) + HEADER_SIZE + row.stored
    return freed, freed_bytes, per_pack


def plan_compaction(
    index: Index, open_pack: int, threshold: float, freed: dict[int, int] | None = None
) -> list[PackPlan]:
    """Packs whose live share is below ``threshold`` (after ``freed`` bytes
    per pack, for a dry run that has not reclaimed them yet)."""
    with index.read() as txn:
        plans = []
        for key, value in txn.cursor(db=index.db["packs"]):
            committed, live, state = PACK.unpack(value)
            live = max(0, live - (freed or {}).get(U32.unpack(key)[0], 0))
            if state == RETIRED or committed == 0:
                continue
            if live < committed * threshold:
                pid = U32.unpack(key)[0]
                plans.append(PackPlan(pid, committed, live, pid == open_pack))
        return plans


async def reclaim(writer: Writer, key: bytes, mid: int) -> tuple[int, int]:
    freed = freed_bytes = 0
    while True:
        rows, f, b = await writer.run(lambda w: reclaim_rows(w, mid, ROWS_PER_JOB))
        freed += f
        freed_bytes += b
        if rows < ROWS_PER_JOB:
            await writer.run(lambda w: w.txn.delete(key, db=w.index.db["dead"]))
            return freed, freed_bytes


def _move(w: WriteTxn, pack_id: int, records: list[tuple[int, bytes, int, int, bytes]]) -> None:
    """Copy still-live records of ``pack_id`` to the open pack and repoint them."""
    live = []
    for pos, digest, codec, raw, data in records:
        row = w.index.fragment(w.txn, digest)
        if row is not None and row.pack == pack_id and row.offset == pos:
            live.append((row, NewRecord(digest, codec, raw, data)))
    if not live:
        return
    places = w.append([rec for _, rec in live])
    for (row, rec), (pid, at) in zip(live, places, strict=True):
        w.index.put_fragment(w.txn, rec.digest, FragmentRow(pid, at, row.stored, row.raw, row.codec, row.refcount))
        w.release(pack_id, HEADER_SIZE + row.stored)


def _retire(w: WriteTxn, pack_id: int) -> None:
    row = w.index.pack(w.txn, pack_id)
    if row is not None:
        w.index.put_pack(w.txn, pack_id, row[0], 0, RETIRED)


def _seal(w: WriteTxn) -> None:
    w.writer.seal(w.txn)


async def compact(writer: Writer, files: PackFiles, packs_dir: Path, plan: PackPlan) -> int:
    """Execute one (sealed) pack's plan; returns the bytes its file occupied.
    Whether anything is still live is read now, not from the plan: earlier
    compactions may have moved records around since it was made."""
    with writer.index.read() as txn:
        row = writer.index.pack(txn, plan.pack_id)
    if row is None or row[2] == RETIRED:
        return 0
    if row[1]:
        records = scan_records(pack_path(packs_dir, plan.pack_id))
        while batch := await asyncio.to_thread(_take, records, MOVE_BYTES):
            await writer.run(lambda w, b=batch: _move(w, plan.pack_id, b))  # type: ignore[misc]
    await writer.run(lambda w: _retire(w, plan.pack_id))
    return await remove_retired(writer, files, packs_dir)


def _take(records: Iterator[tuple[int, RecordHeader, bytes]], limit: int) -> list[tuple[int, bytes, int, int, bytes]]:
    batch = []
    size = 0
    for pos, header, data in records:
        batch.append((pos, header.digest, header.codec, header.raw_length, data))
        size += len(data)
        if size >= limit:
            break
    return batch


async def remove_retired(writer: Writer, files: PackFiles, packs_dir: Path) -> int:
    """Delete the files of retired packs, then their rows. Safe to repeat."""
    index = writer.index
    with index.read() as txn:
        retired = [U32.unpack(k)[0] for k, v in txn.cursor(db=index.db["packs"]) if PACK.unpack(v)[2] == RETIRED]
    freed = 0
    for pid in retired:
        path = pack_path(packs_dir, pid)
        files.forget(pid)
        try:
            freed += os.stat(path).st_blocks * 512
            os.unlink(path)
        except FileNotFoundError:
            pass
    if retired:
        def drop(w: WriteTxn) -> None:
            for pid in retired:
                w.txn.delete(U32.pack(pid), db=w.index.db["packs"])
        await writer.run(drop)
    return freed


def dry_run_report(index: Index, open_pack: int, grace_seconds: float, threshold: float) -> GcReport:
    """The dry run: what :func:`collect` would free, found with reads only."""
    due = due_manifests(index, time.time_ns() - int(grace_seconds * 1e9))
    freed, freed_bytes, per_pack = simulate_reclaim(index, [v for _, v in due])
    plans = plan_compaction(index, open_pack, threshold, per_pack)
    return GcReport(True, len(due), freed, freed_bytes, sum(1 for p in plans if p.live),
                    sum(1 for p in plans if not p.live), sum(p.committed - p.live for p in plans))


async def collect(
    writer: Writer, files: PackFiles, packs_dir: Path, grace_seconds: float, threshold: float, dry_run: bool
) -> GcReport:
    if dry_run:
        return await asyncio.to_thread(dry_run_report, writer.index, writer.pack.pack_id, grace_seconds, threshold)
    due = due_manifests(writer.index, time.time_ns() - int(grace_seconds * 1e9))
    freed = freed_bytes = 0
    for key, mid in due:
        f, b = await reclaim(writer, key, mid)
        freed += f
        freed_bytes += b
    plans = plan_compaction(writer.index, writer.pack.pack_id, threshold)
    if any(p.is_open for p in plans):  # seal it first, so moved records never land in it
        await writer.run(_seal)
        plans = plan_compaction(writer.index, writer.pack.pack_id, threshold)
    on_disk = 0
    for plan in plans:
        on_disk += await compact(writer, files, packs_dir, plan)
    return GcReport(False, len(due), freed, freed_bytes, sum(1 for p in plans if p.live),
                    sum(1 for p in plans if not p.live), on_disk)
