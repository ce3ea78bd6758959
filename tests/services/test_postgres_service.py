"""The PostgreSQL fixture starts a real server that psycopg can use (a smoke test)."""

from __future__ import annotations

import pytest

from tests.services.postgres import Postgres

psycopg = pytest.importorskip("psycopg", reason="psycopg not installed: pip install -e '.[cluster]'")


def test_transaction_commits_and_rolls_back(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE fragments (hash bytea PRIMARY KEY, refcount bigint NOT NULL)")
        with conn.transaction():
            conn.execute("INSERT INTO fragments VALUES (%s, 1)", (b"\x01" * 32,))
            conn.execute("UPDATE fragments SET refcount = refcount + 1 WHERE hash = %s", (b"\x01" * 32,))
        with pytest.raises(RuntimeError), conn.transaction():
            conn.execute("INSERT INTO fragments VALUES (%s, 1)", (b"\x02" * 32,))
            raise RuntimeError("roll back")
        rows = conn.execute("SELECT hash, refcount FROM fragments").fetchall()
    assert rows == [(b"\x01" * 32, 2)]


def test_each_test_gets_its_own_database(postgres: Postgres, pg_dsn: str) -> None:
    assert pg_dsn.startswith(f"postgresql://postgres@127.0.0.1:{postgres.port}/t_")
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
    with psycopg.connect(postgres.socket_dsn) as conn:  # the unix socket works too
        assert conn.execute("SELECT current_database()").fetchone() == ("fragstore",)
