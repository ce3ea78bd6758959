"""The PUT pipeline: a byte stream becomes a pending manifest.

    body (event loop) --fill--> buffer --+--> MD5 (thread)                  --+
                                         +--> body digests (thread)         --+
                                         +--> FastCDC + BLAKE3 (thread)     --+--> writer job
                                                                                    (pack append + rows)

Buffers come from a bounded pool and are reused (fresh memory is expensive);
each buffer keeps ``max_fragment`` bytes of head room where the previous
buffer's unfinished fragment is copied, so cut points are exactly those of
chunking the whole stream at once. While one buffer is hashed the loop fills
the next; at most two writer jobs per put are in flight (backpressure), so
memory per put is bounded whatever the object size. A batch of at most
``SMALL`` bytes (a small object) is hashed and cut in one worker step: one
thread hand-off instead of two.

A body may hand its own integrity checks to this pipeline
(:class:`dedup.types.CheckedBody`: the HTTP layer's payload SHA-256 and
x-amz-checksum-*): its digests are fed the same buffers in a worker thread
beside MD5, so no byte is hashed on the event loop or copied for hashing, and
its ``verify`` runs after the last
byte is hashed, before the finishing job is queued. A failed check abandons
the manifest like any other failure: nothing is published.

An encrypted put names its fragments in its encryption domain and seals the
new ones after encoding, in the same worker step (dedup/encryption.py): no
plaintext byte of it reaches a pack.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import blake3

from dedup.bases import BaseFinder, Target, layout_value, put_layout
from dedup.chunking import ChunkerParams
from dedup.codecs import RAW, encode, width_of
from dedup.delta import DELTA, SURE, Fragments, encode_delta, op_for, smaller
from dedup.encryption import SEALED, Domain
from dedup.errors import CorruptFragment
from dedup.format import crc32c
from dedup.index import Txn
from dedup.manifests import Fragment, abandon_pending, add_fragments
from dedup.tensors import Cutter
from dedup.types import BodyDigest, CheckedBody
from dedup.writer import Writer, WriteTxn

T = TypeVar("T")

IN_FLIGHT = 2
SMALL = 32 * 1024  # batches up to this size are hashed and cut in one worker step


class BufferPool:
    """A bounded set of reusable bytearrays, made on first use."""

    def __init__(self, size: int, count: int) -> None:
        self.size = size
        self._free: asyncio.Queue[bytearray] | None = None
        self._made = 0
        self._count = count

    async def acquire(self) -> bytearray:
        if self._free is None:
            self._free = asyncio.Queue()
        if self._free.empty() and self._made < self._count:
            self._made += 1
            return bytearray(self.size)
        return await self._free.get()

    def release(self, buf: bytearray) -> None:
        assert self._free is not None
        self._free.put_nowait(buf)


@dataclass
class IngestResult:
    """What a put stored: ``deltas`` new fragments stored as deltas on a base."""

    size: int
    md5: bytes
    new_bytes: int
    deltas: int = 0


@dataclass
class _Batch:
    buf: bytearray
    end: int
    tail: bytes = b""
    job: asyncio.Future[Any] | None = None
    work: list[asyncio.Future[Any]] = field(default_factory=list)  # worker-thread steps reading buf


class Ingest:
    """Shared machinery of all puts: chunker, writer, threads and buffers."""

    def __init__(
        self, writer: Writer, params: ChunkerParams, batch_bytes: int, buffers: int, policy: str = "off"
    ) -> None:
        self.writer = writer
        self.params = params
        self.policy = policy
        self.head = params.max_size
        self.pool = BufferPool(self.head + batch_bytes, buffers)
        self.fragments = Fragments(writer.index, writer.packs)
        self.md5_threads = ThreadPoolExecutor(2, thread_name_prefix="fragstore-md5")
        self.cdc_threads = ThreadPoolExecutor(2, thread_name_prefix="fragstore-cdc")

    def close(self) -> None:
        self.md5_threads.shutdown()
        self.cdc_threads.shutdown()

    async def run(
        self, mid: int, body: AsyncIterable[bytes], finish: Callable[[IngestResult], Callable[[WriteTxn], T]],
        target: Target | None = None, domain: Domain | None = None,
    ) -> tuple[IngestResult, T]:
        """Stream ``body`` into pending manifest ``mid``, then run the job that
        ``finish`` builds from the result (publishing the key or the part).
        With a ``target`` (a PUT, or a part of an upload), a checkpoint's
        layout is kept with the manifest and its new fragments may be stored
        as deltas on a base (dedup/bases.py).

        A body of one batch (any PUT up to ``batch_bytes``) writes its
        fragments and publishes in one writer job: one commit, one round of
        flushes. A longer body's finishing job is queued behind its last
        fragment batch; it must check that the manifest is complete, since it
        may run before a failed batch is reported. On any failure the manifest
        is abandoned (its rows reclaimed) and the error re-raised. ``domain``:
        the encryption domain its fragments are named and sealed in."""
        checked = body if isinstance(body, CheckedBody) else None
        state = _PutState(self, mid, checked.take_digests() if checked is not None else (), domain)
        if target is not None:
            state.cutter = Cutter(self.params, resync=target.part)
            if self.policy != "off" and domain is None:  # no delta in an encryption domain (docs/DESIGN.md)
                state.finder = BaseFinder(self.writer.index, target)
        done: asyncio.Future[T] | None = None
        try:
            result = await state.consume(body)
            if checked is not None:
                checked.verify()
            result.deltas = state.deltas
            done = state.finish_job(state.with_layout(finish(result)) if target is not None else finish(result))
            await state.settle()
            out = await done
            result.new_bytes = state.new_bytes
            return result, out
        except BaseException:
            await state.cancel()
            if done is not None:
                await asyncio.gather(done, return_exceptions=True)
            await self.writer.run(lambda w: abandon_pending(w, mid))
            raise

    def digest_fragments(self, view: memoryview, final: bool, base: int, cutter: Cutter,
                         finder: BaseFinder | None = None,
                         domain: Domain | None = None) -> tuple[list[Fragment], int]:
        """Cut (at tensor boundaries where ``cutter`` finds a checkpoint
        format, else FastCDC), name and encode (and in a ``domain``, seal) the
        fragments of ``view``, whose first byte is at offset ``base`` of the
        object (codecs align float planes by it)."""
        ends, consumed = cutter.cut(view, base, final)
        frags = []
        start = 0
        policy = self.policy
        with self.writer.index.read() as txn:
            fragments = self.writer.index.db["fragments"]
            for end in ends:
                piece = view[start:end]
                digest = blake3.blake3(piece).digest() if domain is None else domain.name(piece)
                # a fragment the store already holds is only referenced: don't
                # encode it, seal it nor checksum its record
                stored: bytes | memoryview = piece
                codec = RAW
                crc = None
                if txn.get(digest, db=fragments) is None:
                    if policy != "off":
                        found = (self._delta(txn, finder, cutter, digest, piece, base + start)
                                 if finder and domain is None else None)
                        if found is not None:
                            frags.append(found)
                            start = end
                            continue
                        codec, stored = encode(policy, piece, base + start)
                    if domain is not None:
                        stored = domain.seal(stored, digest, codec)
                        codec |= SEALED
                    crc = crc32c(stored)
                frags.append(Fragment(digest, end - start, codec, stored, crc=crc))
                start = end
        return frags, consumed

    def _delta(self, txn: Txn, finder: BaseFinder, cutter: Cutter, digest: bytes, piece: memoryview,
               offset: int) -> Fragment | None:
        """The fragment as a delta on its aligned base fragment, when that
        stores ``GAIN`` less than its own best form; else None. A delta that
        keeps a third of the bytes or less is taken without encoding the
        fragment on its own (weights do not compress that well: that encoding
        was a third of a PUT's time)."""
        found = finder.base_for(txn, cutter, offset, len(piece))
        if found is None:
            return None
        try:
            base = self.fragments.raw(found.digest)
        except CorruptFragment:
            return None  # a damaged or vanished base: no delta, the read would fail
        if len(base) != len(piece):
            return None
        stored = encode_delta(self.policy, piece, offset, found.digest, base, op_for(width_of(piece, offset)))
        if len(stored) > len(piece) * SURE:
            _, own = encode(self.policy, piece, offset)
            if not smaller(len(stored), len(own)):
                return None
        return Fragment(digest, len(piece), DELTA, stored, found.digest, found.depth, piece)


def _hash(digests: Sequence[BodyDigest], view: memoryview) -> None:
    """One worker-thread pass of every sequential digest over ``view`` (GIL released)."""
    for digest in digests:
        digest.update(view)


class _PutState:
    def __init__(self, ingest: Ingest, mid: int, body_digests: Sequence[BodyDigest] = (),
                 domain: Domain | None = None) -> None:
        self.ing = ingest
        self.mid = mid
        self.domain = domain
        self.md5 = hashlib.md5()
        self.digests: tuple[BodyDigest, ...] = (self.md5, *body_digests)
        # MD5 alone in one thread, the body's own digests in another: two
        # shorter passes side by side instead of one long one
        self.groups = ((self.md5,), tuple(body_digests)) if body_digests else (self.digests,)
        self.cutter = Cutter(ingest.params)
        self.finder: BaseFinder | None = None
        self.deltas = 0
        self.size = 0
        self.offset = 0  # logical offset of the next fragment
        self.new_bytes = 0
        self.prev: asyncio.Future[_Batch] | None = None
        self.jobs: list[_Batch] = []
        self.filling: bytearray | None = None
        self.held: tuple[_Batch, int, list[Fragment]] | None = None  # a one-batch body's fragments

    async def consume(self, body: AsyncIterable[bytes]) -> IngestResult:
        """Copy the body into buffers, launching each full one. This loop runs on
        the event loop for every received piece: its common case is one copy."""
        head, cap = self.ing.head, self.ing.pool.size
        buf = self.filling = await self.ing.pool.acquire()
        pos = head
        size = 0
        async for piece in body:
            size += len(piece)
            end = pos + len(piece)
            if end < cap:
                buf[pos:end] = piece
                pos = end
                continue
            view = memoryview(piece)
            while pos + len(view) >= cap:
                take = cap - pos
                buf[pos:cap] = view[:take]
                view = view[take:]
                self._launch(buf, cap, final=False)
                buf = self.filling = await self.ing.pool.acquire()
                pos = head
            buf[pos : pos + len(view)] = view
            pos += len(view)
        self.size = size
        self._launch(buf, pos, final=True)
        assert self.prev is not None
        await self.prev  # every batch is hashed and its writer job queued
        return IngestResult(self.size, self.md5.digest(), 0)

    async def settle(self) -> None:
        """Wait for the queued writer jobs (each adds its new bytes to ``new_bytes``)."""
        while self.jobs:
            await self._retire()

    def with_layout(self, publish: Callable[[WriteTxn], T]) -> Callable[[WriteTxn], T]:
        """``publish``, keeping the body's tensor layout with its manifest
        when it is a checkpoint (a later PUT may take it as its base)."""
        cutter = self.cutter
        if not cutter.tensors:
            return publish
        mid, value = self.mid, layout_value(cutter.format, cutter.tensors)

        def both(w: WriteTxn) -> T:
            put_layout(w, mid, value)
            return publish(w)

        return both

    def finish_job(self, publish: Callable[[WriteTxn], T]) -> asyncio.Future[T]:
        """Queue the job that publishes the body; a one-batch body's
        fragments are written in the same job, so in the same commit."""
        writer = self.ing.writer
        if self.held is None:
            return asyncio.ensure_future(writer.run(publish))
        batch, offset, frags = self.held
        self.held = None
        mid = self.mid

        def both(w: WriteTxn) -> tuple[int, T]:
            new = add_fragments(w, mid, offset, frags)
            return new, publish(w)

        job = asyncio.ensure_future(writer.run(both))
        job.add_done_callback(lambda _: self.ing.pool.release(batch.buf))

        async def published() -> T:
            # shielded: a cancelled caller must not free the buffer while the
            # writer thread may still read the fragments from it
            new, out = await asyncio.shield(job)
            self.new_bytes += new
            return out

        return asyncio.ensure_future(published())

    def _launch(self, buf: bytearray, end: int, final: bool) -> None:
        self.filling = None
        prev = self.prev
        if prev is not None and prev.done() and prev.exception() is not None:
            self.ing.pool.release(buf)
            raise prev.exception()  # type: ignore[misc]  # fail early: stop reading the body
        self.prev = asyncio.ensure_future(self._process(_Batch(buf, end), prev, final))

    async def _process(self, batch: _Batch, prev: asyncio.Future[_Batch] | None, final: bool) -> _Batch:
        try:
            tail = (await prev).tail if prev is not None else b""
            head = self.ing.head
            start = head - len(tail)
            batch.buf[start:head] = tail
            whole = memoryview(batch.buf)[start : batch.end]
            frags, consumed = await self._digest(batch, whole, memoryview(batch.buf)[head : batch.end], final)
        except BaseException:
            self._release_when_idle(batch)
            raise
        batch.tail = bytes(whole[consumed:])
        self.deltas += sum(1 for f in frags if f.codec == DELTA)
        if not frags:
            self.ing.pool.release(batch.buf)
            return batch
        offset = self.offset
        self.offset += consumed
        if final and prev is None:  # the whole body: its fragments ride in the finishing job
            self.held = (batch, offset, frags)
            return batch
        mid = self.mid
        job = asyncio.ensure_future(self.ing.writer.run(lambda w: add_fragments(w, mid, offset, frags)))
        job.add_done_callback(lambda _: self.ing.pool.release(batch.buf))
        batch.job = job
        self.jobs.append(batch)
        while len(self.jobs) > IN_FLIGHT:
            await self._retire()
        return batch

    async def _digest(self, batch: _Batch, whole: memoryview, fresh: memoryview,
                      final: bool) -> tuple[list[Fragment], int]:
        """Hash the batch's new bytes and cut, name and encode its fragments."""
        loop = asyncio.get_running_loop()
        if len(whole) <= SMALL:  # one worker step for all of it: one thread hand-off, not two
            step = loop.run_in_executor(self.ing.cdc_threads, self._digest_all, whole, fresh, final, self.offset)
            batch.work = [step]
            return await step
        hashed = [loop.run_in_executor(self.ing.md5_threads, _hash, group, fresh) for group in self.groups]
        cut = loop.run_in_executor(self.ing.cdc_threads, self.ing.digest_fragments, whole, final, self.offset,
                                   self.cutter, self.finder, self.domain)
        batch.work = [*hashed, cut]
        await asyncio.wait(batch.work)  # all of them, even when one fails: they read the buffer
        for done in hashed:
            done.result()
        return cut.result()

    def _digest_all(self, whole: memoryview, fresh: memoryview, final: bool,
                    base: int) -> tuple[list[Fragment], int]:
        _hash(self.digests, fresh)
        return self.ing.digest_fragments(whole, final, base, self.cutter, self.finder, self.domain)

    def _release_when_idle(self, batch: _Batch) -> None:
        """Give the batch's buffer back once no worker thread reads it any more."""
        busy = [f for f in batch.work if not f.done()]
        if not busy:
            self.ing.pool.release(batch.buf)
            return
        gathered = asyncio.gather(*busy, return_exceptions=True)
        gathered.add_done_callback(lambda _: self.ing.pool.release(batch.buf))

    async def _retire(self) -> None:
        batch = self.jobs.pop(0)
        if batch.job is not None:  # shielded: see finish_job
            self.new_bytes += await asyncio.shield(batch.job)

    async def cancel(self) -> None:
        """Wait for work in flight to settle and give the buffers back."""
        if self.filling is not None:
            self.ing.pool.release(self.filling)
            self.filling = None
        if self.held is not None:  # never queued: the body failed its checks
            self.ing.pool.release(self.held[0].buf)
            self.held = None
        if self.prev is not None:
            try:
                await self.prev
            except BaseException:
                pass
        while self.jobs:
            try:
                await self._retire()
            except BaseException:
                pass
