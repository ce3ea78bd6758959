"""Packs in a Ceph RADOS pool (dedup/radospacks.py) against a real single-node
Ceph (tests/services): objects round-trip, GC deletes and merges segments,
check verifies them, a killed batch's stray segment is removed on open, and
a prefix belongs to one data directory.

Ceph's ``rados`` module is built for the system Python; where this Python
cannot import it, the module found by the system interpreter is added to the
path (Debian: python3-rados); without either the tests are skipped."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from storetest import OWNER, SMALL, assert_same, content, put, read

from dedup import Store, errors
from dedup.types import KiB, MiB
from tests.services.fixtures import ceph  # noqa: F401


def _find_rados() -> str:
    """Import Ceph's module: "" when it imports here; else why not, and
    whether the package itself is missing (then CI fails) or only built for
    another Python than this one (then the tests skip)."""
    try:
        importlib.import_module("rados")
        return ""
    except ImportError:
        pass
    try:
        found = subprocess.run(["/usr/bin/python3", "-c", "import os, rados; print(os.path.dirname(rados.__file__))"],
                               capture_output=True, text=True, timeout=30)
    except OSError:
        return "missing: no /usr/bin/python3"
    if found.returncode != 0:
        return "missing: Ceph's python module (python3-rados) cannot be imported"
    sys.path.append(found.stdout.strip())
    try:
        importlib.import_module("rados")
        return ""
    except ImportError as e:
        return f"python3-rados is built for the system's Python, not this one ({sys.version.split()[0]}): {e}"


@pytest.fixture
def pool(ceph: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:  # noqa: F811
    why = _find_rados()  # ceph-common depends on python3-rados: CI has it (scripts/services-deps)
    if why:
        if why.startswith("missing") and os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    ceph.check()
    name = f"packs-{uuid.uuid4().hex[:8]}"
    ceph.ceph("osd", "pool", "create", name)
    monkeypatch.setenv("CEPH_CONF", str(ceph.conf))
    yield name
    ceph.ceph("osd", "pool", "delete", name, name, "--yes-i-really-really-mean-it")


def _config(pool: str, prefix: str = "gw") -> Any:
    return replace(SMALL, packs=f"rados://{pool}/{prefix}", pack_size=1 * MiB)


def test_objects_round_trip_and_gc_gives_segments_back(pool: str, tmp_path: Path, loop: Any) -> None:
    run = loop.run_until_complete
    config = _config(pool)
    store = run(Store.open(tmp_path / "data", config))
    try:
        assert store.packs.describe()["status"] == "ok"
        run(store.create_bucket("bucket-a", OWNER))
        keep, drop = content("keep", 700 * KiB), content("drop", 900 * KiB)
        run(put(store, "bucket-a", "keep", keep))
        run(put(store, "bucket-a", "drop", drop))
        for i in range(10):  # small segments, merged by GC
            run(put(store, "bucket-a", f"small{i}", content(f"small{i}", 2 * KiB)))
        assert_same(run(read(store, "bucket-a", "keep")), keep)
        before = store.packs.usage()
        assert before[0] >= 12 and before[1] >= len(keep) + len(drop)
        run(store.delete_object("bucket-a", "drop"))
        report = run(store.collect_garbage(grace_seconds=0))
        assert report.packs_deleted + report.packs_compacted > 0
        after = store.packs.usage()
        assert after[1] < before[1] - 800 * KiB and after[0] < before[0]
        assert run(store.check()).ok
        assert {op.op for op in store.packs.figures().ops} >= {"write_full", "read", "remove"}
    finally:
        run(store.close())
    store = run(Store.open(tmp_path / "data", config))
    try:
        assert_same(run(read(store, "bucket-a", "keep")), keep)
        assert run(read(store, "bucket-a", "small3")) == content("small3", 2 * KiB)
        with pytest.raises(errors.WrongPackStore):
            run(Store.open(tmp_path / "other", config))
    finally:
        run(store.close())
