"""Reading objects: a ranged stream over an object's manifests.

A read resolves the range against the object row, then walks each manifest's
manifest from a cursor seek (``set_range`` on (mid, offset), one step back),
never scanning from the start. Fragments that lie back to back in a pack are
read with one ``preadv``, record headers included; each record is checked
before a byte of it is served (a damaged one raises CorruptFragment): its
header must name the fragment looked for and its CRC32C match (records of
format 4 on, dedup/format.py), or, for an older record without a CRC32C, the
decoded bytes must hash to the fragment's BLAKE3 name. Batches of
1 MiB load in a worker thread, up to AHEAD of them ready while one is sent:
small batches keep the socket busy from the first, and memory per reader
stays near (AHEAD + 2) MiB. Each reader reuses its batch buffers once nothing
holds a view of them any more (:class:`_Buffers`). Where the pack store gains
from it (packs in S3: ``read_ahead``), the reader also looks fragments up that
many bytes ahead of what it copies and announces them (``prefetch``), so that
the store fetches the next segments while this batch is read and sent.

An encrypted object is read in its encryption domain (dedup/encryption.py):
each sealed record's CRC32C is checked, then it is authenticated and
decrypted, then decoded; a range of it costs the whole fragments it touches.
"""

from __future__ import annotations

import asyncio
import struct
import sys
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import blake3

try:
    import numpy
except ImportError:  # pragma: no cover - numpy is a core dependency; plain buffers do
    numpy = None  # type: ignore[assignment]

from dedup.codecs import RAW, WIDTHS, CodecError, decode_into, split_planes
from dedup.delta import DELTA, Fragments, decode_delta
from dedup.encryption import CODEC_MASK, SEALED, Domain
from dedup.errors import CorruptFragment
from dedup.format import HEADER_SIZE, MAGIC, RECORD_VERSION, crc32c
from dedup.index import FRAGMENT, U64X2, FragmentRow, Index, manifest_entries
from dedup.packstore import PackStore
from dedup.predict import interleave_into
from dedup.types import ObjectInfo

BATCH = 1024 * 1024  # raw bytes per worker-thread load
MAX_RUN = 256  # fragments per preadv (two buffers each; IOV_MAX is 1024)
AHEAD = 3  # loaded batches waiting to be sent, per reader
INLINE = 16 * 1024  # reads up to this size load on the event loop (see ObjectReader.prime)


@dataclass(frozen=True)
class Piece:
    """Part of a manifest to serve: [start, end) of manifest ``mid``."""

    mid: int
    start: int
    end: int


@dataclass(slots=True)
class _Frag:
    offset: int  # within the manifest
    raw: int
    digest: bytes
    pack: int
    pos: int
    stored: int
    codec: int
    size: int  # the whole fragment's raw length


def plan_pieces(segments: tuple[tuple[int, int], ...], start: int, length: int) -> list[Piece]:
    pieces = []
    base = 0
    end = start + length
    for mid, seg_len in segments:
        lo, hi = max(start, base), min(end, base + seg_len)
        if lo < hi:
            pieces.append(Piece(mid, lo - base, hi - base))
        base += seg_len
    return pieces


class ObjectReader:
    """The bytes [start, start+length) of one object, as an async iterator of
    memoryviews, each over a buffer of its own (a transport may keep it)."""

    def __init__(self, index: Index, files: PackStore, info: ObjectInfo,
                 segments: tuple[tuple[int, int], ...], start: int, length: int,
                 domain: Domain | None = None) -> None:
        self.info = info
        self._domain = domain
        self.start = start
        self.length = length
        self.part_count = len(info.part_sizes)
        self._index = index
        self._files = files
        self._bases = Fragments(index, files)
        self._pieces = plan_pieces(segments, start, length)
        self._piece = 0
        self._pos = self._pieces[0].start if self._pieces else 0
        self._planned: deque[list[_Frag]] = deque()  # looked up, not yet copied
        self._plan_ahead = max(1, files.read_ahead // BATCH)
        self._read = bytearray()
        self._headers = bytearray()
        self._planes = bytearray()
        self._buffers = _Buffers(AHEAD + 3, min(length, BATCH + BATCH // 4))
        self._first: memoryview | None = None
        self._ahead: asyncio.Queue[memoryview | BaseException | None] | None = None
        self._producer: asyncio.Future[None] | None = None
        self._loading: asyncio.Future[memoryview | None] | None = None

    async def prime(self) -> None:
        """Load the first batch now, so that a damaged fragment or a missing
        pack is an error before the response starts. A read of at most
        INLINE bytes from local packs loads on the calling thread: a hand-off
        to a worker thread and back costs more than the read of a cached
        record. (Remote stores, the segmented ones, may wait on the network.)"""
        if self._first is None and self._producer is None:
            if self.length <= INLINE and not self._files.segmented:
                self._first = self._load()
                return
            # tracked, so that aclose() waits for it even if this await is cancelled
            self._loading = asyncio.ensure_future(asyncio.to_thread(self._load))
            self._first = await asyncio.shield(self._loading)

    def whole(self) -> memoryview | None:
        """All the bytes asked for, when the first batch holds them (a small
        read, after ``prime``): the caller may answer at once. Else None."""
        if self.length == 0:
            return memoryview(b"")
        if self._first is not None and len(self._first) == self.length:
            return self._first
        return None

    def __aiter__(self) -> AsyncIterator[memoryview]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[memoryview]:
        await self.prime()
        first, self._first = self._first, None
        if first is None:
            return
        self._ahead = asyncio.Queue(AHEAD)
        self._producer = asyncio.ensure_future(self._produce(self._ahead))
        yield first
        while (item := await self._ahead.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    async def _produce(self, ahead: asyncio.Queue[memoryview | BaseException | None]) -> None:
        """Load batches in a worker thread, up to AHEAD ready before they are sent."""
        try:
            while True:
                self._loading = asyncio.ensure_future(asyncio.to_thread(self._load))
                chunk = await asyncio.shield(self._loading)
                await ahead.put(chunk)
                if chunk is None:
                    return
        except Exception as exc:  # handed to the consumer, raised where it reads
            await ahead.put(exc)

    async def aclose(self) -> None:
        """Stop loading; returns once no worker thread still reads for us."""
        if self._producer is not None:
            self._producer.cancel()
            await asyncio.gather(self._producer, return_exceptions=True)
            self._producer = None
        if self._loading is not None:
            await asyncio.gather(self._loading, return_exceptions=True)
            self._loading = None

    # -- worker-thread side ---------------------------------------------------
    def _load(self) -> memoryview | None:
        while len(self._planned) < self._plan_ahead and (planned := self._next_fragments()):
            self._planned.append(planned)
            if self._plan_ahead > 1:
                self._files.prefetch([(f.pack, f.pos, HEADER_SIZE + f.stored) for f in planned])
        if not self._planned:
            return None
        frags = self._planned.popleft()
        view = self._buffers.take(sum(f.raw for f in frags))
        try:
            filled = self._copy(frags, view)
        except (OSError, CorruptFragment):
            # Compaction may have moved a fragment since we looked it up, and its
            # old copy be gone (the pack removed: OSError) or read as zeros (a
            # punched hole: the hash fails). Look the fragments up again, once:
            # a fragment really damaged or freed fails again, cleanly.
            self._relocate(frags)
            filled = self._copy(frags, view)
        return view[:filled]

    def _copy(self, frags: list[_Frag], view: memoryview) -> int:
        filled = 0
        for run in _runs(frags):
            filled = self._read_run(run, view, filled)
        return filled

    def _next_fragments(self) -> list[_Frag]:
        """The next batch of fragments (cut to the range), with locations."""
        out: list[_Frag] = []
        size = 0
        with self._index.read() as txn:
            manifests = self._index.db["manifests"]
            fragments = self._index.db["fragments"]
            while self._piece < len(self._pieces) and size < BATCH:
                piece = self._pieces[self._piece]
                cur = txn.cursor(db=manifests)
                _seek(cur, piece.mid, self._pos)
                for key, value in cur:
                    mid, off = U64X2.unpack(key)
                    if mid != piece.mid or off >= piece.end:
                        break
                    entries = manifest_entries(value)
                    wanted, at = [], off  # this row's fragments in the range: looked up at once
                    for digest, raw in entries:
                        if at + raw > self._pos and at < piece.end:
                            wanted.append(digest)
                        at += raw
                    locs = self._index.kv.get_many(txn, wanted, fragments)
                    for digest, raw in entries:
                        if off + raw > self._pos and off < piece.end:
                            loc = locs.get(digest)
                            if loc is None:
                                raise CorruptFragment(f"fragment {digest.hex()} is missing")
                            pack, pos, stored, _, codec, _ = FRAGMENT.unpack(loc)
                            lo, hi = max(piece.start, off, self._pos), min(piece.end, off + raw)
                            out.append(_Frag(lo - off, hi - lo, digest, pack, pos, stored, codec, raw))
                            size += hi - lo
                            self._pos = off + raw
                        off += raw
                    if size >= BATCH or self._pos >= piece.end:
                        break
                if self._pos >= piece.end:
                    self._piece += 1
                    if self._piece < len(self._pieces):
                        self._pos = self._pieces[self._piece].start
                elif size < BATCH:
                    raise CorruptFragment(f"manifest {piece.mid} ends before {piece.end}")
        return out

    def _relocate(self, frags: list[_Frag]) -> None:
        with self._index.read() as txn:
            for f in frags:
                loc = txn.get(f.digest, db=self._index.db["fragments"])
                if loc is None:
                    raise CorruptFragment(f"fragment {f.digest.hex()} is missing")
                row = FragmentRow.decode(loc)
                f.pack, f.pos, f.stored, f.codec = row.pack, row.offset, row.stored, row.codec

    def _read_run(self, run: list[_Frag], out: memoryview, filled: int) -> int:
        if all(_direct(f) for f in run):
            return self._read_direct(run, out, filled)
        first, last = run[0], run[-1]
        span = last.pos + HEADER_SIZE + last.stored - first.pos
        if len(self._read) < span:  # the scratch buffer grows, never exported
            self._read = bytearray(max(span, 2 * len(self._read)))
        data = memoryview(self._read)[:span]
        self._files.readinto(first.pack, first.pos, data)
        domain = self._domain
        i = 0
        while i < len(run):
            f = run[i]
            if f.codec in WIDTHS and f.raw == f.size:
                j = i + 1
                while j < len(run) and run[j].codec == f.codec and run[j].raw == run[j].size:
                    j += 1
                filled = self._decode_planes(run[i:j], data, first.pos, out, filled)
                i = j
                continue
            i += 1
            at = f.pos - first.pos + HEADER_SIZE
            stored = data[at : at + f.stored]
            checked = _check_record(f, data[at - HEADER_SIZE : at], stored)
            codec = f.codec
            if codec & SEALED:  # authenticated and decrypted (its CRC32C is over the sealed bytes)
                if domain is None:
                    raise CorruptFragment(f"fragment {f.digest.hex()} is sealed, and the object is not encrypted")
                codec &= CODEC_MASK
                stored = memoryview(domain.open(stored, f.digest, codec))
            if f.raw == f.size:  # the whole fragment: decoded straight into out
                whole = out[filled : filled + f.raw]
                self._decode_into(codec, stored, whole)
                if not checked:  # a delta's bases are checked by their records as they are read
                    _verify(f, whole, domain)
            else:
                raw = memoryview(bytearray(f.size))
                self._decode_into(codec, stored, raw)
                if not checked:
                    _verify(f, raw, domain)
                out[filled : filled + f.raw] = memoryview(raw)[f.offset : f.offset + f.raw]
            filled += f.raw
        return filled

    def _decode_planes(self, group: list[_Frag], data: memoryview, base: int, out: memoryview,
                       filled: int) -> int:
        """Whole planes records of one width that land back to back in ``out``:
        each record's planes are copied into the group's planes (plane g holds
        the bytes that land at offsets = g mod width from the group's start),
        which are interleaved at once: one pass over the group instead of a
        few numpy calls per record (~40 % of a planes record's decode)."""
        width = WIDTHS[group[0].codec]
        total = sum(f.raw for f in group)
        per = -(-total // width)
        if len(self._planes) < width * per:  # scratch, grows, never exported
            self._planes = bytearray(max(width * per, 2 * len(self._planes)))
        planes = memoryview(self._planes)
        fill = [g * per for g in range(width)]
        pos = 0
        unchecked = []
        for f in group:
            at = f.pos - base + HEADER_SIZE
            stored = data[at : at + f.stored]
            if not _check_record(f, data[at - HEADER_SIZE : at], stored):
                unchecked.append((f, pos))
            rot, n, parts = split_planes(f.codec, stored)
            if n != f.raw:
                raise CodecError(f"planes record of {n} bytes, not {f.raw}")
            for k, part in enumerate(parts):
                g = (k - rot + pos) % width
                planes[fill[g] : fill[g] + len(part)] = part
                fill[g] += len(part)
            pos += n
        whole = out[filled : filled + total]
        interleave_into([planes[g * per : fill[g]] for g in range(width)], whole, 0)
        for f, at in unchecked:  # version 1 records: BLAKE3 of the decoded bytes
            _verify(f, whole[at : at + f.raw])
        return filled + total

    def _decode_into(self, codec: int, stored: memoryview, out: memoryview) -> None:
        if codec == DELTA:  # on its base (dedup/delta.py), whose records are checked as they are read
            decode_delta(stored, self._bases.unchecked, out)
        else:
            decode_into(codec, stored, out)

    def _read_direct(self, run: list[_Frag], out: memoryview, filled: int) -> int:
        """Whole raw fragments: one preadv puts their bytes straight into
        ``out`` (record headers into a scratch buffer), no copy."""
        if len(self._headers) < HEADER_SIZE * len(run):
            self._headers = bytearray(HEADER_SIZE * len(run))
        heads = memoryview(self._headers)
        parts: list[memoryview] = []
        start = filled
        for i, f in enumerate(run):
            parts.append(heads[i * HEADER_SIZE : (i + 1) * HEADER_SIZE])
            parts.append(out[filled : filled + f.raw])
            filled += f.raw
        self._files.readv(run[0].pack, run[0].pos, parts)
        for i, f in enumerate(run):
            data = out[start : start + f.raw]
            if not _check_record(f, heads[i * HEADER_SIZE : (i + 1) * HEADER_SIZE], data):
                _verify(f, data, self._domain)
            start += f.raw
        return filled


class _Buffers:
    """A reader's batch buffers, each reused once nothing holds a view of it.

    A batch is handed to the transport as a view of its buffer, and the
    transport may keep it until the bytes are out, so a buffer is taken again
    only when its reference count says that no view of it is left (each view
    holds a reference to the array it was made from). A fresh 1 MiB buffer per
    batch cost page faults and unmaps, ~5 % of a GET's server CPU in a perf
    profile."""

    def __init__(self, keep: int, unit: int) -> None:
        self._arrays: list[Any] = []
        self._keep = keep
        self._unit = unit  # the size of a new buffer (a small read needs no more)

    def take(self, size: int) -> memoryview:
        if numpy is None:
            return _uninitialized(size)
        for arr in self._arrays:
            if len(arr) >= size and sys.getrefcount(arr) <= _IDLE_REFS:
                return arr.data[:size]  # type: ignore[no-any-return]
        arr = numpy.empty(max(size, self._unit), numpy.uint8)
        if len(self._arrays) < self._keep:
            self._arrays.append(arr)
        return arr.data[:size]  # type: ignore[no-any-return]


def _idle_refs() -> int:
    """References to an array that only a list of _Buffers holds, counted as
    ``_Buffers.take`` counts them (the list, the loop variable, the call)."""
    if numpy is None:
        return 0
    for arr in [numpy.empty(1, numpy.uint8)]:
        return sys.getrefcount(arr)
    return 0


_IDLE_REFS = _idle_refs()


def _uninitialized(size: int) -> memoryview:
    """A writable buffer of ``size`` bytes that every load fills to the end
    (or fails): ``bytearray(size)`` would zero each 1 MiB batch first, ~5 %
    of a GET's server CPU in a perf profile."""
    if numpy is None:
        return memoryview(bytearray(size))
    return numpy.empty(size, numpy.uint8).data


def _direct(f: _Frag) -> bool:
    """A whole fragment stored raw: its bytes can be read straight into the answer."""
    return f.codec == RAW and f.raw == f.size


_HEAD = struct.Struct(">2sBBII32s")  # a record header's bytes 0..43 (dedup/format.py)


def _check_record(f: _Frag, head: memoryview, stored: memoryview) -> bool:
    """Check the record read for ``f``: True once its header names ``f`` and
    its CRC32C matches (raises CorruptFragment where not); False for a version
    1 record, whose decoded bytes ``_verify`` must check by BLAKE3."""
    expect = _HEAD.pack(MAGIC, RECORD_VERSION, f.codec, f.size, f.stored, f.digest)
    if head[:44] == expect:
        if crc32c(expect, crc32c(stored)) == int.from_bytes(head[44:], "big"):
            return True
    elif head[:3] == MAGIC + b"\x01":
        return False
    raise CorruptFragment(f"fragment {f.digest.hex()} in pack {f.pack:08x} fails its record check")


def _verify(f: _Frag, raw: memoryview | bytes, domain: Domain | None = None) -> None:
    name = blake3.blake3(raw).digest() if domain is None else domain.name(raw)
    if name != f.digest:
        raise CorruptFragment(f"fragment {f.digest.hex()} in pack {f.pack:08x} fails its hash")


def _seek(cur: Any, mid: int, pos: int) -> None:
    """Put ``cur`` on the manifest row of ``mid`` whose entries cover ``pos``."""
    found = cur.set_range(U64X2.pack(mid, pos))
    if found:
        key_mid, key_off = U64X2.unpack(cur.key())
        if key_mid == mid and key_off == pos:
            return
    if not (cur.prev() if found else cur.last()):
        raise CorruptFragment(f"manifest {mid} has no manifest row at {pos}")
    key_mid, _ = U64X2.unpack(cur.key())
    if key_mid != mid:
        raise CorruptFragment(f"manifest {mid} has no manifest row at {pos}")


def _runs(frags: list[_Frag]) -> list[list[_Frag]]:
    """Group fragments that lie back to back in one pack and are read the same
    way (straight into the output, or through the scratch buffer)."""
    runs: list[list[_Frag]] = []
    for f in frags:
        if runs:
            prev = runs[-1][-1]
            if (prev.pack == f.pack and prev.pos + HEADER_SIZE + prev.stored == f.pos
                    and _direct(prev) == _direct(f) and len(runs[-1]) < MAX_RUN):
                runs[-1].append(f)
                continue
        runs.append([f])
    return runs
