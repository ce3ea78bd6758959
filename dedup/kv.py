"""The index seam: the transactional, ordered key-value store the engine keeps its index in.

The engine's modules use the subset of LMDB's API written here as
``Protocol``s, so a second implementation slots in behind the same calls:

- dedup/kv_lmdb.py    LMDB, one environment under ``<data>/index`` (the
                      embedded default; its objects are returned as they are,
                      no wrapper on the hot path).
- dedup/kv_postgres.py PostgreSQL (``--index postgresql://...``): one table a
                      named sub-database, many processes on one database.

Semantics every implementation keeps (the engine relies on them):

- Keys and values are ``bytes``; keys compare as ``memcmp`` (shorter first on a
  tie), so a cursor walk is byte order, which for the engine's keys is S3 list
  order and numeric order of big-endian integers.
- A read transaction sees one snapshot for its whole life, whatever commits
  meanwhile.
- Write transactions are serialized (one writer at a time, across every
  process that shares the store); a write transaction sees its own writes.
  ``write(parent=txn)`` opens a nested transaction whose ``abort`` undoes only
  its own writes (the writer's group commit runs each job in one).
- ``with`` on a transaction commits it when the block ends normally and aborts
  it when the block raises.
- Cursors: ``set_range(k)`` moves to the first key >= ``k``, ``set_key(k)`` to
  ``k`` exactly, ``first``/``last``/``next``/``prev`` as named; each returns
  whether the cursor is now on a row (an unpositioned cursor's ``next`` is
  ``first`` and its ``prev`` is ``last``). ``key()``/``value()`` are ``b""``
  when it is on none. ``delete()`` removes the current row and moves to the
  next. Iterating a cursor yields (key, value) from the current row on (from
  the first if it is on none).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol


class Table(Protocol):
    """An opaque handle of one named table (an LMDB sub-database, a PostgreSQL table)."""


class Cursor(Protocol):
    def first(self) -> bool: ...
    def last(self) -> bool: ...
    def set_range(self, key: bytes) -> bool: ...
    def set_key(self, key: bytes) -> bool: ...
    def next(self) -> bool: ...
    def prev(self) -> bool: ...
    def key(self) -> bytes: ...
    def value(self) -> bytes: ...
    def delete(self) -> bool: ...
    def __iter__(self) -> Iterator[tuple[bytes, bytes]]: ...


class Txn(Protocol):
    def get(self, key: bytes, default: bytes | None = None, *, db: Table) -> bytes | None: ...
    def put(self, key: bytes, value: bytes, *, db: Table) -> bool: ...
    def delete(self, key: bytes, *, db: Table) -> bool: ...
    def cursor(self, *, db: Table) -> Cursor: ...
    def stat(self, db: Table) -> Mapping[str, int]: ...
    def drop(self, db: Table, delete: bool = True) -> None: ...
    def commit(self) -> None: ...
    def abort(self) -> None: ...
    def __enter__(self) -> Txn: ...
    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class KV(Protocol):
    """One store of named tables: what dedup/index.py opens.

    ``shared``: many processes may open it at once (PostgreSQL). Each joins as
    a *gateway* with an id that stays taken while it lives; ``alive`` tells
    whether a gateway still does (its pending manifests and its open pack are
    its own until it dies); a *lease* (GC, compaction and lifecycle run under
    one) is held by one live process at a time and passes to another when its
    holder dies. Where only one process can open the store (LMDB) the gateway
    id is 0, every gateway is alive and every lease is this process's."""

    db: Mapping[str, Table]
    shared: bool

    def read(self) -> Txn: ...
    def write(self, parent: Txn | None = None) -> Txn: ...
    def close(self) -> None: ...
    def size_bytes(self) -> int:
        """Bytes the store occupies (its file, or its tables and indexes)."""
        ...

    def full(self, exc: BaseException) -> bool:
        """Whether ``exc`` says the store ran out of space (StorageFull to the client)."""
        ...

    def describe(self) -> str:
        """The kind of store and where it is, without secrets (health, logs)."""
        ...

    def get_many(self, txn: Txn, keys: Sequence[bytes], db: Table) -> dict[bytes, bytes]:
        """The values of those of ``keys`` that exist in ``txn``: one round trip
        where the store is a server, a ``get`` each in LMDB."""
        ...

    def put_many(self, txn: Txn, items: Mapping[bytes, bytes], db: Table) -> None:
        """``put`` each (key, value) of ``items``, in one statement where the store is a server."""
        ...

    def ping(self) -> None:
        """Raise if the store cannot be reached now (health)."""
        ...

    def counters(self) -> Mapping[str, float]:
        """Running totals for the metrics: transactions by kind, errors, seconds
        write transactions waited for and held the writers' lock ({} where there is
        nothing to tell: LMDB's are in-process and not counted)."""
        ...

    def join(self) -> int:
        """Register this process; its gateway id (0 where only one process opens the store)."""
        ...

    def alive(self, gateway: int) -> bool: ...

    def lease(self, name: str) -> bool:
        """Whether this process holds the lease ``name`` now (taking it if it is free)."""
        ...


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def open_kv(url: str, path: Path, map_size: int, tables: tuple[str, ...], readonly: bool = False) -> KV:
    """The store ``url`` names: "" is LMDB at ``path``; ``postgresql://...`` a
    PostgreSQL database (its schema created or upgraded first)."""
    if not url:
        from dedup.kv_lmdb import LmdbKV

        return LmdbKV(path, map_size, tables, readonly)
    if is_postgres(url):
        from dedup.kv_postgres import PostgresKV

        return PostgresKV(url, tables)
    raise ValueError(f"unknown index {url.split(':', 1)[0]!r}: give postgresql://... or nothing (LMDB in the data directory)")
