"""Punching holes in pack files: a dead record's disk space back at once.

``fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length)``
(Linux: ext4, XFS, btrfs, tmpfs, ...) frees the filesystem blocks of a byte
range and leaves the file's length alone; the range then reads as zeros.
Python's ``os`` has only ``posix_fallocate`` (no mode flags), and the PyPI
package that wraps ``fallocate(2)`` has had no release since 2018, so the call
is made through ``ctypes`` from the C library: one function, no dependency.

Rules the callers keep (dedup/gc.py, dedup/writer.py):

- A record's range is punched only after the index transaction that freed its
  fragment has committed: freeing queues the range in the ``holes`` table in
  that transaction, and punching reads only committed rows. A crash in between
  leaves the row, and the next GC (or the next open) punches it. Punching a
  range twice is harmless: pack bytes below the committed length are never
  written again, so a queued range is dead for good.
- Whole records (header and data) are punched, so that the bytes between live
  records are zeros and :func:`dedup.packs.scan_records` can step over them.
- Only whole blocks are freed; a range's partial blocks at either end are
  zeroed instead. Those partial blocks are widened to the block boundary when
  the bytes added are zeros already (a neighbour punched earlier, or past the
  end of the file): punching zeros over zeros changes no byte, so a run of
  records freed at different times still comes back whole.
- A filesystem without punch support (EOPNOTSUPP, or any error from the probe)
  is found by a probe when the store opens; it is logged once and nothing is
  queued: dead records then come back only when compaction rewrites or deletes
  their pack. A punch that fails later with EOPNOTSUPP turns punching off the
  same way; other errors (EIO, ...) leave the ranges queued for the next GC.

:func:`punch_hole` is looked up at call time, so that a test can put a function
in its place that raises (a filesystem without support) or kills the process (a
crash between commit and punch).
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("fragstore.holes")

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
UNSUPPORTED = {errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS}
PROBE_NAME = ".punch-probe"  # not a pack name: list_pack_ids skips it


def _load_fallocate() -> Any:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no C library to load symbols from
        return None
    fn = getattr(libc, "fallocate64", None) or getattr(libc, "fallocate", None)
    if fn is None:  # not Linux
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fn.restype = ctypes.c_int
    return fn


_fallocate = _load_fallocate()


def punch_hole(fd: int, offset: int, length: int) -> None:
    """Deallocate ``length`` bytes at ``offset`` of ``fd`` (opened for writing),
    keeping the file size. Raises OSError (EOPNOTSUPP where there is no support)."""
    if _fallocate is None:
        raise OSError(errno.EOPNOTSUPP, "fallocate is not available on this platform")
    if _fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """(offset, length) ranges as sorted, disjoint [start, end) spans."""
    spans: list[tuple[int, int]] = []
    for offset, length in sorted(ranges):
        if spans and offset <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], offset + length))
        else:
            spans.append((offset, offset + length))
    return spans


def _zeros(buf: bytes) -> bool:
    return not buf.strip(b"\0")


def widen(fd: int, spans: list[tuple[int, int]], size: int, block: int) -> Iterator[tuple[int, int]]:
    """Each span, grown to its blocks' boundaries where the bytes added are zeros
    (or past ``size``, the end of the file)."""
    for lo, hi in spans:
        start = lo - lo % block
        if start < lo and _zeros(os.pread(fd, lo - start, start)):
            lo = start
        end = -(-hi // block) * block
        if end > hi and (hi >= size or _zeros(os.pread(fd, min(end, size) - hi, hi))):
            hi = end
        yield lo, hi


class Holes:
    """Hole punching for one packs directory: whether the filesystem can, and
    the punching itself (called on the writer thread)."""

    def __init__(self, packs_dir: Path) -> None:
        self.packs_dir = packs_dir
        self.supported = True
        self.supported = self._probe()

    def _probe(self) -> bool:
        path = self.packs_dir / f"{PROBE_NAME}.{os.getpid()}"  # (processes sharing packs/ probe at once)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:  # an empty file: a filesystem without support refuses the mode at once
            punch_hole(fd, 0, 4096)
            return True
        except OSError as exc:  # EOPNOTSUPP, or any other refusal: do without
            self._unsupported(exc)
            return False
        finally:
            os.close(fd)
            os.unlink(path)

    def _unsupported(self, exc: OSError) -> None:
        if self.supported:
            log.warning("the filesystem of %s cannot punch holes (%s): space of deleted data comes back "
                        "only when compaction rewrites or removes its pack", self.packs_dir, exc)
        self.supported = False

    def punch(self, path: Path, ranges: Iterable[tuple[int, int]]) -> int:
        """Punch the (offset, length) ranges of one pack file and make that
        durable; returns the bytes of disk space that came back (allocated
        blocks before minus after). FileNotFoundError if the pack is gone;
        other errors (EIO, ...) propagate and leave the ranges to a later try."""
        if not self.supported:
            return 0
        fd = os.open(path, os.O_RDWR)
        try:
            st = os.fstat(fd)
            for lo, hi in widen(fd, merge(ranges), st.st_size, st.st_blksize or 4096):
                try:
                    punch_hole(fd, lo, hi - lo)
                except OSError as exc:
                    if exc.errno not in UNSUPPORTED:
                        raise
                    self._unsupported(exc)
                    break
            os.fdatasync(fd)
            return max(0, st.st_blocks - os.fstat(fd).st_blocks) * 512
        finally:
            os.close(fd)


PUNCHING_FILESYSTEMS = frozenset({"ext4", "xfs", "btrfs", "tmpfs", "f2fs", "ocfs2", "gfs2", "zfs", "overlay"})


def likely_supported(path: Path) -> bool:
    """Whether the filesystem under ``path`` punches holes, judged without
    writing (read-only commands may not probe): the type of the mount that
    holds it, from /proc/self/mounts (an overlay punches where its upper
    layer does, as on container hosts). False where that cannot be read."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return False
    target, best, kind = str(path.resolve()), -1, ""
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > best:
            best, kind = len(point), fields[2]
    return kind in PUNCHING_FILESYSTEMS
