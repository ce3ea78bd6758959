"""The profile summaries of ``benchmarks/profile_server.py`` (parsing only; the profilers are not run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.profile_server import py_spy_tables

RAW = """\
thread (101): MainThread;run (asyncio/base_events.py:640);handle (/x/server/http/body.py:10);0x7f00 (libc.so.6) 3
thread (102): ThreadPoolExecutor-0_0;chunk (/x/dedup/ingest.py:55);MD5_Update (libcrypto.so.3);0x7f4334 (libcrypto.so.3) 6
thread (102): ThreadPoolExecutor-0_0;chunk (/x/dedup/ingest.py:55);blake3_hash_many (blake3.so) 1
thread (103): fragstore-writer;_run (/x/dedup/writer.py:9);PyThread_acquire_lock_timed (libpython3.11.so) 10
"""


def test_py_spy_shares_by_thread_leaf_and_function(tmp_path: Path) -> None:
    raw = tmp_path / "p.txt"
    raw.write_text(RAW)
    tables = py_spy_tables(raw)
    threads = dict((name, share) for share, name in tables["threads"])
    assert threads["ThreadPoolExecutor-0_*"] == pytest.approx(70.0)
    leaves = dict((name, share) for share, name in tables["leaves"])
    assert leaves["MD5_Update (libcrypto.so.3)"] == pytest.approx(60.0)  # a bare address names its caller
    assert leaves["handle (server/http/body.py:10)"] == pytest.approx(30.0)
    inclusive = dict((name, share) for share, name in tables["inclusive"])
    assert inclusive["chunk (dedup/ingest.py:55)"] == pytest.approx(70.0)
    assert "run (asyncio/base_events.py:640)" not in inclusive  # fragstore and its web stack only
    assert tables["waiting"] == [(50.0, "PyThread_acquire_lock_timed")]  # shares above are of the other 10
