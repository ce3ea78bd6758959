"""The fragstore command: maintenance subcommands on a stopped server's data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.live_server import ROOT, start_server


def fragstore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, capture_output=True, text=True)


def test_stats_gc_check(tmp_path: Path) -> None:
    data = tmp_path / "data"
    body = os.urandom(400_000)
    with start_server(data) as server:
        s3 = server.client()
        s3.create_bucket(Bucket="stats-a")
        s3.create_bucket(Bucket="stats-b")
        s3.put_object(Bucket="stats-a", Key="one", Body=body)
        s3.put_object(Bucket="stats-b", Key="two", Body=body)
        s3.put_object(Bucket="stats-b", Key="gone", Body=os.urandom(100_000))
        s3.delete_object(Bucket="stats-b", Key="gone")
    stats = fragstore("stats", "--data", str(data))
    assert stats.returncode == 0, stats.stderr
    assert "dedup ratio" in stats.stdout and "stats-a" in stats.stdout and "stats-b" in stats.stdout
    assert "2.00x" in stats.stdout or "dedup" in stats.stdout
    dry = fragstore("gc", "--dry-run", "--data", str(data), "--grace", "0")
    assert dry.returncode == 0 and "dry run" in dry.stdout, dry.stderr
    gc = fragstore("gc", "--data", str(data), "--grace", "0")
    assert gc.returncode == 0 and "fragments freed" in gc.stdout, gc.stderr
    check = fragstore("check", "--data", str(data))
    assert check.returncode == 0 and "OK" in check.stdout, check.stdout + check.stderr
    assert fragstore("check", "--repair", "--data", str(data)).returncode == 0
    with start_server(data) as server:
        assert server.client().get_object(Bucket="stats-a", Key="one")["Body"].read() == body


def test_missing_data_directory(tmp_path: Path) -> None:
    done = fragstore("stats", "--data", str(tmp_path / "nothing"))
    assert done.returncode == 2 and "no data directory" in done.stderr


def test_tls_options_go_together(tmp_path: Path) -> None:
    done = fragstore("serve", "--data", str(tmp_path / "d"), "--tls-cert", "x.pem")
    assert done.returncode == 2 and "--tls-key" in done.stderr
