"""Pack files: append-only files of self-describing fragment records.

:class:`LocalPacks` is the default pack store (dedup/packstore.py): pack files
under ``<data>/packs``. The writer thread owns the one open pack
(:class:`PackWriter`); any thread reads through :class:`PackFiles` with
``pread``. This module never touches the index: it knows offsets and bytes,
not fragments' meaning.

Crash protocol (pack side): bytes are appended, then ``fdatasync``ed, and only
then may an index transaction that points at them commit. On open, the writer
truncates its pack to the length the index last committed, dropping anything a
crash left behind.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dedup.format import HEADER_SIZE, RecordHeader, unpack_header
from dedup.holes import Holes, likely_supported
from dedup.packstore import PackFigures, PackInfo

_IOV_MAX = 1000


def pack_path(packs_dir: Path, pack_id: int) -> Path:
    return packs_dir / f"{pack_id:08x}.pack"


def list_pack_ids(packs_dir: Path) -> list[int]:
    ids = []
    for name in os.listdir(packs_dir):
        if name.endswith(".pack"):
            try:
                ids.append(int(name[:-5], 16))
            except ValueError:
                continue
    return sorted(ids)


class PackWriter:
    """Appends records to the open pack. Used by the writer thread only."""

    def __init__(self, packs_dir: Path, pack_id: int, committed: int) -> None:
        self.packs_dir = packs_dir
        self.pack_id = pack_id
        self.fd = os.open(pack_path(packs_dir, pack_id), os.O_RDWR | os.O_CREAT, 0o644)
        if os.fstat(self.fd).st_size != committed:
            os.ftruncate(self.fd, committed)  # drop what a crash left past the commit
        self.end = committed
        self.dirty = False

    def append(self, buffers: Sequence[bytes | memoryview]) -> int:
        """Write ``buffers`` (headers and data, in order) at the end; return the
        offset of the first byte. On failure the pack is cut back and the error
        re-raised, so a failed append leaves no partial record."""
        start = self.end
        pos = start
        try:
            for i in range(0, len(buffers), _IOV_MAX):
                group = buffers[i : i + _IOV_MAX]
                want = sum(len(b) for b in group)
                done = os.pwritev(self.fd, group, pos)
                while done < want:  # short write: finish it the slow way
                    rest = b"".join(bytes(b) for b in group)[done:]
                    done += os.pwrite(self.fd, rest, pos + done)
                pos += want
        except OSError:
            os.ftruncate(self.fd, start)
            raise
        self.end = pos
        self.dirty = True
        return start

    def sync(self) -> None:
        if self.dirty:
            os.fdatasync(self.fd)
            self.dirty = False

    def truncate(self, length: int) -> None:
        os.ftruncate(self.fd, length)
        self.end = length

    def close(self) -> None:
        os.close(self.fd)


class _Handle:
    """An open read descriptor, closed when the last user lets go of it."""

    fd = -1

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDONLY)

    def __del__(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)


class PackFiles:
    """Read access to every pack, safe from any thread."""

    def __init__(self, packs_dir: Path) -> None:
        self.packs_dir = packs_dir
        self._handles: dict[int, _Handle] = {}
        self._lock = threading.Lock()

    def _handle(self, pack_id: int) -> _Handle:
        handle = self._handles.get(pack_id)
        if handle is None:
            with self._lock:
                handle = self._handles.get(pack_id)
                if handle is None:
                    handle = _Handle(pack_path(self.packs_dir, pack_id))
                    self._handles[pack_id] = handle
        return handle

    def read(self, pack_id: int, offset: int, length: int) -> bytes:
        handle = self._handle(pack_id)
        data = os.pread(handle.fd, length, offset)
        if len(data) != length:
            raise OSError(f"short read in pack {pack_id:08x} at {offset}")
        return data

    def readinto(self, pack_id: int, offset: int, buf: memoryview) -> None:
        self.readv(pack_id, offset, [buf])

    def readv(self, pack_id: int, offset: int, bufs: list[memoryview]) -> None:
        """Fill ``bufs`` in order from the bytes at ``offset`` (one preadv)."""
        handle = self._handle(pack_id)
        got = os.preadv(handle.fd, bufs, offset)
        if got != sum(len(b) for b in bufs):
            raise OSError(f"short read in pack {pack_id:08x} at {offset}")

    def forget(self, pack_id: int) -> None:
        """Drop the cached descriptor of a deleted pack (readers holding it finish)."""
        with self._lock:
            self._handles.pop(pack_id, None)

    def close(self) -> None:
        with self._lock:
            self._handles.clear()


class LocalPacks:
    """Pack files in one directory: the embedded pack store. ``probe``: find out
    whether the filesystem punches holes by trying (a writer); without it
    (read-only use) judge it from the filesystem's type and never write."""

    segmented = False
    read_ahead = 0  # the page cache and the disk's own read-ahead do this
    max_pack = 1 << 62

    def __init__(self, packs_dir: Path, probe: bool = True) -> None:
        self.packs_dir = packs_dir
        self.files = PackFiles(packs_dir)
        self.holes = Holes(packs_dir) if probe else None
        self._likely = likely_supported(packs_dir) if not probe else False

    @property
    def punches(self) -> bool:
        return self.holes.supported if self.holes is not None else self._likely

    def sink(self, pack_id: int, committed: int) -> PackWriter:
        self.files.forget(pack_id)
        return PackWriter(self.packs_dir, pack_id, committed)

    def read(self, pack_id: int, offset: int, length: int) -> bytes:
        return self.files.read(pack_id, offset, length)

    def readinto(self, pack_id: int, offset: int, buf: memoryview) -> None:
        self.files.readv(pack_id, offset, [buf])

    def readv(self, pack_id: int, offset: int, bufs: list[memoryview]) -> None:
        self.files.readv(pack_id, offset, bufs)

    def prefetch(self, ranges: Sequence[tuple[int, int, int]]) -> None:
        return None

    def list(self) -> list[PackInfo]:
        out = []
        for pid in list_pack_ids(self.packs_dir):
            try:
                st = os.stat(pack_path(self.packs_dir, pid))
            except FileNotFoundError:
                continue
            out.append(PackInfo(pid, st.st_size, min(st.st_size, st.st_blocks * 512)))
        return out

    def usage(self) -> tuple[int, int]:
        listed = self.list()
        return len(listed), sum(p.disk for p in listed)

    def disk(self, pack_id: int) -> int:
        try:
            return os.stat(pack_path(self.packs_dir, pack_id)).st_blocks * 512
        except FileNotFoundError:
            return 0

    def delete(self, pack_id: int) -> int:
        path = pack_path(self.packs_dir, pack_id)
        self.files.forget(pack_id)
        try:
            freed = os.stat(path).st_blocks * 512
            os.unlink(path)
        except FileNotFoundError:
            return 0
        return freed

    def records(self, pack_id: int) -> Iterator[tuple[int, RecordHeader, bytes]]:
        return scan_records(pack_path(self.packs_dir, pack_id))

    def punch(self, pack_id: int, ranges: Sequence[tuple[int, int]]) -> int:
        if self.holes is None:
            return 0
        return self.holes.punch(pack_path(self.packs_dir, pack_id), ranges)

    def forget(self, pack_id: int) -> None:
        self.files.forget(pack_id)

    def describe(self) -> dict[str, Any]:
        ok = os.access(self.packs_dir, os.W_OK)
        return {"kind": "local", "holes": self.punches, "status": "ok" if ok else "unavailable",
                **({} if ok else {"error": f"{self.packs_dir} is not writable"})}

    def figures(self) -> PackFigures:
        return PackFigures("local")

    def close(self) -> None:
        self.files.close()


def scan_records(path: Path) -> Iterator[tuple[int, RecordHeader, bytes]]:
    """Yield (offset, header, stored bytes) for each intact record of a pack.

    Zeros where a record should start are a punched hole (dedup/holes.py: whole
    records are punched, so a hole ends where the next record's header starts):
    the scan steps over them and goes on at the next record. It stops at the
    end, at a record cut short, and at bytes that are neither zeros nor a valid
    header (a torn or damaged tail; headers carry a CRC)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        offset = 0
        while offset < size:
            head = f.read(HEADER_SIZE)
            header = unpack_header(head)
            if header is None:
                if not head or head[0] != 0:
                    return
                after = _skip_zeros(path, offset, size)
                if after is None:
                    return
                offset = after  # a valid header here, or bytes that end the scan
                f.seek(offset)
                continue
            data = f.read(header.stored_length)
            if len(data) != header.stored_length:
                return
            yield offset, header, data
            offset += header.total


_SKIP_CHUNK = 1 << 20


def _skip_zeros(path: Path, pos: int, size: int) -> int | None:
    """The offset of the first non-zero byte of the file at or after ``pos``;
    None if only zeros follow. Unallocated blocks are passed with SEEK_DATA
    where the system has it, the zeros of partly punched blocks by reading
    them. (A descriptor of its own: SEEK_DATA moves the file offset, which a
    buffered reader of the same descriptor would not know.)"""
    fd = os.open(path, os.O_RDONLY)
    try:
        while pos < size:
            if hasattr(os, "SEEK_DATA"):
                try:
                    pos = os.lseek(fd, pos, os.SEEK_DATA)
                except OSError as exc:
                    if exc.errno == errno.ENXIO:  # nothing but a hole up to the end
                        return None
                    raise
            chunk = os.pread(fd, min(_SKIP_CHUNK, size - pos), pos)
            if not chunk:
                return None
            rest = chunk.lstrip(b"\0")
            if rest:
                return pos + len(chunk) - len(rest)
            pos += len(chunk)
        return None
    finally:
        os.close(fd)
