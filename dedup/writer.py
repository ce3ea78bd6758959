"""The single writer thread: every index write transaction and every pack append.

Jobs (functions of a :class:`WriteTxn`) are queued from the event loop. The
thread takes every queued job at once (group commit): each runs in a nested
transaction of one parent, so a failing job leaves no trace; then the pack is
``fdatasync``ed and the parent committed (LMDB syncs). Only after that are the
jobs' futures resolved: an acknowledged write is durable (invariant 1: an index
row points only at pack bytes already on disk).

Pack bytes go through the pack store (dedup/packstore.py). Where it is
``segmented`` (packs in S3), there is no open pack: the first append of a group
allocates a new pack id (in that job's transaction) and the group's records
collect in its sink, which is written whole and sealed (``sync``: a PUT) before
the parent commits; a segment that reaches ``pack_size`` is sealed between jobs
and the next append starts another. A group that fails deletes the segments it
wrote (best effort: one left behind has an id past the committed counter and
is removed on the next open).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dedup.errors import StorageFull
from dedup.format import HEADER_SIZE, RecordHeader, crc32c, pack_header
from dedup.gateways import note_open_pack, seal_open_pack
from dedup.index import HOLE, PACK, U32, Index, Txn
from dedup.packstore import PackSink, PackStore

log = logging.getLogger("fragstore.writer")
T = TypeVar("T")
MAX_GROUP = 256


@dataclass
class NewRecord:
    digest: bytes
    codec: int
    raw_length: int
    data: bytes | memoryview
    crc: int | None = None  # crc32c(data), where a worker thread computed it
    header: RecordHeader | None = None  # a record copied as it was (compaction)

    def head(self) -> bytes:
        if self.header is not None:
            return self.header.encode()
        crc = crc32c(self.data) if self.crc is None else self.crc
        return pack_header(self.codec, self.raw_length, len(self.data), self.digest, crc)


@dataclass
class WriteTxn:
    """What a job sees: a nested transaction, the index and the open pack."""

    txn: Txn
    index: Index
    writer: Writer
    live_delta: dict[int, int] = field(default_factory=dict)

    def append(self, records: Sequence[NewRecord]) -> list[tuple[int, int]]:
        """Append records to the open pack; return (pack id, offset) of each."""
        return self.writer.append(self, records)

    def release(self, pack_id: int, nbytes: int) -> None:
        """``nbytes`` of ``pack_id`` no longer hold a live record (its ``packs`` row's live count)."""
        self.live_delta[pack_id] = self.live_delta.get(pack_id, 0) - nbytes

    def free(self, pack_id: int, offset: int, nbytes: int) -> None:
        """The record at ``offset`` lost its fragment: release its bytes and, where
        the filesystem can punch holes, queue its range in ``holes`` in this same
        transaction. Only committed rows are punched (gc.punch_queued), so a crash
        between this commit and the punch leaves the row for the next GC."""
        self.release(pack_id, nbytes)
        if self.writer.packs.punches:
            self.txn.put(HOLE.pack(pack_id, offset), U32.pack(nbytes), db=self.index.db["holes"])


@dataclass
class _Job:
    fn: Callable[[WriteTxn], Any]
    loop: asyncio.AbstractEventLoop | None
    future: asyncio.Future[Any] | None
    done: threading.Event | None = None
    result: Any = None
    error: BaseException | None = None


class Writer:
    """Owns the writer thread, the open pack and the write transactions."""

    def __init__(self, index: Index, packs: PackStore, pack_size: int, gateway: int = 0) -> None:
        """``gateway``: this process's id among many on one index (dedup/gateways.py); 0 alone."""
        self.index = index
        self.gateway = gateway
        self.shared = index.kv.shared
        self.packs = packs
        self.pack_size = pack_size
        self._born: WriteTxn | None = None  # the job whose append started the current segment
        self._written: list[int] = []  # segments synced in the group being committed
        self.queue: queue.Queue[_Job | None] = queue.Queue()
        self.commits = 0  # group commits made (each: one round of flushes)
        self.jobs = 0  # jobs submitted through run() (a group commit holds one or more)
        self.pack = self._recover_pack()
        self.thread = threading.Thread(target=self._run, name="fragstore-writer", daemon=True)
        self.thread.start()

    # -- submission ----------------------------------------------------------
    async def run(self, fn: Callable[[WriteTxn], T]) -> T:
        loop = asyncio.get_running_loop()
        job = _Job(fn, loop, loop.create_future())
        self.jobs += 1
        self.queue.put(job)
        assert job.future is not None
        return await job.future  # type: ignore[no-any-return]

    def run_sync(self, fn: Callable[[WriteTxn], T]) -> T:
        job = _Job(fn, None, None, threading.Event())
        self.queue.put(job)
        assert job.done is not None
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[no-any-return]

    def depth(self) -> int:
        return self.queue.qsize()

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.shared and self.pack is not None and not self.packs.segmented:
            # our open pack becomes an ordinary sealed one (compaction may take it)
            self.pack.sync()
            empty = self.pack.end == 0
            with self.index.write() as txn:
                seal_open_pack(self.index, txn, self.gateway)
                if empty:  # (nothing in it: gone rather than sealed)
                    txn.delete(U32.pack(self.pack.pack_id), db=self.index.db["packs"])
            self.pack.close()
            if empty:
                self.packs.delete(self.pack.pack_id)
            return
        if self.pack is not None:
            self.pack.close()

    # -- packs ---------------------------------------------------------------
    @property
    def open_pack(self) -> int:
        """The id of the open pack, -1 where there is none (a segmented store)."""
        return self.pack.pack_id if self.pack is not None and not self.packs.segmented else -1

    def _recover_pack(self) -> PackSink | None:
        """Open the newest pack at its committed length (segmented: none);
        remove packs the index never committed (a crash between writing one and
        committing it: its id is past the committed counter). With other
        processes on the index, start a pack of our own instead (sealing the one
        a failed group commit leaves) and remove nothing: the newest pack, and a
        pack past the counter, may be another live process's (dedup/gateways.py)."""
        if self.shared:
            if self.packs.segmented:
                return None
            with self.index.write() as txn:
                seal_open_pack(self.index, txn, self.gateway)
                mine = self.index.allocate(txn, "next_pack")
                self.index.put_pack(txn, mine, 0, 0, 0)
                note_open_pack(self.index, txn, self.gateway, mine)
            return self.packs.sink(mine, 0)
        with self.index.read() as txn:
            known = {int.from_bytes(k, "big"): v for k, v in txn.cursor(db=self.index.db["packs"])}
            current = max(known) if known else None
            committed = PACK.unpack(known[current])[0] if current is not None else 0
            limit = max(self.index.counter(txn, "next_pack"), current or 0)
        for info in self.packs.list():
            if info.pack_id not in known and info.pack_id > limit:
                self.packs.delete(info.pack_id)  # created after the last commit: never referenced
            elif info.pack_id not in known:
                log.warning("pack %08x is not in the index; left for `check`", info.pack_id)
        if self.packs.segmented:
            return None
        if current is None:
            with self.index.write() as txn:
                current = self.index.allocate(txn, "next_pack")
                self.index.put_pack(txn, current, 0, 0, 0)
        return self.packs.sink(current, committed)

    def append(self, wtx: WriteTxn, records: Sequence[NewRecord]) -> list[tuple[int, int]]:
        buffers: list[bytes | memoryview] = []
        for r in records:
            buffers.append(r.head())
            buffers.append(r.data)
        if self.pack is None:  # segmented: this group's first append starts a segment
            pid = self.index.allocate(wtx.txn, "next_pack")
            self.index.put_pack(wtx.txn, pid, 0, 0, 1)
            self.pack = self.packs.sink(pid, 0)
            self._born = wtx
        start = self.pack.append(buffers)
        places = []
        pos = start
        pid = self.pack.pack_id
        for r in records:
            places.append((pid, pos))
            pos += HEADER_SIZE + len(r.data)
        wtx.live_delta[pid] = wtx.live_delta.get(pid, 0) + (pos - start)
        return places

    def seal(self, txn: Txn) -> None:
        """Seal the open pack now (compaction of the open pack needs this);
        segments are sealed when they are written."""
        if not self.packs.segmented:
            self._rotate(txn)

    def _seal_segment(self, txn: Txn) -> None:
        """Write the current segment whole (durable once this returns) and
        record its length; the next append starts another."""
        seg = self.pack
        if seg is None:
            return
        self.pack, self._born = None, None
        try:
            seg.sync()
            self._written.append(seg.pack_id)
        finally:
            seg.close()
        row = self.index.pack(txn, seg.pack_id)
        self.index.put_pack(txn, seg.pack_id, seg.end, row[1] if row else 0, 1)

    def _rotate(self, txn: Txn) -> None:
        """Seal the open pack (synced, marked read-only) and start a new one."""
        old = self.pack
        assert old is not None
        old.sync()
        row = self.index.pack(txn, old.pack_id)
        live = row[1] if row else 0
        self.index.put_pack(txn, old.pack_id, old.end, live, 1)
        new_id = self.index.allocate(txn, "next_pack")
        self.index.put_pack(txn, new_id, 0, 0, 0)
        if self.shared:
            note_open_pack(self.index, txn, self.gateway, new_id)
        self.pack = self.packs.sink(new_id, 0)
        old.close()

    # -- the thread ----------------------------------------------------------
    def _run(self) -> None:
        while True:
            job = self.queue.get()
            if job is None:
                return
            jobs = [job]
            while len(jobs) < MAX_GROUP:
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self.queue.put(None)
                    break
                jobs.append(nxt)
            self._commit_group(jobs)
            for j in jobs:
                self._resolve(j)

    def _commit_group(self, jobs: list[_Job]) -> None:
        live: dict[int, int] = {}
        self._written = []
        try:
            with self.index.write() as txn:
                for job in jobs:
                    self._run_job(job, txn, live)
                if self.packs.segmented:
                    self._seal_segment(txn)
                elif self.pack is not None:
                    self.pack.sync()
                pack = self.pack
                for pid, delta in live.items():
                    row = self.index.pack(txn, pid)
                    if row is not None:
                        committed = pack.end if pack is not None and pid == pack.pack_id else row[0]
                        self.index.put_pack(txn, pid, committed, max(0, row[1] + delta), row[2])
                row = self.index.pack(txn, pack.pack_id) if pack is not None else None
                if pack is not None and row is not None and row[0] != pack.end:
                    self.index.put_pack(txn, pack.pack_id, pack.end, row[1], row[2])
            self.commits += 1
        except BaseException as exc:  # the group failed to commit: nothing of it is durable
            log.error("write group of %d jobs failed: %s", len(jobs), exc)
            failure = _storage_error(exc, self.index)
            for job in jobs:
                if job.error is None:
                    job.error = failure
            if self.pack is not None:
                self.pack.close()
            self.pack, self._born = None, None
            for pid in self._written:  # segments of a group that never committed: garbage
                try:
                    self.packs.delete(pid)
                except Exception as err:  # left for the next open (its id is past the counter)
                    log.warning("could not delete uncommitted segment %08x: %s", pid, err)
            if not self.packs.segmented:  # a segmented store has no open pack to cut back
                self.pack = self._recover_pack()
        self._written = []

    def _run_job(self, job: _Job, txn: Txn, live: dict[int, int]) -> None:
        if self.pack is not None and self.pack.end >= min(self.pack_size, self.packs.max_pack):  # between jobs
            if self.packs.segmented:
                self._seal_segment(txn)
            else:
                self._rotate(txn)
        child = self.index.write(parent=txn)
        wtx = WriteTxn(child, self.index, self)
        try:
            job.result = job.fn(wtx)
        except BaseException as exc:
            job.error = _storage_error(exc, self.index)
            child.abort()
            if self._born is wtx and self.pack is not None:  # its segment's id went with the abort
                self.pack.close()
                self.pack, self._born = None, None
            return
        child.commit()
        for pid, delta in wtx.live_delta.items():
            live[pid] = live.get(pid, 0) + delta

    @staticmethod
    def _resolve(job: _Job) -> None:
        if job.done is not None:
            job.done.set()
            return
        assert job.loop is not None and job.future is not None
        fut = job.future

        def settle() -> None:
            if fut.cancelled():
                return
            if job.error is not None:
                fut.set_exception(job.error)
            else:
                fut.set_result(job.result)

        job.loop.call_soon_threadsafe(settle)


def _storage_error(exc: BaseException, index: Index) -> BaseException:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFull(str(exc))
    if index.kv.full(exc):
        return StorageFull(f"index full: {exc}")
    return exc
