"""Smoke test of ``benchmarks/compression_cost.py`` (not timed): its data, and a
small ``--quick`` run that must report every kind and policy with positive
ratios to policy off, verdicts for every target, and fewer pack bytes with
compression than without on float data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.compression_cost import (
    KINDS,
    METRICS,
    POLICIES,
    TARGETS,
    make_body,
    parse_args,
    rotated,
)

ROOT = Path(__file__).resolve().parents[2]
MiB = 1 << 20


def test_bodies_are_new_per_repetition_and_bf16_is_truncated_float32() -> None:
    for kind in KINDS:
        a, b = make_body(kind, MiB + 3, 0), make_body(kind, MiB + 3, 1)
        assert len(a) == len(b) == MiB + 3 and a != b
        assert make_body(kind, MiB + 3, 0) == a  # the same bytes for every policy of a repetition
    weights = np.frombuffer(make_body("float32", MiB, 0), dtype=np.float32)
    assert np.isfinite(weights).all() and 0.001 < float(np.abs(weights).mean()) < 0.2
    halves = np.frombuffer(make_body("bf16", MiB, 0), dtype=np.uint16)
    as_float = (halves.astype(np.uint32) << 16).view(np.float32)
    assert np.isfinite(as_float).all() and 0.001 < float(np.abs(as_float).mean()) < 0.2


def test_policy_order_rotates_per_repetition() -> None:
    assert [rotated(POLICIES, rep) for rep in range(4)] == [
        ["off", "fast", "max"], ["fast", "max", "off"], ["max", "off", "fast"], ["off", "fast", "max"]]


def test_quick_defaults_give_way_to_explicit_options() -> None:
    assert parse_args(["--quick"]).size_mib == 16 and parse_args([]).size_mib == 256
    assert parse_args(["--quick", "--size-mib", "4"]).size_mib == 4 and parse_args([]).reps == 3


def test_quick_run_reports_every_kind_and_policy(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.compression_cost", "--quick", "--size-mib", "8", "--out", str(out),
         "--work", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    doc: dict[str, Any] = json.loads((out / "compression_cost.json").read_text())
    assert (out / "compression_cost.md").read_text() == done.stdout
    assert "| data | policy |" in done.stdout and "| target | policy |" in done.stdout
    assert doc["date"] and "compression_cost" in doc["command"] and doc["machine"]["cores"] >= 1
    assert len(doc["machine"]["loadavg_start"]) == len(doc["machine"]["loadavg_end"]) == 3
    assert doc["settings"]["size_bytes"] == 8 * MiB and doc["settings"]["reps"] == 3
    rows = {(row["kind"], row["policy"]): row for row in doc["rows"]}
    assert list(rows) == [(kind, policy) for kind in KINDS for policy in POLICIES]
    for (_, policy), row in rows.items():
        for metric in METRICS:
            s = row["figures"][metric]
            assert len(s["runs"]) == 3 and s["min"] <= s["median"] <= s["max"]
            assert s["median"] > 0, (policy, metric)
            value = row["ratio_to_off"][metric]
            assert isinstance(value, float) and value > 0, (policy, metric)
            if policy == "off":
                assert value == pytest.approx(1.0)
            paired = row["paired_ratio_to_off"][metric]
            assert 0 < paired["min"] <= paired["max"]
        assert row["stored_ratio"] > 0
    for kind in ("float32", "bf16"):
        assert rows[(kind, "fast")]["figures"]["pack_bytes"]["max"] < rows[(kind, "off")]["figures"]["pack_bytes"]["min"]
    assert rows[("random", "off")]["figures"]["pack_bytes"]["min"] >= 8 * MiB
    verdicts = {(v["id"], v["policy"]): v for v in doc["targets"]}
    assert set(verdicts) == {(t.id, p) for t in TARGETS for p in ("fast", "max")}
    for (_, policy), v in verdicts.items():
        assert v["ratio"] > 0 and isinstance(v["met"], bool) and v["binding"] == (policy == "fast")
        assert v["met"] == (v["ratio"] >= v["target"])
