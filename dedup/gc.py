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

Segmented stores (packs in S3, one segment per group commit) have no holes
and no open pack: a segment is compacted by the live-share rule above, and
small segments (under ``pack_size / 16``) are merged once there are
MERGE_MIN of them. Their plans run together: the live records of all the
packs planned are copied in batches of MOVE_BYTES, one job (so one new
segment) per batch, and only then are the old segments retired and deleted.

Records moved by compaction are not punched one by one: their old copies go
when the whole old pack is deleted, so a reader still holding an old location
reads the old bytes or finds the pack gone (and looks the fragment up again),
never zeros.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from dedup.format import HEADER_SIZE, RecordHeader, unpack_header
from dedup.index import HOLE, PACK, U32, U64, U64X2, FragmentRow, Index, manifest_entries
from dedup.manifests import reclaim_rows
from dedup.packstore import PackStore
from dedup.types import GcReport
from dedup.writer import NewRecord, Writer, WriteTxn

log = logging.getLogger("fragstore.gc")

ROWS_PER_JOB = 20000
HOLES_PER_JOB = 20000
MOVE_BYTES = 8 * 1024 * 1024
RETIRED = 2
MERGE_MIN = 8  # small segments merged only once there are this many
MERGE_SHARE = 16  # a segment is small under pack_size / MERGE_SHARE


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


def pack_states(index: Index, packs: PackStore, open_pack: int) -> list[PackState]:
    """Every pack that holds something and is not retired, with its allocated bytes.
    An unsealed pack other than ``open_pack`` is another live process's open one
    (dedup/gateways.py): left alone."""
    with index.read() as txn:
        rows = [(U32.unpack(k)[0], PACK.unpack(v)) for k, v in txn.cursor(db=index.db["packs"])]
    out = []
    for pid, (committed, live, state) in rows:
        if state == RETIRED or committed == 0 or (state == 0 and pid != open_pack):
            continue
        disk = packs.disk(pid)
        out.append(PackState(pid, committed, live, disk, pid == open_pack))
    return out


def plan_compaction(
    packs: list[PackState], threshold: float, punching: bool, freed: dict[int, int] | None = None,
    merge_below: int = 0,
) -> list[PackPlan]:
    """The packs to compact (or, with nothing live, to delete). ``punching``:
    the filesystem punches holes (see the module docstring). ``freed``: bytes
    per pack that a dry run's reclaiming would free (and punch) first.
    ``merge_below``: also merge the sealed packs shorter than this, once there
    are MERGE_MIN of them (segmented stores; 0: never)."""
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
    planned = {p.pack_id for p in plans}
    small = [p for p in packs if merge_below and p.pack_id not in planned and not p.is_open
             and p.committed < merge_below]
    if len(small) >= MERGE_MIN:
        plans += [PackPlan(p.pack_id, p.committed, max(0, p.live - (freed or {}).get(p.pack_id, 0)), False, p.disk)
                  for p in small]
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


Moved = tuple[int, int, RecordHeader, bytes]  # (pack, offset, header as read, stored bytes)


def _move(w: WriteTxn, pack_id: int, records: list[tuple[int, RecordHeader, bytes]]) -> None:
    """Copy still-live records of ``pack_id`` to the open pack and repoint them."""
    _move_many(w, [(pack_id, *r) for r in records])


def _move_many(w: WriteTxn, records: list[Moved]) -> None:
    """Copy the still-live ones of ``records`` (of any packs) to the pack being
    written, byte for byte (a damaged record stays detectably damaged: it is
    never given a fresh checksum), and repoint their fragments."""
    live = []
    for pack_id, pos, header, data in records:
        row = w.index.fragment(w.txn, header.digest)
        if row is not None and row.pack == pack_id and row.offset == pos:
            live.append((row, NewRecord(header.digest, header.codec, header.raw_length, data, header=header)))
    if not live:
        return
    places = w.append([rec for _, rec in live])
    for (row, rec), (pid, at) in zip(live, places, strict=True):
        w.index.put_fragment(w.txn, rec.digest, FragmentRow(pid, at, row.stored, row.raw, row.codec, row.refcount))
        w.release(row.pack, HEADER_SIZE + row.stored)


def _retire(w: WriteTxn, pack_id: int) -> None:
    row = w.index.pack(w.txn, pack_id)
    if row is not None:
        w.index.put_pack(w.txn, pack_id, row[0], 0, RETIRED)


def _seal(w: WriteTxn) -> None:
    w.writer.seal(w.txn)


async def compact(writer: Writer, plan: PackPlan) -> int:
    """Execute one (sealed) pack's plan; returns the bytes its file occupied.
    Whether anything is still live is read now, not from the plan: earlier
    compactions may have moved records around since it was made."""
    with writer.index.read() as txn:
        row = writer.index.pack(txn, plan.pack_id)
    if row is None or row[2] == RETIRED:
        return 0
    if row[1]:
        records = writer.packs.records(plan.pack_id)
        while batch := await asyncio.to_thread(_take, records, MOVE_BYTES):
            await writer.run(lambda w, b=batch: _move(w, plan.pack_id, b))  # type: ignore[misc]
    await writer.run(lambda w: _retire(w, plan.pack_id))
    return await remove_retired(writer)


async def compact_together(writer: Writer, plans: list[PackPlan]) -> int:
    """Execute several packs' plans at once (segmented stores): their live
    records are copied in batches of MOVE_BYTES, each batch one job, so small
    segments come out merged; then every one of them is retired and deleted.
    Returns the bytes they occupied."""
    with writer.index.read() as txn:
        rows = {p.pack_id: writer.index.pack(txn, p.pack_id) for p in plans}
    todo = [pid for pid, row in rows.items() if row is not None and row[2] != RETIRED]
    records = _records_of(writer, [pid for pid in todo if rows[pid][1]])  # type: ignore[index]
    while batch := await asyncio.to_thread(_take_many, records, MOVE_BYTES):
        await writer.run(lambda w, b=batch: _move_many(w, b))  # type: ignore[misc]

    def retire(w: WriteTxn) -> None:
        for pid in todo:
            _retire(w, pid)

    if todo:
        await writer.run(retire)
    return await remove_retired(writer)


def _records_of(writer: Writer, pack_ids: list[int]) -> Iterator[Moved]:
    for pid in pack_ids:
        for pos, header, data in writer.packs.records(pid):
            yield pid, pos, header, data


def _take_many(records: Iterator[Moved], limit: int) -> list[Moved]:
    batch = []
    size = 0
    for record in records:
        batch.append(record)
        size += len(record[3])
        if size >= limit:
            break
    return batch


def _take(records: Iterator[tuple[int, RecordHeader, bytes]], limit: int) -> list[tuple[int, RecordHeader, bytes]]:
    batch = []
    size = 0
    for pos, header, data in records:
        batch.append((pos, header, data))
        size += len(data)
        if size >= limit:
            break
    return batch


async def remove_retired(writer: Writer) -> int:
    """Delete the files of retired packs, then their rows. Safe to repeat."""
    index = writer.index
    with index.read() as txn:
        retired = [U32.unpack(k)[0] for k, v in txn.cursor(db=index.db["packs"]) if PACK.unpack(v)[2] == RETIRED]
    freed = 0
    for pid in retired:
        freed += await asyncio.to_thread(writer.packs.delete, pid)
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
    packs = w.writer.packs
    by_pack: dict[int, list[tuple[bytes, int, int, int]]] = {}
    for row in rows:
        by_pack.setdefault(row[1], []).append(row)
    returned = 0
    for pid, items in by_pack.items():
        pack = w.index.pack(w.txn, pid)
        if pack is not None and pack[2] != RETIRED and packs.punches:
            ranges = [(off, n) for _, _, off, n in items if _dead_record(w, pid, off, n)]
            try:
                returned += packs.punch(pid, ranges) if ranges else 0
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
        head = w.writer.packs.read(pack_id, offset, HEADER_SIZE)
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


def merge_below(packs: PackStore, pack_size: int) -> int:
    """Segments shorter than this are merged (0: a store that is not segmented)."""
    return pack_size // MERGE_SHARE if packs.segmented else 0


async def collect(writer: Writer, grace_seconds: float, threshold: float, dry_run: bool) -> GcReport:
    if dry_run:
        return await asyncio.to_thread(
            dry_run_report, writer.index, writer.packs, writer.open_pack, grace_seconds, threshold,
            writer.packs.punches, merge_below(writer.packs, writer.pack_size))
    due = due_manifests(writer.index, time.time_ns() - int(grace_seconds * 1e9))
    freed = freed_bytes = 0
    for key, mid in due:
        f, b = await reclaim(writer, key, mid)
        freed += f
        freed_bytes += b
    punched = await punch_queued(writer)
    plans = await _plan(writer, threshold)
    if any(p.is_open for p in plans):  # seal it first, so moved records never land in it
        await writer.run(_seal)
        plans = await _plan(writer, threshold)
    on_disk = punched
    if writer.packs.segmented:
        on_disk += await compact_together(writer, plans)
    for plan in plans if not writer.packs.segmented else ():
        on_disk += await compact(writer, plan)
    return GcReport(False, len(due), freed, freed_bytes, sum(1 for p in plans if p.live),
                    sum(1 for p in plans if not p.live), on_disk, punched)


async def _plan(writer: Writer, threshold: float, freed: dict[int, int] | None = None) -> list[PackPlan]:
    states = await asyncio.to_thread(pack_states, writer.index, writer.packs, writer.open_pack)
    return plan_compaction(states, threshold, writer.packs.punches, freed,
                           merge_below(writer.packs, writer.pack_size))


def dry_run_report(
    index: Index, packs: PackStore, open_pack: int, grace_seconds: float, threshold: float, punching: bool,
    merge: int = 0,
) -> GcReport:
    """The dry run, with reads only: what reclaiming the manifests due would
    free, and the plan after it. Disk bytes are estimated: a hole returns about
    its record's bytes, a deleted pack what its file still occupies."""
    due = due_manifests(index, time.time_ns() - int(grace_seconds * 1e9))
    freed, freed_bytes, per_pack = simulate_reclaim(index, [v for _, v in due])
    plans = plan_compaction(pack_states(index, packs, open_pack), threshold, punching, per_pack, merge)
    punched = sum(per_pack.values()) if punching else 0
    deleted = sum(max(0, p.disk - per_pack.get(p.pack_id, 0)) if punching else p.disk for p in plans)
    return GcReport(True, len(due), freed, freed_bytes, sum(1 for p in plans if p.live),
                    sum(1 for p in plans if not p.live), punched + deleted, punched)
