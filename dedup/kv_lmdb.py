"""The embedded index store: one LMDB environment, a named sub-database per table.

LMDB's own transactions and cursors are the seam's (dedup/kv.py): they are
returned as they are (``cast``), so the embedded default pays nothing for the
seam. Transactions are opened with ``buffers=False``: values are ``bytes``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import lmdb

from dedup.kv import Table, Txn


class LmdbKV:
    shared = False  # one process: LMDB's lock file keeps others out (dedup/fsutil.py's lock too)

    def __init__(self, path: Path, map_size: int, tables: tuple[str, ...], readonly: bool = False) -> None:
        """``readonly``: no write transaction, and LMDB's own lock file is not
        used (not even written): the caller keeps writers out (dedup/readonly.py)."""
        if not readonly:
            path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.env = lmdb.open(
            str(path), map_size=map_size, max_dbs=len(tables) + 2, max_readers=1024,
            readahead=False, sync=True, metasync=True, readonly=readonly, lock=not readonly,
        )
        self.db: Mapping[str, Table] = {name: self.env.open_db(name.encode(), create=not readonly) for name in tables}

    def read(self) -> Txn:
        return cast(Txn, self.env.begin(buffers=False))

    def write(self, parent: Txn | None = None) -> Txn:
        return cast(Txn, self.env.begin(write=True, parent=cast(Any, parent)))

    def close(self) -> None:
        self.env.close()

    def size_bytes(self) -> int:
        info = self.env.info()
        stat = self.env.stat()
        return int((info["last_pgno"] + 1) * stat["psize"])

    def full(self, exc: BaseException) -> bool:
        return isinstance(exc, lmdb.MapFullError) or (isinstance(exc, lmdb.Error) and "No space left" in str(exc))

    def describe(self) -> str:
        return "lmdb"

    def get_many(self, txn: Txn, keys: Sequence[bytes], db: Table) -> dict[bytes, bytes]:
        get = txn.get
        return {k: v for k in keys if (v := get(k, db=db)) is not None}

    def put_many(self, txn: Txn, items: Mapping[bytes, bytes], db: Table) -> None:
        put = txn.put
        for k, v in items.items():
            put(k, v, db=db)

    def ping(self) -> None:
        self.env.stat()

    def counters(self) -> Mapping[str, float]:
        return {}

    def join(self) -> int:
        return 0

    def alive(self, gateway: int) -> bool:
        return True

    def lease(self, name: str) -> bool:
        return True
