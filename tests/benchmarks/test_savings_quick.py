"""``python -m benchmarks.savings --quick`` end to end: its own server, all three
outputs, and numbers that add up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

pytestmark = pytest.mark.gan

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ("1-one-run", "2-sweep", "3-phase-checkpoints", "4-fine-tune", "5-re-upload")


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("savings")
    done = subprocess.run([sys.executable, "-m", "benchmarks.savings", "--out", str(out), "--quick"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return out, json.loads((out / "savings.json").read_text())


def rows(doc: dict[str, Any], scenario: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    return [r for r in doc["rows"]
            if (scenario is None or r["scenario"] == scenario) and (kind is None or r["kind"] == kind)]


def one(doc: dict[str, Any], scenario: str, kind: str) -> dict[str, Any]:
    (row,) = rows(doc, scenario, kind)
    return row


def test_writes_all_three_outputs(quick: tuple[Path, dict[str, Any]]) -> None:
    out, _ = quick
    assert (out / "savings.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    for needle in (*SCENARIOS, "| scenario | kind |", "fragstore", "whole-file", "How each number was measured"):
        assert needle in report


def test_every_scenario_and_kind_is_measured(quick: tuple[Path, dict[str, Any]]) -> None:
    _, doc = quick
    for scen in SCENARIOS:
        assert one(doc, scen, "all")["logical"] > 0
    for kind in ("dataset", "checkpoints", "samples"):
        assert one(doc, "1-one-run", kind)["files"] > 0
    assert not rows(doc, "3-phase-checkpoints", "dataset")  # reads scenario 1's dataset


def test_physical_bytes_stay_within_written_plus_overhead(quick: tuple[Path, dict[str, Any]]) -> None:
    _, doc = quick
    for row in doc["rows"]:
        frag = row["fragstore"]
        assert frag["checks"]["bound_ok"], row
        assert frag["stats"]["unique_bytes"] <= row["logical"], row
        assert frag["fs"]["fs_packs"] <= row["logical"] + 48 * frag["stats"]["fragments"], row


def test_filesystem_and_server_stats_agree(quick: tuple[Path, dict[str, Any]]) -> None:
    _, doc = quick
    for row in doc["rows"]:
        checks = row["fragstore"]["checks"]
        assert checks["pack_diff"] == 0, row
        assert abs(checks["index_diff"]) <= 64 * 1024, row


def test_kinds_add_up_to_scenario_totals(quick: tuple[Path, dict[str, Any]]) -> None:
    _, doc = quick
    for scen in SCENARIOS:
        kinds = [r for r in rows(doc, scen) if r["kind"] != "all"]
        total = one(doc, scen, "all")
        assert sum(r["logical"] for r in kinds) == total["logical"]
        assert sum(r["files"] for r in kinds) == total["files"]
        assert sum(r["fragstore"]["fs"]["fs_packs"] for r in kinds) == total["fragstore"]["fs"]["fs_packs"]
        for name, value in total["baselines"].items():
            assert sum(r["baselines"][name]["bytes"] for r in kinds) == value["bytes"]


def test_ratios_match_bytes(quick: tuple[Path, dict[str, Any]]) -> None:
    _, doc = quick
    for row in doc["rows"]:
        disk = row["fragstore"]["fs"]["fs_total"]
        want = round(row["logical"] / disk, 3) if disk > 0 else None
        assert row["fragstore"]["ratio"] == want
        for value in row["baselines"].values():
            want = round(row["logical"] / value["bytes"], 3) if value["bytes"] > 0 else None
            assert value["ratio"] == want


def test_dedup_shows_where_it_should(quick: tuple[Path, dict[str, Any]]) -> None:
    _, doc = quick
    copy = one(doc, "5-re-upload", "all")["fragstore"]["stats"]
    assert copy["unique_bytes"] == 0 and copy["pack_bytes"] == 0
    assert one(doc, "2-sweep", "dataset")["fragstore"]["stats"]["unique_bytes"] == 0
    for scen in ("3-phase-checkpoints", "4-fine-tune"):
        row = one(doc, scen, "checkpoints")
        assert row["fragstore"]["stats"]["unique_bytes"] < row["baselines"]["whole-file"]["bytes"]
