"""Pieces of the savings benchmark that need no server: the meter's accounting,
the checks, the baselines and the report's formatting."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("torch")

from benchmarks.savings_baselines import TarZstd, WholeFile, ZstdPerFile  # noqa: E402
from benchmarks.savings_meter import Growth, Meter, measure_dir  # noqa: E402
from benchmarks.savings_report import fmt_bytes, fmt_ratio  # noqa: E402
from benchmarks.savings_results import SEALED_RECORD, build_rows, checks  # noqa: E402

pytestmark = pytest.mark.gan


class FakeStats:
    """Counters that grow by what the test says (the server's view)."""

    def __init__(self) -> None:
        self.unique = 0

    def __call__(self) -> dict[str, int]:
        return {"unique_bytes": self.unique}


def test_measure_dir_splits_packs_index_other(tmp_path: Path) -> None:
    (tmp_path / "packs").mkdir()
    (tmp_path / "index").mkdir()
    (tmp_path / "packs" / "1.pack").write_bytes(b"x" * 100)
    (tmp_path / "index" / "data.mdb").write_bytes(b"y" * 30)
    (tmp_path / "FORMAT").write_bytes(b"z" * 7)
    got = measure_dir(tmp_path)
    assert (got["fs_packs"], got["fs_index"], got["fs_other"], got["fs_total"]) == (100, 30, 7, 137)


def test_meter_attributes_growth_to_each_kind(tmp_path: Path) -> None:
    data, stats = tmp_path / "data", FakeStats()
    data.mkdir()
    meter = Meter(data, tmp_path / "files", stats)
    pack = data / "p"
    with meter.scenario_of("s1"):
        for kind, size in (("dataset", 10), ("checkpoints", 1000), ("dataset", 5)):
            meter.before(kind)
            pack.write_bytes(pack.read_bytes() + b"." * size if pack.exists() else b"." * size)
            stats.unique += size
            meter.after(kind, "b", f"k/{kind}", b"." * size)
    assert meter.growth[("s1", "dataset")].fs["fs_total"] == 15
    assert meter.growth[("s1", "dataset")].stats["unique_bytes"] == 15
    assert meter.growth[("s1", "checkpoints")].fs["fs_total"] == 1000
    assert meter.totals["s1"].fs["fs_total"] == 1015 and meter.totals["s1"].logical == 1015
    tees = sorted(p.name for p in (tmp_path / "files" / "s1" / "dataset" / "b" / "k").iterdir())
    assert tees == ["dataset", "dataset~1"]  # an overwrite keeps both versions


def test_bound_check_fails_when_disk_exceeds_written_plus_overhead() -> None:
    ok = Growth(logical=1000, fs={"fs_total": 1100, "fs_packs": 1048, "fs_index": 52},
                stats={"fragments": 1, "packs": 0})
    assert checks(ok)["bound_ok"]
    bad = Growth(logical=1000, fs={"fs_total": 1000 + 48 + 2 * 4096 + 1, "fs_packs": 1000 + 48 + 2 * 4096 + 1},
                 stats={"fragments": 1, "packs": 1})
    assert not checks(bad)["bound_ok"]
    sealed = Growth(logical=1000, fs={"fs_total": 1000 + 80 + 2 * 4096, "fs_packs": 1000 + 80 + 2 * 4096},
                    stats={"fragments": 1, "packs": 1})  # a sealed record's 32 more bytes
    assert not checks(sealed)["bound_ok"] and checks(sealed, SEALED_RECORD)["bound_ok"]


def test_rows_sum_kinds_into_totals() -> None:
    growth = {("s", "dataset"): Growth(10, 2, {"fs_total": 4}), ("s", "samples"): Growth(6, 1, {"fs_total": 6})}
    totals = {"s": Growth(16, 3, {"fs_total": 10})}
    base = {("s", "dataset"): {"whole-file": 5}, ("s", "samples"): {"whole-file": 6}}
    rows = build_rows(growth, totals, base, ("s",))
    total = next(r for r in rows if r.scenario == "s" and r.kind == "all")
    assert total.baselines == {"whole-file": 11}
    every = next(r for r in rows if r.scenario == "all scenarios" and r.kind == "all")
    assert every.growth.logical == 16 and every.to_dict()["fragstore"]["ratio"] == 1.6


def test_whole_file_counts_each_content_once(tmp_path: Path) -> None:
    for step in ("a", "b"):
        (tmp_path / step).mkdir()
        (tmp_path / step / "x").write_bytes(b"same" * 10)
    (tmp_path / "b" / "y").write_bytes(b"new")
    wf = WholeFile()
    assert wf.add("a", tmp_path / "a") == 40
    assert wf.add("b", tmp_path / "b") == 3


@pytest.mark.skipif(shutil.which("zstd") is None, reason="zstd not installed")
def test_zstd_baselines_compress_repetitive_files(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a").write_bytes(b"abc" * 10000)
    (tmp_path / "d" / "b").write_bytes(b"abc" * 10000)
    per_file = ZstdPerFile().add("s", tmp_path / "d")
    archive = TarZstd().add("s", tmp_path / "d")
    assert 0 < per_file < 2000 and 0 < archive < 2000


def test_formatting() -> None:
    assert fmt_bytes(1_500_000) == "1.50 MB" and fmt_bytes(12) == "12 B"
    assert fmt_ratio(10, 4) == "2.50x" and fmt_ratio(10, 0) == "inf" and fmt_ratio(0, 5) == "-"
