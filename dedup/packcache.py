"""A bounded local cache of remote pack bytes, in fixed blocks of one file each.

Remote packs (segments in S3) are immutable once written, so a cached block
never goes stale: there is nothing to invalidate but what a delete drops. A
block is ``BLOCK`` bytes of one pack at a multiple of ``BLOCK`` (the last block
of a pack is shorter); its file is ``<dir>/<pack id>-<block number>``. The
cache keeps at most ``limit`` bytes, dropping the least recently used blocks
first. It is emptied when it is opened (what a past run cached is not
trusted: a segment id that a crash left uncommitted is used again), and it is
never needed for correctness: a lost block is fetched again.

Thread-safe: readers in worker threads share it; a block is written to a temp
name and renamed, so a reader sees a whole block or none.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections import OrderedDict
from pathlib import Path

BLOCK = 1024 * 1024


class BlockCache:
    """Least-recently-used blocks of packs, at most ``limit`` bytes on disk."""

    def __init__(self, directory: Path, limit: int) -> None:
        self.directory = directory
        self.limit = limit
        self.hits = 0
        self.misses = 0
        self._lru: OrderedDict[tuple[int, int], int] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._seq = 0
        if limit > 0:  # an unused cache (limit 0, read-only use) touches nothing
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True, exist_ok=True)

    @property
    def size(self) -> int:
        """The bytes held now."""
        return self._bytes

    def _path(self, pack_id: int, block: int) -> Path:
        return self.directory / f"{pack_id:08x}-{block:08x}"

    def has(self, pack_id: int, block: int) -> bool:
        """Whether a block is cached (not counted as a hit or a miss)."""
        return (pack_id, block) in self._lru

    def get(self, pack_id: int, block: int) -> bytes | None:
        """A cached block, or None (counted as a hit or a miss)."""
        with self._lock:
            if (pack_id, block) not in self._lru:
                self.misses += 1
                return None
            self._lru.move_to_end((pack_id, block))
            self.hits += 1
        try:
            return self._path(pack_id, block).read_bytes()
        except FileNotFoundError:  # evicted since: fetch it again
            return None

    def put(self, pack_id: int, block: int, data: bytes | memoryview) -> None:
        """Keep a block (nothing where the cache is off or the block is larger than it)."""
        if len(data) > self.limit:
            return
        with self._lock:
            if (pack_id, block) in self._lru:
                return
            self._seq += 1
            tmp = self.directory / f".tmp-{self._seq}"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, self._path(pack_id, block))
        except OSError:  # a full disk makes the cache smaller, never a read fail
            tmp.unlink(missing_ok=True)
            return
        with self._lock:
            if (pack_id, block) in self._lru:  # another thread kept the same block meanwhile
                return
            self._lru[(pack_id, block)] = len(data)
            self._bytes += len(data)
            while self._bytes > self.limit and self._lru:
                (pid, blk), n = self._lru.popitem(last=False)
                self._bytes -= n
                self._path(pid, blk).unlink(missing_ok=True)

    def forget(self, pack_id: int) -> None:
        """Drop every block of a pack (it is being deleted)."""
        with self._lock:
            gone = [k for k in self._lru if k[0] == pack_id]
            for key in gone:
                self._bytes -= self._lru.pop(key)
                self._path(*key).unlink(missing_ok=True)

    def clear(self) -> None:
        with self._lock:
            self._lru.clear()
            self._bytes = 0
            if self.limit > 0:
                shutil.rmtree(self.directory, ignore_errors=True)
