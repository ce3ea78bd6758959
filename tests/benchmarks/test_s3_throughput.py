"""Smoke test of ``benchmarks/s3_throughput.py`` and its null S3 endpoint (not timed).

The null endpoint must answer everything boto3 sends in the benchmark (PUT,
ranged GET, HEAD, multipart); a tiny one-repetition run must report every
figure for both servers, with ratios and verdicts where there are targets.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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


def test_tiny_run_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.s3_throughput", "--quick", "--no-drop-cache", "--size-mib", "8",
         "--ops", "10", "--big-gib", "0.02", "--out", str(out), "--work", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    doc = json.loads((out / "s3_throughput.json").read_text())
    assert (out / "s3_throughput.md").read_text() == done.stdout
    assert doc["date"] and "s3_throughput" in doc["command"] and doc["machine"]["cores"] >= 1
    rows = {row["id"]: row for row in doc["figures"]}
    assert list(rows) == [fig.id for fig in figures(Settings(MiB, 1, MiB, 1, False, tmp_path))]
    for fig_id, row in rows.items():
        if fig_id == "get_cold":
            assert row["fragstore"] is None and "skipped" in row["note"]
            continue
        for side in ("fragstore", "null"):
            summary = row[side]
            assert summary["min"] <= summary["median"] <= summary["max"] and len(summary["runs"]) == 1
            assert summary["median"] > 0
        if row["unit"] != "MB":
            assert row["ratio"] == pytest.approx(row["fragstore"]["median"] / row["null"]["median"])
        if row["target"]:
            assert isinstance(row["met"], bool)
    assert doc["client_headers"]["PutObject"]
