"""Crash safety of the whole server: concurrent clients, SIGKILL at random
moments, restart, and every acknowledged write and delete must hold (the short
version of benchmarks/soak.py; see tests/robustness/crashloop.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dedup.types import StoreConfig
from tests.robustness.crashloop import CrashLoop, CrashPlan
from tests.services.fixtures import pg_dsn, postgres  # noqa: F401


@pytest.fixture(params=["embedded", "cluster"])
def index(request: pytest.FixtureRequest) -> str:
    """"" (LMDB in the data directory), or a new PostgreSQL database: the server as a gateway."""
    return "" if request.param == "embedded" else str(request.getfixturevalue("pg_dsn"))


def test_kill_loop_loses_nothing(tmp_path: Path, index: str) -> None:
    plan = CrashPlan(kills=3, clients=4, keys_per_client=8, min_load_s=0.3, max_load_s=1.5, gc_every=2, seed=7)
    figures = CrashLoop(tmp_path, plan, env={"FRAGSTORE_INDEX": index} if index else None,
                        config=StoreConfig(index=index) if index else None).run()
    found = figures.findings
    assert figures.kills == 3
    assert figures.client_crashes == []
    assert found.objects_checked > 0 and figures.acked_writes > 0 and figures.acked_deletes > 0
    assert found.bad == 0, found.problems[:10]
    assert figures.checks == 3 and figures.check_failures == []
    assert figures.outcomes["5xx"] == 0 and figures.outcomes["bad-ack"] == 0, figures.errors[:10]
    assert figures.outcomes["4xx"] == 0, figures.errors[:10]
    # After GC: exactly the fragments the live objects name; nothing once they are gone.
    assert figures.live_bytes > 0
    assert figures.extra_unique_bytes == 0
    assert figures.logical_mismatch == 0
    assert (figures.leftover_fragments, figures.leftover_stored_bytes, figures.leftover_pack_bytes) == (0, 0, 0)
