"""Packs in a Ceph RADOS pool (``--packs rados://POOL/PREFIX``), through librados.

The same segments as packs in S3 (dedup/s3packs.py): each group commit that
appends writes one object ``PREFIX<pack id, 8 hex digits>.pack`` whole
(``write_full``, acknowledged once every replica has it) before the index
commits, in the local record format; GC deletes whole segments and merges
small ones; there are no holes. Without the HTTP layer in between, reads are
plain ``read(object, length, offset)`` calls, each run of records one call,
with no local cache.

The cluster is found the way the ``ceph`` tools find it: the file named by
``CEPH_CONF``, else /etc/ceph/ceph.conf, with its keyring. The ``rados``
module is Ceph's own binding (Debian: python3-rados, built for the system
Python; a virtual environment needs ``--system-site-packages`` to see it); it
is imported only when a store is opened with RADOS packs. librados is
thread-safe and its calls release the GIL, so the writer thread and the
readers' worker threads share one connection.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from dedup.errors import PackStoreUnavailable
from dedup.format import HEADER_SIZE, RecordHeader, unpack_header
from dedup.packstore import OWNER, PackFigures, PackInfo, PackOps, SegmentedPacks

SUFFIX = ".pack"
MAX_SEGMENT = 64 * 1024 * 1024  # under RADOS's default osd_max_object_size (128 MiB)
SCAN_CHUNK = 8 * 1024 * 1024


def _rados() -> Any:
    try:
        return importlib.import_module("rados")
    except ImportError:
        raise PackStoreUnavailable(
            "rados:// packs need Ceph's python module (Debian: python3-rados), visible to this Python "
            "(a virtual environment made with --system-site-packages)") from None


class RadosPacks(SegmentedPacks):
    """Segments in one pool under one prefix."""

    read_ahead = 0
    max_pack = MAX_SEGMENT

    def __init__(self, pool: str, prefix: str) -> None:
        self.pool = pool
        self.prefix = prefix
        self.ops: dict[str, list[float]] = {}  # op -> [count, errors, seconds]
        self._lock = threading.Lock()
        super().__init__()
        self.rados = _rados()
        try:
            self.cluster = self.rados.Rados()
            self.cluster.conf_read_file()  # CEPH_CONF, else the default places
            self.cluster.connect(timeout=30)
            self.ioctx = self.cluster.open_ioctx(pool)
        except self.rados.Error as exc:
            raise PackStoreUnavailable(f"cannot open RADOS pool {pool!r}: {exc}") from exc

    @property
    def url(self) -> str:
        return f"rados://{self.pool}/{self.prefix}"

    def key(self, pack_id: int) -> str:
        return f"{self.prefix}{pack_id:08x}{SUFFIX}"

    def _call(self, op: str, fn: Any, *args: Any) -> Any:
        started = time.perf_counter()
        failed = True
        try:
            result = fn(*args)
            failed = False
            return result
        except self.rados.ObjectNotFound:
            failed = False
            raise FileNotFoundError(f"{args[0] if args else op} is not in RADOS pool {self.pool}") from None
        except self.rados.Error as exc:
            raise PackStoreUnavailable(f"RADOS {op} failed: {exc}") from exc
        finally:
            with self._lock:
                stats = self.ops.setdefault(op, [0, 0, 0.0])
                stats[0] += 1
                stats[1] += failed
                stats[2] += time.perf_counter() - started

    # -- the PackStore protocol ------------------------------------------------
    def _read_owner(self) -> str:
        return bytes(self._call("read", self.ioctx.read, f"{self.prefix}{OWNER}", 64, 0)).decode().strip()

    def _write_owner(self, owner: str) -> None:
        self._call("write_full", self.ioctx.write_full, f"{self.prefix}{OWNER}", owner.encode())

    def _stat(self, pack_id: int) -> int:
        return int(self._call("stat", self.ioctx.stat, self.key(pack_id))[0])

    def put_segment(self, pack_id: int, body: bytes) -> None:
        self._call("write_full", self.ioctx.write_full, self.key(pack_id), body)
        self._sizes[pack_id] = len(body)

    def read(self, pack_id: int, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        data = bytes(self._call("read", self.ioctx.read, self.key(pack_id), length, offset))
        if len(data) != length:
            if not data and offset == 0:
                raise FileNotFoundError(f"segment {self.key(pack_id)} is empty or gone")
            raise OSError(f"short read in segment {pack_id:08x} at {offset}")
        return data

    def prefetch(self, ranges: Sequence[tuple[int, int, int]]) -> None:
        return None

    def list(self) -> list[PackInfo]:
        out = []
        for obj in self._call("list", self.ioctx.list_objects):
            name = obj.key
            if not name.startswith(self.prefix) or not name.endswith(SUFFIX):
                continue
            rest = name[len(self.prefix) : -len(SUFFIX)]
            if "/" in rest:
                continue
            try:
                pid = int(rest, 16)
            except ValueError:
                continue
            size = self.disk(pid)
            out.append(PackInfo(pid, size, size))
        self._listed = True
        return sorted(out, key=lambda p: p.pack_id)

    def delete(self, pack_id: int) -> int:
        size = self.disk(pack_id)
        try:
            self._call("remove", self.ioctx.remove_object, self.key(pack_id))
        except FileNotFoundError:
            pass
        self._sizes.pop(pack_id, None)
        return size

    def records(self, pack_id: int) -> Iterator[tuple[int, RecordHeader, bytes]]:
        size = self.disk(pack_id)
        offset = 0
        while offset + HEADER_SIZE <= size:
            header = unpack_header(self.read(pack_id, offset, HEADER_SIZE))
            if header is None or offset + header.total > size:
                return
            yield offset, header, self.read(pack_id, offset + HEADER_SIZE, header.stored_length)
            offset += header.total

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "rados", "url": self.url}
        try:
            self._call("stat_pool", self.ioctx.get_stats)
            out["status"] = "ok"
        except PackStoreUnavailable as exc:
            out["status"] = "unavailable"
            out["error"] = str(exc)
        return out

    def figures(self) -> PackFigures:
        with self._lock:
            ops = tuple(PackOps(op, int(s[0]), int(s[1]), s[2]) for op, s in sorted(self.ops.items()))
        return PackFigures("rados", ops)

    def close(self) -> None:
        self.ioctx.close()
        self.cluster.shutdown()
