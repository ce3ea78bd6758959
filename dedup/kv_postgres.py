"""The index in PostgreSQL (``--index postgresql://...``): the seam of dedup/kv.py
over one table per named table, shared by any number of processes.

Schema (in the connection's ``current_schema()``; give another with
``?options=-csearch_path%3DNAME`` in the URL)::

    fragstore_schema  id(=1) -> version        this module's SCHEMA_VERSION, as FORMAT is the files'
    fs_<table>        k bytea PRIMARY KEY -> v bytea     one per table of dedup/index.py

``bytea`` compares as ``memcmp`` (shorter first on a tie), exactly LMDB's
default order, so a cursor walk is S3 list order here too.

Transactions:

- write: ``BEGIN`` (READ COMMITTED) and at once a transaction-scoped advisory
  lock (``pg_advisory_xact_lock``, keyed by the schema): write transactions
  are serialized across every process on the database, LMDB's one writer. As
  every writer holds the lock from its first statement, each sees all that
  committed before it. The writer's group commit (dedup/writer.py) makes one
  such transaction of many requests; a nested transaction is a SAVEPOINT.
- read: ``REPEATABLE READ READ ONLY``, one snapshot for the whole transaction
  (its ``BEGIN`` goes out with its first query, in one round trip).
- cursors fetch rows in batches (growing from 4 to 512) and refetch from
  their key after any write of their transaction, so they see its writes
  as LMDB's do.

Gateways and leases (dedup/kv.py): a process joins with an id from the
sequence ``fragstore_gateways`` and holds a session advisory lock on it, on a
connection of its own, for as long as it lives; when it dies, PostgreSQL
ends its session and so frees the lock: another process asks
``pg_try_advisory_lock`` whether it is gone. A lease is the same kind of lock
on the lease's name, taken by the first process that asks and kept until it
exits or dies. No clock, no renewal, no row to clean up: the database's own
session is the lease (docs/DESIGN.md says why not a row with an expiry).

Connections come from a psycopg_pool pool (autocommit; the transaction
statements are sent explicitly), one per open transaction. Each ``get`` or
cursor step past its batch is one round trip: see docs/DESIGN.md for what
that costs.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from dedup.format import FormatError
from dedup.kv import Table, Txn

log = logging.getLogger("fragstore.index")

SCHEMA_VERSION = 1
PREFIX = "fs_"
LOCK_CLASS = 0x66726167  # "frag": the advisory lock space of fragstore's writer
FIRST_BATCH, MAX_BATCH = 4, 512
POOL_MAX = 16
LEASE_BASE = 0x7FFF0000  # session-lock ids from here on are leases; below, gateway ids


@dataclass(frozen=True)
class PgTable:
    """One table and its statements (names are fragstore's own, never input)."""

    name: str

    @property
    def sql(self) -> str:
        return PREFIX + self.name

    def create(self) -> str:
        return f"CREATE TABLE IF NOT EXISTS {self.sql} (k bytea PRIMARY KEY, v bytea NOT NULL)"


class _Queries:
    def __init__(self, t: str) -> None:
        self.get = f"SELECT v FROM {t} WHERE k = %b"
        self.put = f"INSERT INTO {t} (k, v) VALUES (%b, %b) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v"
        self.delete = f"DELETE FROM {t} WHERE k = %b"
        self.ge = f"SELECT k, v FROM {t} WHERE k >= %b ORDER BY k LIMIT %s"
        self.gt = f"SELECT k, v FROM {t} WHERE k > %b ORDER BY k LIMIT %s"
        self.lt = f"SELECT k, v FROM {t} WHERE k < %b ORDER BY k DESC LIMIT 1"
        self.first = f"SELECT k, v FROM {t} ORDER BY k LIMIT %s"
        self.last = f"SELECT k, v FROM {t} ORDER BY k DESC LIMIT 1"
        self.get_many = f"SELECT k, v FROM {t} WHERE k = ANY(%b)"
        self.put_many = (f"INSERT INTO {t} (k, v) SELECT * FROM unnest(%b::bytea[], %b::bytea[])"
                         " ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v")
        self.count = f"SELECT count(*) FROM {t}"
        self.clear = f"DELETE FROM {t}"


_QUERIES: dict[str, _Queries] = {}


def _q(db: Table) -> _Queries:
    assert isinstance(db, PgTable), db
    q = _QUERIES.get(db.sql)
    if q is None:
        q = _QUERIES[db.sql] = _Queries(db.sql)
    return q


class PgCursor:
    """A cursor over one table of a transaction (dedup/kv.py's semantics)."""

    def __init__(self, txn: PgTxn, db: Table) -> None:
        self._txn, self._db, self._q = txn, db, _q(db)
        self._key: bytes | None = None
        self._value = b""
        self._rows_: list[tuple[bytes, bytes]] = []  # the batch fetched; the current row is at _at
        self._at = 0
        self._gen = -1
        self._batch = FIRST_BATCH

    def _rows(self, query: str, *params: Any) -> list[tuple[bytes, bytes]]:
        return self._txn._fetch(query, params)

    def _land(self, rows: list[tuple[bytes, bytes]]) -> bool:
        self._gen = self._txn._root.gen
        self._rows_, self._at = rows, 0
        if not rows:
            self._key, self._value = None, b""
            return False
        self._key, self._value = rows[0]
        return True

    def _more(self) -> int:
        n, self._batch = self._batch, min(self._batch * 2, MAX_BATCH)
        return n

    def first(self) -> bool:
        self._batch = FIRST_BATCH
        return self._land(self._rows(self._q.first, self._more()))

    def last(self) -> bool:
        return self._land(self._rows(self._q.last))

    def set_range(self, key: bytes) -> bool:
        self._batch = FIRST_BATCH
        return self._land(self._rows(self._q.ge, key, self._more()))

    def set_key(self, key: bytes) -> bool:
        value = self._txn.get(key, db=self._db)
        return self._land([] if value is None else [(bytes(key), value)])

    def next(self) -> bool:
        if self._key is None:
            return self.first()
        if self._at + 1 < len(self._rows_) and self._gen == self._txn._root.gen:
            self._at += 1
            self._key, self._value = self._rows_[self._at]
            return True
        return self._land(self._rows(self._q.gt, self._key, self._more()))

    def prev(self) -> bool:
        if self._key is None:
            return self.last()
        return self._land(self._rows(self._q.lt, self._key))

    def key(self) -> bytes:
        return self._key if self._key is not None else b""

    def value(self) -> bytes:
        return self._value

    def delete(self) -> bool:
        if self._key is None:
            return False
        gone = self._key
        self._txn._execute(self._q.delete, (gone,))
        self._txn._root.gen += 1
        self._batch = FIRST_BATCH
        self._land(self._rows(self._q.gt, gone, self._more()))
        return True

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        if self._key is None and not self.first():
            return
        while True:
            assert self._key is not None
            yield self._key, self._value
            if not self.next():
                return


class PgTxn:
    """A transaction on one pooled connection; a nested one is a SAVEPOINT on its parent's."""

    def __init__(self, kv: PostgresKV, write: bool, parent: PgTxn | None = None) -> None:
        self._kv = kv
        self._root: PgTxn = parent._root if parent is not None else self
        self._done = False
        self.gen = 0
        self._savepoints = 0
        self._begin: str | None = None  # a read transaction's BEGIN, until its first query
        self._conn: psycopg.Connection[Any]
        if parent is not None:
            self._conn = parent._conn
            parent._root._savepoints += 1
            self._savepoint: str | None = f"s{parent._root._savepoints}"
            self._conn.execute(f"SAVEPOINT {self._savepoint}")
            return
        self._savepoint = None
        self._write = write
        self._conn = kv.pool.getconn()
        kv.count("write_transactions" if write else "read_transactions")
        try:
            if write:
                t0 = time.perf_counter()
                self._conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({LOCK_CLASS}, {kv.lock_key})")
                self._locked = time.perf_counter()
                kv.count("write_wait_seconds", self._locked - t0)
            else:  # sent in one round trip with the first query (psycopg's pipeline mode)
                self._begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        except BaseException as exc:
            kv.count_error(exc)
            kv.pool.putconn(self._conn)
            raise

    def _execute(self, query: str, params: tuple[Any, ...]) -> psycopg.Cursor[Any]:
        try:
            if self._begin is None:
                return self._conn.execute(query, params, binary=True)
            begin, self._begin = self._begin, None
            with self._conn.pipeline():
                self._conn.execute(begin)
                cursor = self._conn.execute(query, params, binary=True)
            return cursor
        except BaseException as exc:
            self._kv.count_error(exc)
            raise

    def _fetch(self, query: str, params: tuple[Any, ...]) -> list[tuple[bytes, bytes]]:
        return self._execute(query, params).fetchall()

    def get(self, key: bytes, default: bytes | None = None, *, db: Table) -> bytes | None:
        row = self._execute(_q(db).get, (key,)).fetchone()
        return row[0] if row is not None else default  # type: ignore[no-any-return]

    def put(self, key: bytes, value: bytes, *, db: Table) -> bool:
        self._execute(_q(db).put, (key, value))
        self._root.gen += 1
        return True

    def delete(self, key: bytes, *, db: Table) -> bool:
        gone = self._execute(_q(db).delete, (key,)).rowcount > 0
        self._root.gen += 1
        return gone

    def cursor(self, *, db: Table) -> PgCursor:
        return PgCursor(self, db)

    def stat(self, db: Table) -> Mapping[str, int]:
        row = self._execute(_q(db).count, ()).fetchone()
        return {"entries": int(row[0]) if row else 0}

    def drop(self, db: Table, delete: bool = True) -> None:
        """Empty the table (its definition stays: the schema is this module's)."""
        self._execute(_q(db).clear, ())
        self._root.gen += 1

    def commit(self) -> None:
        self._finish("RELEASE SAVEPOINT" if self._savepoint else "COMMIT")

    def abort(self) -> None:
        self._finish("ROLLBACK TO SAVEPOINT" if self._savepoint else "ROLLBACK")

    def _finish(self, statement: str) -> None:
        if self._done:
            return
        self._done = True
        if self._savepoint is not None:
            self._conn.execute(f"{statement} {self._savepoint}")
            self._root.gen += 1
            return
        try:
            if self._conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:  # (a read that never queried)
                self._conn.execute(statement)
        except BaseException as exc:
            self._kv.count_error(exc)
            raise
        finally:
            if self._write:
                self._kv.count("write_held_seconds", time.perf_counter() - self._locked)
            self._kv.pool.putconn(self._conn)

    def __enter__(self) -> Txn:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        else:
            try:
                self.abort()
            except psycopg.Error:  # the connection itself failed: the pool drops it
                pass


class PostgresKV:
    """The tables in one PostgreSQL schema, through a pool of connections."""

    shared = True

    def __init__(self, url: str, tables: tuple[str, ...]) -> None:
        self.url = url
        self.gateway = 0
        self._session: psycopg.Connection[Any] | None = None  # holds this gateway's and its leases' locks
        self._session_lock = threading.Lock()
        self._leases: set[str] = set()
        self._counts: dict[str, float] = dict.fromkeys(
            ("read_transactions", "write_transactions", "errors", "write_wait_seconds", "write_held_seconds"), 0.0)
        self.db: Mapping[str, Table] = {name: PgTable(name) for name in tables}
        self.pool = ConnectionPool(url, min_size=1, max_size=POOL_MAX, kwargs={"autocommit": True},
                                   open=False, name="fragstore-index")
        self.pool.open(wait=True, timeout=30)
        with self.pool.connection() as conn:
            row = conn.execute("SELECT hashtext(current_schema())").fetchone()
            assert row is not None
            self.lock_key = int(row[0])
        try:
            self.found = self.migrate()  # the schema version found before
        except BaseException:
            self.pool.close()
            raise

    def migrate(self) -> int:
        """Create the schema, or bring it to SCHEMA_VERSION; the version found before."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(f"SELECT pg_advisory_xact_lock({LOCK_CLASS}, {self.lock_key})")
            conn.execute("CREATE TABLE IF NOT EXISTS fragstore_schema"
                         " (id int PRIMARY KEY CHECK (id = 1), version int NOT NULL)")
            conn.execute("CREATE SEQUENCE IF NOT EXISTS fragstore_gateways")
            row = conn.execute("SELECT version FROM fragstore_schema WHERE id = 1").fetchone()
            found = int(row[0]) if row else 0
            if found > SCHEMA_VERSION:
                raise FormatError(f"the index's schema is version {found}; this fragstore knows up to "
                                  f"{SCHEMA_VERSION}: upgrade fragstore")
            for table in self.db.values():
                assert isinstance(table, PgTable)
                conn.execute(table.create())
            if found < SCHEMA_VERSION:
                conn.execute("INSERT INTO fragstore_schema (id, version) VALUES (1, %s)"
                             " ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version", (SCHEMA_VERSION,))
                log.info("index schema %d -> %d in %s", found, SCHEMA_VERSION, self.describe())
        return found

    def read(self) -> Txn:
        return PgTxn(self, write=False)

    def write(self, parent: Txn | None = None) -> Txn:
        assert parent is None or isinstance(parent, PgTxn)
        return PgTxn(self, write=True, parent=parent)

    def close(self) -> None:
        with self._session_lock:
            if self._session is not None:
                self._session.close()  # frees this gateway's id and its leases
                self._session = None
        self.pool.close()

    def count(self, name: str, amount: float = 1.0) -> None:
        self._counts[name] += amount  # (a lost update under a thread switch costs one count)

    def count_error(self, exc: BaseException) -> None:
        if isinstance(exc, psycopg.Error):
            self._counts["errors"] += 1

    def counters(self) -> Mapping[str, float]:
        return dict(self._counts)

    def get_many(self, txn: Txn, keys: Sequence[bytes], db: Table) -> dict[bytes, bytes]:
        assert isinstance(txn, PgTxn)
        if len(keys) <= 1:
            value = txn.get(keys[0], db=db) if keys else None
            return {keys[0]: value} if value is not None else {}
        return dict(txn._fetch(_q(db).get_many, ([bytes(k) for k in keys],)))

    def put_many(self, txn: Txn, items: Mapping[bytes, bytes], db: Table) -> None:
        assert isinstance(txn, PgTxn)
        if len(items) <= 1:
            for k, v in items.items():
                txn.put(k, v, db=db)
            return
        txn._execute(_q(db).put_many, ([bytes(k) for k in items], [bytes(v) for v in items.values()]))
        txn._root.gen += 1

    def ping(self) -> None:
        with self.pool.connection(timeout=5) as conn:
            conn.execute("SELECT 1")

    def _key(self, n: int) -> int:
        """The session advisory lock of gateway (or lease) ``n`` in this schema."""
        return (self.lock_key & 0x7FFFFFFF) << 32 | n

    def join(self) -> int:
        with self._session_lock:
            if self._session is None:
                self._session = psycopg.connect(self.url, autocommit=True)
                row = self._session.execute("SELECT nextval('fragstore_gateways')").fetchone()
                assert row is not None
                self.gateway = int(row[0])
                self._session.execute("SELECT pg_advisory_lock(%s)", (self._key(self.gateway),))
                log.info("joined %s as gateway %d", self.describe(), self.gateway)
        return self.gateway

    def alive(self, gateway: int) -> bool:
        if gateway == self.gateway:
            return True
        key = self._key(gateway)
        with self.pool.connection() as conn:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if row is not None and row[0]:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                return False
        return True

    def lease(self, name: str) -> bool:
        key = self._key(LEASE_BASE + zlib.crc32(name.encode()) % 0x10000)
        with self._session_lock:
            if self._session is None or self._session.closed:
                self._leases.clear()
                return False
            if name in self._leases:
                return True
            row = self._session.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if row is not None and row[0]:
                self._leases.add(name)
                log.info("gateway %d holds the %s lease", self.gateway, name)
                return True
        return False

    def size_bytes(self) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE %s",
                (PREFIX.replace("_", r"\_") + "%",)).fetchone()
        return int(row[0]) if row else 0

    def full(self, exc: BaseException) -> bool:
        return isinstance(exc, pgerrors.DiskFull)

    def describe(self) -> str:
        return describe_url(self.url)


def describe_url(url: str) -> str:
    """``postgresql://HOST:PORT/DB`` without user or password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql"
    return f"postgresql://{info.get('host', '')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
