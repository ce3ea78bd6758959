"""A data directory opened to read it, not to write it: what ``fragstore
stats``, ``check`` (without ``--repair``) and ``gc --dry-run`` use when no
server holds the directory.

It never writes a byte under the data directory. There is no recovery:
pending manifests, the open pack's uncommitted tail, retired packs, tmp/,
stale uploads and dead manifests wait for a writer (the server on its next
start, ``fragstore gc``, ``fragstore check --repair``), and the figures read
count them as they are. FORMAT is neither created nor upgraded: a directory
without one, or of an older format, is refused (ReadOnlyRefused, NotADataDir)
with what to do. LMDB is opened read-only and without its lock file; a shared
lock on ``<data>/LOCK`` keeps every writer out while it is open (readers share
it).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from pathlib import Path

import lmdb

from dedup import errors, gc
from dedup.check import run_check
from dedup.format import FORMAT_VERSION, FormatError, read_format
from dedup.fsutil import lock_data_dir
from dedup.index import Index
from dedup.keyring import Keyring
from dedup.packsopen import open_packs
from dedup.stats import collect_stats
from dedup.types import BucketInfo, CheckReport, GcReport, StoreConfig, StoreStats


class ReadOnlyStore:
    """One data directory, read as it is. Open with ``await ReadOnlyStore.open(path)``."""

    def __init__(self, path: Path, config: StoreConfig, index: Index, lock_fd: int) -> None:
        self.path = path
        self.config = config
        self.index = index
        self.packs_dir = path / "packs"
        self.packs = open_packs(path, config, writer=False)
        self._lock_fd = lock_fd

    @classmethod
    async def open(cls, path: Path | str, config: StoreConfig | None = None) -> ReadOnlyStore:
        root = Path(path)
        if not (root / "FORMAT").is_file():
            raise errors.NotADataDir(f"{root} holds no fragstore data (no FORMAT file)")
        try:
            lock_fd = lock_data_dir(root, shared=True)
        except FileNotFoundError:
            raise errors.NotADataDir(f"{root} has no LOCK file: not a data directory fragstore made") from None
        try:
            return await asyncio.to_thread(cls._open, root, config or StoreConfig(), lock_fd)
        except BaseException:
            os.close(lock_fd)
            raise

    @classmethod
    def _open(cls, root: Path, config: StoreConfig, lock_fd: int) -> ReadOnlyStore:
        try:
            stored = read_format(root)
        except (FormatError, ValueError, KeyError) as exc:
            raise errors.ReadOnlyRefused(f"{root}: {exc}") from None
        found = stored[1] if stored else 0
        if found != FORMAT_VERSION:  # 5 added tables, which a read-only open cannot create
            raise errors.ReadOnlyRefused(
                f"{root} holds data format {found}; this fragstore reads format {FORMAT_VERSION} and upgrades "
                "older ones when it opens them to write: start the server on it once (fragstore serve), "
                "then run this again"
            )
        try:
            index = Index(root / "index", config.map_size, readonly=True)
        except lmdb.Error as exc:
            raise errors.ReadOnlyRefused(f"{root}: cannot read the index read-only: {exc}") from None
        return cls(root, config, index, lock_fd)

    async def list_buckets(self) -> list[BucketInfo]:
        with self.index.read() as txn:
            return [BucketInfo(k.decode(), d["owner"], d["created"])
                    for k, d in ((k, json.loads(v)) for k, v in txn.cursor(db=self.index.db["buckets"]))]

    async def stats(self, exact: bool = False, dead: bool = False) -> StoreStats:
        return await asyncio.to_thread(collect_stats, self.index, self.packs, exact, dead)

    async def check(self, verify: bool = True, master_key: bytes | None = None,
                    kms_keys: Mapping[str, bytes] | None = None) -> CheckReport:
        """The check without repair (repairing writes: open a Store for it).
        ``master_key``, ``kms_keys``: encrypted fragments are verified with
        them (without them, encrypted data cannot be verified: EncryptionKeyError)."""
        keyring = Keyring(self.path, master_key, kms_keys)
        return await asyncio.to_thread(run_check, self.index, self.packs, verify, keyring)

    async def plan_garbage_collection(self, grace_seconds: float | None = None) -> GcReport:
        """What ``Store.collect_garbage`` would free now (its dry run)."""
        grace = self.config.manifest_grace_seconds if grace_seconds is None else grace_seconds
        # which pack is open only matters to a GC that runs: it seals that pack before compacting it.
        # Whether holes can be punched is judged from the filesystem type: a probe would write.
        return await asyncio.to_thread(gc.dry_run_report, self.index, self.packs, -1, grace,
                                       self.config.compact_threshold, self.packs.punches,
                                       gc.merge_below(self.packs, self.config.pack_size))

    async def close(self) -> None:
        self.packs.close()
        self.index.close()
        os.close(self._lock_fd)
