"""Garbage collection: reclaim dead manifests, punch holes, compact packs.

1. Reclaiming deletes the rows of manifests that reached refcount zero more
   than a grace period ago and frees the fragments that no row names any more.
   Freeing a fragment queues its record's range in the ``holes`` table in the
   same transaction (WriteTxn.free).
2. Punching (:func:`punch_queued`) reads the committed queue and punches each
   range out of its pack (dedup/holes.py): the disk space of a deleted object
   comes back in this run, whatever else its packs hold. Rows left by a crash
   or a failed punch are punched by the next run (and on open).
3. Compaction is for fragmentation. Planned (pure, :func:`plan_compaction`,
   from the ``packs`` table and each pack's allocated blocks; the dry run stops
   there) separately from its execution (restic's prune): a sealed pack whose
   live bytes are below ``compact_threshold`` of the disk space it occupies
   has its live records copied to the open pack, the index repointed and
   committed, and only then is the old pack retired and its file removed. A
   sealed pack with nothing live is retired without copying.

Where holes can be punched, the disk space of a pack is its allocated blocks
(at most its length): after punching, what stays there beyond the live bytes
is the partial blocks around small holes, which only a rewrite gives back. The
open pack is never compacted: its holes are punched like any other pack's, and
it is judged once it is sealed. Where the filesystem cannot punch holes, dead
bytes stay allocated and a pack's disk space is its length: a pack, the open
one included (it is sealed first), is compacted when its live share falls
below the threshold, as before holes.

Records moved by compaction are not punched one by one: their old copies go
when the whole old pack is deleted, so a reader still holding an old location
reads the old bytes or finds the pack gone (and looks the fragment up again),
never zeros.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dedup.format import HEADER_SIZE, RecordHeader, unpack_header
from dedup.index import HOLE, PACK, U32, U64, U64X2, FragmentRow, Index, manifest_entries
from dedup.manifests import reclaim_rows
from dedup.packs import PackFiles, pack_path, scan_records
from dedup.types import GcReport
from dedup.writer import NewRecord, Writer, WriteTxn

log = logging.getLogger("fragstore.gc")

ROWS_PER_JOB = 20000
HOLES_PER_JOB = 20000
MOVE_BYTES = 8 * 1024 * 1024
RETIRED = 2


@dataclass(frozen=True)
class PackState:
    """A pack as planning sees it: its ``packs`` row and its allocated bytes."""

    pack_id: int
    committed: int
    live: int
    disk: int  # allocated blocks of its file, in bytes
    is_open: bool


@dataclass(frozen=True)
class PackPlan:
    pack_id: int
    committed: int
    live: int
    is_open: bool
    disk: int = 0


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


def pack_states(index: Index, packs_dir: Path, open_pack: int) -> list[PackState]:
    """Every pack that holds something and is not retired, with its allocated bytes."""
    with index.read() as txn:
        rows = [(U32.unpack(k)[0], PACK.unpack(v)) for k, v in txn.cursor(db=index.db["packs"])]
    out = []
    for pid, (committed, live, state) in rows:
        if state == RETIRED or committed == 0:
            continue
        try:
            disk = os.stat(pack_path(packs_dir, pid)).st_blocks * 512
        except FileNotFoundError:
            disk = 0
        out.append(PackState(pid, committed, live, disk, pid == open_pack))
    return out


def plan_compaction(
    packs: list[PackState], threshold: float, punching: bool, freed: dict[int, int] | None = None
) -> list[PackPlan]:
    """The packs to compact (or, with nothing live, to delete). ``punching``:
    the filesystem punches holes (see the module docstring). ``freed``: bytes
    per pack that a dry run's reclaiming would free (and punch) first."""
    plans = []
    for p in packs:
        gone = (freed or {}).get(p.pack_id, 0)
        live = max(0, p.live - gone)
        if punching:
            if p.is_open:
                continue
            room = min(p.committed, max(live, p.disk - gone))
        else:
            room = p.committed
        if live == 0 or live < room * threshold:
            plans.append(PackPlan(p.pack_id, p.committed, live, p.is_open, p.disk))
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


def _move(w: WriteTxn, pack_id: int, records: list[tuple[int, RecordHeader, bytes]]) -> None:
    """Copy still-live records of ``pack_id`` to the open pack, byte for byte
    (a damaged record stays detectably damaged), and repoint them."""
    live = []
    for pos, header, data in records:
        digest = header.digest
        row = w.index.fragment(w.txn, digest)
        if row is not None and row.pack == pack_id and row.offset == pos:
            live.append((row, NewRecord(digest, header.codec, header.raw_length, data, header=header)))
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


def _take(records: Iterator[tuple[int, RecordHeader, bytes]], limit: int) -> list[tuple[int, RecordHeader, bytes]]:
    batch = []
    size = 0
    for pos, header, data in records:
        batch.append((pos, header, data))
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


def queued_holes(index: Index, after: bytes, limit: int) -> list[tuple[bytes, int, int, int]]:
    """Up to ``limit`` committed rows of the ``holes`` queue past key ``after``:
    (key, pack, offset, length). A read transaction sees committed rows only,
    so every range returned belongs to a fragment whose freeing is durable."""
    out: list[tuple[bytes, int, int, int]] = []
    with index.read() as txn:
        cur = txn.cursor(db=index.db["holes"])
        if not (cur.set_range(after + b"\0") if after else cur.first()):
            return out
        for key, value in cur:
            pid, offset = HOLE.unpack(key)
            out.append((key, pid, offset, U32.unpack(value)[0]))
            if len(out) >= limit:
                break
    return out


def _punch(w: WriteTxn, rows: list[tuple[bytes, int, int, int]]) -> int:
    """Punch the ranges of ``rows`` (committed queue rows) out of their packs
    and drop the rows; returns the disk bytes that came back. A pack that is
    gone or retired needs no punching; a pack whose punch fails keeps its rows
    for the next run. A range is punched only if it holds a whole record that
    no fragment row points at (:func:`_dead_record`)."""
    holes = w.writer.holes
    by_pack: dict[int, list[tuple[bytes, int, int, int]]] = {}
    for row in rows:
        by_pack.setdefault(row[1], []).append(row)
    returned = 0
    for pid, items in by_pack.items():
        pack = w.index.pack(w.txn, pid)
        if pack is not None and pack[2] != RETIRED and holes.supported:
            ranges = [(off, n) for _, _, off, n in items if _dead_record(w, pid, off, n)]
            try:
                returned += holes.punch(pack_path(w.writer.packs_dir, pid), ranges) if ranges else 0
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("punching %d holes in pack %08x failed (%s); the next GC tries again", len(items), pid, exc)
                continue
        for key, *_ in items:
            w.txn.delete(key, db=w.index.db["holes"])
    return returned


def _dead_record(w: WriteTxn, pack_id: int, offset: int, length: int) -> bool:
    """Whether [offset, offset+length) of the pack is one whole record whose
    fragment row (if any) points elsewhere. Freeing queued it as such; this
    guards live bytes against an index that says otherwise (``check --repair``
    freeing an orphan row that shares a live record's place, say). Bytes that
    are not a record header (zeros: punched already) are left alone."""
    try:
        head = w.writer.files.read(pack_id, offset, HEADER_SIZE)
    except OSError:
        return False
    header = unpack_header(head)
    if header is None or header.total != length:
        return False
    row = w.index.fragment(w.txn, header.digest)
    return row is None or (row.pack, row.offset) != (pack_id, offset)


async def punch_queued(writer: Writer) -> int:
    """Punch every committed range of the ``holes`` queue; returns the disk bytes
    that came back. Runs after reclaiming, on open, and after a repair."""
    returned = 0
    after = b""
    while rows := await asyncio.to_thread(queued_holes, writer.index, after, HOLES_PER_JOB):
        returned += await writer.run(lambda w, r=rows: _punch(w, r))  # type: ignore[misc]
        after = rows[-1][0]
    return returned


async def collect(
    writer: Writer, files: PackFiles, packs_dir: Path, grace_seconds: float, threshold: float, dry_run: bool
) -> GcReport:
    if dry_run:
        return await asyncio.to_thread(
            dry_run_report, writer.index, packs_dir, writer.pack.pack_id, grace_seconds, threshold,
            writer.holes.supported)
    due = due_manifests(writer.index, time.time_ns() - int(grace_seconds * 1e9))
    freed = freed_bytes = 0
    for key, mid in due:
        f, b = await reclaim(writer, key, mid)
        freed += f
        freed_bytes += b
    punched = await punch_queued(writer)
    plans = await _plan(writer, packs_dir, threshold)
    if any(p.is_open for p in plans):  # seal it first, so moved records never land in it
        await writer.run(_seal)
        plans = await _plan(writer, packs_dir, threshold)
    on_disk = punched
    for plan in plans:
        on_disk += await compact(writer, files, packs_dir, plan)
    return GcReport(False, len(due), freed, freed_bytes, sum(1 for p in plans if p.live),
                    sum(1 for p in plans if not p.live), on_disk, punched)


async def _plan(writer: Writer, packs_dir: Path, threshold: float, freed: dict[int, int] | None = None) -> list[PackPlan]:
    states = await asyncio.to_thread(pack_states, writer.index, packs_dir, writer.pack.pack_id)
    return plan_compaction(states, threshold, writer.holes.supported, freed)


def dry_run_report(
    index: Index, packs_dir: Path, open_pack: int, grace_seconds: float, threshold: float, punching: bool,
) -> GcReport:
    """The dry run, with reads only: what reclaiming the manifests due would
    free, and the plan after it. Disk bytes are estimated: a hole returns about
    its record's bytes, a deleted pack what its file still occupies."""
    due = due_manifests(index, time.time_ns() - int(grace_seconds * 1e9))
    freed, freed_bytes, per_pack = simulate_reclaim(index, [v for _, v in due])
    plans = plan_compaction(pack_states(index, packs_dir, open_pack), threshold, punching, per_pack)
    punched = sum(per_pack.values()) if punching else 0
    deleted = sum(max(0, p.disk - per_pack.get(p.pack_id, 0)) if punching else p.disk for p in plans)
    return GcReport(True, len(due), freed, freed_bytes, sum(1 for p in plans if p.live),
                    sum(1 for p in plans if not p.live), punched + deleted, punched)
