"""Reading objects: a ranged stream over an object's versions.

A read resolves the range against the object row, then walks each version's
manifest from a cursor seek (``set_range`` on (vid, offset), one step back),
never scanning from the start. Fragments that lie back to back in a pack are
read with one ``preadv``; each is checked against its BLAKE3 name before a
byte of it is served (a damaged fragment raises CorruptFragment). Batches run
in a worker thread, the next one prefetched while the current is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import blake3

from dedup.codecs import decode
from dedup.errors import CorruptFragment
from dedup.format import HEADER_SIZE
from dedup.index import U64X2, FragmentRow, Index, manifest_entries
from dedup.packs import PackFiles
from dedup.types import ObjectInfo

BATCH = 4 * 1024 * 1024


@dataclass(frozen=True)
class Piece:
    """Part of a version to serve: [start, end) of version ``vid``."""

    vid: int
    start: int
    end: int


@dataclass
class _Frag:
    offset: int  # within the version
    raw: int
    digest: bytes
    pack: int
    pos: int
    stored: int
    codec: int


def plan_pieces(segments: tuple[tuple[int, int], ...], start: int, length: int) -> list[Piece]:
    pieces = []
    base = 0
    end = start + length
    for vid, seg_len in segments:
        lo, hi = max(start, base), min(end, base + seg_len)
        if lo < hi:
            pieces.append(Piece(vid, lo - base, hi - base))
        base += seg_len
    return pieces


class ObjectReader:
    """The bytes [start, start+length) of one object, as an async iterator of
    memoryviews, each over a buffer of its own (a transport may keep it)."""

    def __init__(self, index: Index, files: PackFiles, info: ObjectInfo,
                 segments: tuple[tuple[int, int], ...], start: int, length: int) -> None:
        self.info = info
        self.start = start
        self.length = length
        self.part_count = len(info.part_sizes)
        self._index = index
        self._files = files
        self._pieces = plan_pieces(segments, start, length)
        self._piece = 0
        self._pos = self._pieces[0].start if self._pieces else 0
        self._read = bytearray()
        self._next: asyncio.Future[memoryview | None] | None = None

    async def prime(self) -> None:
        """Load the first batch now, so that a damaged fragment or a missing
        pack is an error before the response starts."""
        if self._next is None:
            self._next = asyncio.ensure_future(asyncio.to_thread(self._load))
            await asyncio.shield(self._next)

    def __aiter__(self) -> AsyncIterator[memoryview]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[memoryview]:
        await self.prime()
        while self._next is not None:
            chunk = await self._next
            if chunk is None:
                self._next = None
                return
            self._next = asyncio.ensure_future(asyncio.to_thread(self._load))
            yield chunk

    async def aclose(self) -> None:
        if self._next is not None:
            try:
                await self._next
            except BaseException:
                pass
            self._next = None

    # -- worker-thread side ---------------------------------------------------
    def _load(self) -> memoryview | None:
        frags = self._next_fragments()
        if not frags:
            return None
        view = memoryview(bytearray(sum(f.raw for f in frags)))
        try:
            filled = self._copy(frags, view)
        except OSError:  # a pack was compacted away under us: look again, once
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
                _seek(cur, piece.vid, self._pos)
                for key, value in cur:
                    vid, off = U64X2.unpack(key)
                    if vid != piece.vid or off >= piece.end:
                        break
                    for digest, raw in manifest_entries(value):
                        if off + raw > self._pos and off < piece.end:
                            loc = txn.get(digest, db=fragments)
                            if loc is None:
                                raise CorruptFragment(f"fragment {digest.hex()} is missing")
                            row = FragmentRow.decode(loc)
                            lo, hi = max(piece.start, off, self._pos), min(piece.end, off + raw)
                            out.append(_Frag(lo - off, hi - lo, digest, row.pack, row.offset, row.stored, row.codec))
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
                    raise CorruptFragment(f"version {piece.vid} ends before {piece.end}")
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
        first, last = run[0], run[-1]
        span = last.pos + HEADER_SIZE + last.stored - first.pos
        if len(self._read) < span:  # the scratch buffer grows, never exported
            self._read = bytearray(max(span, 2 * len(self._read)))
        data = memoryview(self._read)[:span]
        self._files.readinto(first.pack, first.pos, data)
        for f in run:
            at = f.pos - first.pos + HEADER_SIZE
            raw = decode(f.codec, data[at : at + f.stored])
            if blake3.blake3(raw).digest() != f.digest:
                raise CorruptFragment(f"fragment {f.digest.hex()} in pack {f.pack:08x} fails its hash")
            piece = memoryview(raw)[f.offset : f.offset + f.raw]
            out[filled : filled + len(piece)] = piece
            filled += len(piece)
        return filled


def _seek(cur: Any, vid: int, pos: int) -> None:
    """Put ``cur`` on the manifest row of ``vid`` whose entries cover ``pos``."""
    found = cur.set_range(U64X2.pack(vid, pos))
    if found:
        key_vid, key_off = U64X2.unpack(cur.key())
        if key_vid == vid and key_off == pos:
            return
    if not (cur.prev() if found else cur.last()):
        raise CorruptFragment(f"version {vid} has no manifest row at {pos}")
    key_vid, _ = U64X2.unpack(cur.key())
    if key_vid != vid:
        raise CorruptFragment(f"version {vid} has no manifest row at {pos}")


def _runs(frags: list[_Frag]) -> list[list[_Frag]]:
    """Group fragments that lie back to back in one pack."""
    runs: list[list[_Frag]] = []
    for f in frags:
        if runs:
            prev = runs[-1][-1]
            if prev.pack == f.pack and prev.pos + HEADER_SIZE + prev.stored == f.pos:
                runs[-1].append(f)
                continue
        runs.append([f])
    return runs
