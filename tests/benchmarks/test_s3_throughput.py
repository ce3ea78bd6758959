"""Smoke test of ``benchmarks/s3_throughput.py`` and its null S3 endpoint (not timed).

The null endpoint must answer everything boto3 sends in the benchmark (PUT,
ranged GET, HEAD, multipart); a tiny one-repetition run must report every
figure for every server, server CPU included, with ratios and verdicts where
there are targets; with ``--peer URL`` (here a second null endpoint) the peer
gets its own columns and issue 17's targets their verdicts; ``--peer rgw``
(slow: it starts Ceph) the same against a real RGW.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.rss import tree_cpu_seconds
from benchmarks.s3_figures import cpu_figures, evaluate
from benchmarks.s3_throughput import (
    BUCKET,
    TRANSFER,
    NewData,
    Server,
    Settings,
    figures,
    parse_args,
)

ROOT = Path(__file__).resolve().parents[2]
MiB = 1 << 20


@pytest.fixture(scope="module")
def null(tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("null")
    server = Server("null", [sys.executable, str(ROOT / "benchmarks" / "null_s3.py")], work / "null.log")
    try:
        yield server
    finally:
        server.stop()


def test_null_endpoint_put_get_range_head(null: Server) -> None:
    s3 = null.client
    s3.put_object(Bucket=BUCKET, Key="dir/a b", Body=b"x" * 3000)
    assert s3.head_object(Bucket=BUCKET, Key="dir/a b")["ContentLength"] == 3000
    assert len(s3.get_object(Bucket=BUCKET, Key="dir/a b")["Body"].read()) == 3000
    part = s3.get_object(Bucket=BUCKET, Key="dir/a b", Range="bytes=1000-1999")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["ContentRange"] == "bytes 1000-1999/3000"
    assert len(part["Body"].read()) == 1000
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=BUCKET, Key="missing")


def test_null_endpoint_generated_bytes_are_consistent_across_ranges(null: Server) -> None:
    s3 = null.client
    size = 2 * MiB + 123
    s3.put_object(Bucket=BUCKET, Key="big", Body=NewData(size))
    whole = s3.get_object(Bucket=BUCKET, Key="big")["Body"].read()
    assert len(whole) == size
    piece = s3.get_object(Bucket=BUCKET, Key="big", Range=f"bytes={MiB - 5}-{2 * MiB + 9}")["Body"].read()
    assert piece == whole[MiB - 5:2 * MiB + 10]


def test_null_endpoint_multipart_upload_and_download(null: Server, tmp_path: Path) -> None:
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(NewData(12 * MiB).read())
    null.client.upload_file(str(source), BUCKET, "mp", Config=TRANSFER)
    null.client.download_file(BUCKET, "mp", str(target), Config=TRANSFER)
    assert target.stat().st_size == 12 * MiB


def test_new_data_never_repeats_a_4k_block() -> None:
    a, b = NewData(3 * MiB), NewData(3 * MiB)
    data = a.read()
    assert len(data) == 3 * MiB and a.read() == b""
    blocks = [data[i:i + 4096] for i in range(0, len(data), 4096)] + [b.read(4096)]
    assert len(set(blocks)) == len(blocks)
    a.seek(MiB + 10)
    assert a.read(100) == data[MiB + 10:MiB + 110]


def test_quick_defaults_give_way_to_explicit_options() -> None:
    args = parse_args(["--quick", "--ops", "7"])
    assert (args.reps, args.size_mib, args.ops) == (1, 16, 7)
    assert parse_args([]).reps == 3


def tiny_run(tmp_path: Path, *extra: str, timeout: float = 300) -> dict[str, Any]:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.s3_throughput", "--quick", "--no-drop-cache", "--size-mib", "8",
         "--ops", "10", "--big-gib", "0.02", "--out", str(out), "--work", str(tmp_path / "work"), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-4000:]
    assert (out / "s3_throughput.md").read_text() == done.stdout
    doc: dict[str, Any] = json.loads((out / "s3_throughput.json").read_text())
    return doc


def check_rows(doc: dict[str, Any], tmp_path: Path, sides: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    cfg = Settings(MiB, 1, MiB, 1, False, tmp_path)
    rows = {row["id"]: row for row in doc["figures"]}
    assert list(rows) == [fig.id for fig in figures(cfg)] + [fig.id for fig in cpu_figures(cfg)]
    for fig_id, row in rows.items():
        if fig_id.removeprefix("cpu_") == "get_cold":
            assert row["fragstore"] is None and "skipped" in row["note"]
            continue
        for side in sides:
            summary = row[side]
            assert summary["min"] <= summary["median"] <= summary["max"] and len(summary["runs"]) == 1
            assert summary["median"] > 0 or (row["kind"] == "cpu" and summary["median"] == 0)
        if row["unit"] != "MB" and row["null"]["median"]:
            assert row["ratio"] == pytest.approx(row["fragstore"]["median"] / row["null"]["median"])
        if row["target"]:
            assert isinstance(row["met"], bool)
    return rows


def test_tiny_run_reports_every_figure(tmp_path: Path) -> None:
    doc = tiny_run(tmp_path)
    assert doc["date"] and "s3_throughput" in doc["command"] and doc["machine"]["cores"] >= 1
    assert doc["peer"] is None and "fragstore server process" in doc["processes"]["fragstore"]
    rows = check_rows(doc, tmp_path, ("fragstore", "null"))
    assert all(row["peer"] is None and row["peer_ratio"] is None for row in rows.values())
    for fig_id in ("cpu_put_new", "big_put_anon", "get_float"):  # goals that need no peer
        assert isinstance(rows[fig_id]["goal_met"], bool), fig_id
    assert doc["client_headers"]["PutObject"]


def test_tiny_run_with_a_peer_url(tmp_path: Path, null: Server) -> None:
    doc = tiny_run(tmp_path, "--peer", null.url, "--peer-access-key", "k", "--peer-secret-key", "s",
                   "--peer-pids", str(null.pid), "--peer-label", "other")
    assert doc["peer"]["label"] == "other" and str(null.pid) in doc["peer"]["processes"]
    rows = check_rows(doc, tmp_path, ("fragstore", "peer", "null"))
    assert rows["put_new"]["peer_ratio"] == pytest.approx(
        rows["put_new"]["fragstore"]["median"] / rows["put_new"]["peer"]["median"])
    assert rows["put_new"]["goal"] == ">= 1.3x other" and isinstance(rows["put_new"]["goal_met"], bool)
    assert "| fragstore / other |" in (tmp_path / "out" / "s3_throughput.md").read_text()


@pytest.mark.slow
def test_tiny_run_against_rgw(tmp_path: Path) -> None:
    from tests.services import ceph

    if why := ceph.unavailable():
        pytest.skip(why)
    doc = tiny_run(tmp_path, "--peer", "rgw", timeout=600)
    assert doc["peer"]["label"] == "RGW" and "radosgw" in doc["peer"]["processes"]
    rows = check_rows(doc, tmp_path, ("fragstore", "peer", "null"))
    assert rows["cpu_put_new"]["peer"]["median"] > 0
    assert not (tmp_path / "work" / "ceph").exists()


def test_goals_against_the_peer_and_absolute() -> None:
    cfg = Settings(256 * MiB, 1, 5 << 30, 1, False, Path("."))
    runs = {"fragstore": {"put_new": [260.0], "cpu_put_new": [3.9], "get_new": [900.0], "get_float": [700.0],
                          "big_put_anon": [120.0, 151.0]},
            "peer": {"put_new": [200.0], "cpu_put_new": [4.8], "get_new": [600.0]},
            "null": {"put_new": [400.0], "get_new": [4000.0]}}
    rows = {row["id"]: row for row in evaluate(cfg, runs, {}, "RGW")}
    assert rows["put_new"]["peer_ratio"] == pytest.approx(1.3) and rows["put_new"]["goal_met"] is True
    assert rows["get_new"]["goal"] == ">= 2x RGW" and rows["get_new"]["goal_met"] is False
    assert rows["cpu_put_new"]["goal_met"] is True and rows["cpu_put_new"]["unit"] == "ns/B"
    assert rows["get_float"]["own_ratio"] == pytest.approx(700 / 900) and rows["get_float"]["goal_met"] is False
    assert rows["big_put_anon"]["goal_met"] is False  # RSS targets hold for the maximum
    assert rows["put_dup"]["goal_met"] is None and rows["cpu_put_1k_1t"]["unit"] == "us/op"


def test_cpu_seconds_count_a_busy_descendant() -> None:
    burn = ("import sys, time\nwhile time.process_time() < 0.3: pass\nprint('done', flush=True)\n"
            "sys.stdin.read()")
    start = tree_cpu_seconds([os.getpid()])
    child = subprocess.Popen([sys.executable, "-c", burn], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline() == "done\n"
    assert tree_cpu_seconds(child.pid) >= 0.28  # whole ticks: utime and stime are each rounded down
    assert tree_cpu_seconds([os.getpid()]) - start >= 0.28  # the child is a descendant of this process
    child.stdin.close()
    child.wait()
    assert tree_cpu_seconds(child.pid) == 0.0  # gone: nothing to count
