"""The pack store seam: where pack bytes live, behind one ``Protocol``.

The engine names fragment bytes by (pack id, offset) and never asks where a
pack is kept. Two implementations:

- :class:`dedup.packs.LocalPacks` (the default): pack files under
  ``<data>/packs``, one *open* pack appended in place by the writer thread and
  sealed at ``pack_size``; freed records are punched out where the filesystem
  can (dedup/holes.py).
- :class:`dedup.s3packs.S3Packs` (``--packs s3://BUCKET/PREFIX``): every group
  commit that appends writes one immutable *segment* object (a pack that is
  sealed when it is born), PUT whole before the index commits; reads are
  ranged GETs through a bounded local cache (dedup/packcache.py).

What differs is said by two flags, never by the implementation's type:
``segmented`` (each group commit's appends make a new pack, written whole at
:meth:`PackSink.sync`; else one open pack grows until it is sealed) and
``punches`` (freed records' space can come back at once, by punching holes;
else only compaction gives it back).

Crash protocol (both): a sink's :meth:`PackSink.sync` returns only once every
byte appended to it is durable; only then may the index transaction that
points at them commit. A pack the index never committed is garbage: the
writer removes it on open when its id is past every committed one, and
``check`` reports others.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dedup.errors import WrongPackStore
from dedup.format import RecordHeader


@dataclass(frozen=True)
class PackInfo:
    """One pack as its store lists it: its length, and the bytes it occupies
    (allocated blocks of a file with holes; the object's size in S3)."""

    pack_id: int
    length: int
    disk: int


@dataclass(frozen=True)
class PackOps:
    """Requests of one kind a pack store made: how many, how many failed, the
    seconds they took in all (latency = seconds / count)."""

    op: str
    count: int
    errors: int
    seconds: float


@dataclass(frozen=True)
class PackFigures:
    """What a pack store counted since it was opened (metrics)."""

    kind: str  # "local" or "s3"
    ops: tuple[PackOps, ...] = ()
    cache_hits: int = 0
    cache_misses: int = 0
    cache_bytes: int = 0


class PackSink(Protocol):
    """The pack that the writer thread appends to (an open pack, or the segment
    of one group commit). Used by the writer thread only."""

    pack_id: int
    end: int  # the length of the pack, appended bytes included

    def append(self, buffers: Sequence[bytes | memoryview]) -> int:
        """Add ``buffers`` (record headers and data, in order) at the end; the
        offset of the first byte. A failed append leaves no partial record."""

    def sync(self) -> None:
        """Make every appended byte durable (fdatasync; the PUT of a segment)."""

    def close(self) -> None:
        """Let go of the sink (its synced bytes stay; unsynced ones may not)."""


class PackStore(Protocol):
    """Where pack bytes live: written through sinks, read by any thread."""

    @property
    def segmented(self) -> bool:
        """A new immutable pack per group commit (see the module docstring)."""

    @property
    def punches(self) -> bool:
        """Freed records can be punched out at once (this may turn off at run time)."""

    def sink(self, pack_id: int, committed: int) -> PackSink:
        """A sink for ``pack_id``: an open pack cut back to ``committed`` bytes
        (the length the index last committed), or a new segment (``committed`` 0)."""

    def read(self, pack_id: int, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset``; OSError (FileNotFoundError where the
        pack is gone) if they cannot all be read."""

    def readinto(self, pack_id: int, offset: int, buf: memoryview) -> None:
        """Fill ``buf`` from the bytes at ``offset``."""

    def readv(self, pack_id: int, offset: int, bufs: list[memoryview]) -> None:
        """Fill ``bufs`` in order from the bytes at ``offset`` (one coalesced read)."""

    @property
    def max_pack(self) -> int:
        """The most bytes one pack may hold (a PUT's or an object's limit);
        the writer seals a pack at the smaller of this and ``pack_size``."""

    @property
    def read_ahead(self) -> int:
        """Bytes a sequential reader should plan ahead of what it reads and
        announce with :meth:`prefetch` (0: the store gains nothing from it)."""

    def prefetch(self, ranges: Sequence[tuple[int, int, int]]) -> None:
        """(pack id, offset, length) ranges that will be read soon: a remote store
        starts fetching them in the background. Returns at once; never fails."""

    def list(self) -> list[PackInfo]:
        """Every pack the store holds, committed or not, by id."""

    def usage(self) -> tuple[int, int]:
        """(packs, bytes they occupy) now, as cheaply as the store allows (stats,
        metrics: a remote store answers from what it knows, listing once)."""

    def disk(self, pack_id: int) -> int:
        """The bytes ``pack_id`` occupies now (0 if it is gone)."""

    def delete(self, pack_id: int) -> int:
        """Remove a pack for good; the bytes it occupied (0 if it was gone)."""

    def records(self, pack_id: int) -> Iterator[tuple[int, RecordHeader, bytes]]:
        """(offset, header, stored bytes) of each intact record, in order
        (compaction's copy, and rebuilding an index from packs)."""

    def punch(self, pack_id: int, ranges: Sequence[tuple[int, int]]) -> int:
        """Give back the space of the (offset, length) ranges of dead records;
        the bytes that came back. Only called where ``punches``."""

    def forget(self, pack_id: int) -> None:
        """Drop what is cached of a pack about to be deleted or cut back."""

    def describe(self) -> dict[str, Any]:
        """What ``/_fragstore/health`` says of this store: kind, location and
        ``status`` ("ok", or "unavailable" with an ``error``); may ask the store."""

    def figures(self) -> PackFigures:
        """Requests, errors, latency and cache hits since the store was opened."""

    def close(self) -> None:
        """Release connections, descriptors and caches."""


class SegmentPutter(Protocol):
    """A store that writes one immutable object per segment (S3, RADOS)."""

    def put_segment(self, pack_id: int, data: bytes) -> None: ...


class Segment:
    """One group commit's records, collected by the writer thread and written
    whole at :meth:`sync` by a segmented store (dedup/s3packs.py,
    dedup/radospacks.py). The buffers are referenced, not copied, until then:
    they belong to jobs whose futures resolve only after the group commits."""

    def __init__(self, store: SegmentPutter, pack_id: int) -> None:
        self.store = store
        self.pack_id = pack_id
        self.end = 0
        self._parts: list[bytes | memoryview] = []
        self._synced = 0

    def append(self, buffers: Sequence[bytes | memoryview]) -> int:
        start = self.end
        self._parts.extend(buffers)
        self.end += sum(len(b) for b in buffers)
        return start

    def sync(self) -> None:
        if self.end == self._synced:
            return
        self.store.put_segment(self.pack_id, b"".join(self._parts))
        self._synced = self.end

    def close(self) -> None:
        self._parts = []


OWNER = "OWNER"  # the object naming the data directory whose segments a prefix holds (dedup/packsopen.py)


class SegmentedPacks:
    """What the stores of immutable segments (S3, RADOS) share: the owner
    check, sinks, reads into buffers, and segment sizes known from listing and
    from this process's writes. A subclass supplies ``url``, ``read``,
    ``put_segment`` (which records the size), ``_stat`` and the owner object's
    ``_read_owner``/``_write_owner``."""

    segmented = True
    punches = False  # objects have no holes: compaction gives the space back

    def __init__(self) -> None:
        self._sizes: dict[int, int] = {}  # the segments there are, and their lengths
        self._listed = False  # then kept up to date by this process's writes and deletes

    @property
    def url(self) -> str:
        raise NotImplementedError

    def read(self, pack_id: int, offset: int, length: int) -> bytes:
        raise NotImplementedError

    def _stat(self, pack_id: int) -> int:
        """A segment's length from the store; FileNotFoundError if it has none."""
        raise NotImplementedError

    def _read_owner(self) -> str:
        """The owner object's text; FileNotFoundError if there is none."""
        raise NotImplementedError

    def _write_owner(self, owner: str) -> None:
        raise NotImplementedError

    def claim(self, owner: str, write: bool = True) -> None:
        """Make sure the prefix belongs to the data directory ``owner``: its
        OWNER object names it (written now if there is none and ``write``);
        WrongPackStore if it names another."""
        try:
            found = self._read_owner()
        except FileNotFoundError:
            if write:
                self._write_owner(owner)
            return
        if found != owner:
            raise WrongPackStore(f"{self.url} holds the packs of another data directory (its {OWNER} says "
                                 f"{found}, this directory is {owner}): give each one a prefix of its own")

    def sink(self, pack_id: int, committed: int) -> Segment:
        if committed:
            raise ValueError("segments are written whole: there is no open segment to continue")
        self.forget(pack_id)
        return Segment(self, pack_id)  # type: ignore[arg-type]  # subclasses define put_segment

    def forget(self, pack_id: int) -> None:
        """Drop what is cached of a segment (none here)."""

    def readinto(self, pack_id: int, offset: int, buf: memoryview) -> None:
        buf[:] = self.read(pack_id, offset, len(buf))

    def readv(self, pack_id: int, offset: int, bufs: list[memoryview]) -> None:
        data = memoryview(self.read(pack_id, offset, sum(len(b) for b in bufs)))
        pos = 0
        for b in bufs:
            b[:] = data[pos : pos + len(b)]
            pos += len(b)

    def usage(self) -> tuple[int, int]:
        if not self._listed:
            self.list()
        sizes = dict(self._sizes)
        return len(sizes), sum(sizes.values())

    def disk(self, pack_id: int) -> int:
        size = self._sizes.get(pack_id)
        if size is None:
            try:
                size = self._stat(pack_id)
            except FileNotFoundError:
                return 0
            self._sizes[pack_id] = size
        return size

    def punch(self, pack_id: int, ranges: Sequence[tuple[int, int]]) -> int:
        return 0

    def list(self) -> list[PackInfo]:  # last: its name would shadow list[...] in the annotations above
        raise NotImplementedError
