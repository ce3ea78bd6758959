"""The fragstore command: maintenance subcommands on a stopped server's data
directory, and through the running server when one holds it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.live_server import ROOT, LiveServer, self_signed_certificate, start_server
from tests.server.promtext import scrape


def fragstore(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=300)


def via_server(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    done = fragstore(*args, "--data", str(server.data_dir), env=server.env)
    assert f"asking it at {server.url}" in done.stderr, done.stderr
    return done


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


def test_commands_go_through_the_running_server(tmp_path: Path) -> None:
    body = os.urandom(300_000)
    with start_server(tmp_path / "data", extra_args=["--gc-interval", "0"]) as server:
        s3 = server.client()
        s3.create_bucket(Bucket="remote-a")
        s3.put_object(Bucket="remote-a", Key="one", Body=body)
        s3.put_object(Bucket="remote-a", Key="two", Body=body)
        s3.put_object(Bucket="remote-a", Key="gone", Body=os.urandom(100_000))
        s3.delete_object(Bucket="remote-a", Key="gone")

        dry = via_server(server, "gc", "--dry-run", "--grace", "0")
        assert dry.returncode == 0 and "dry run" in dry.stdout, dry.stderr
        gc = via_server(server, "gc", "--grace", "0")
        assert gc.returncode == 0 and re.search(r"fragment bytes freed\s+9\d\.\d KiB", gc.stdout), gc.stdout
        stats = via_server(server, "stats", "--exact")
        assert stats.returncode == 0, stats.stderr
        assert re.search(r"dedup ratio\s+2\.00x", stats.stdout), stats.stdout
        assert re.search(r"remote-a\s+2\s+585\.9 KiB\s+293\.0 KiB\s+2\.00x", stats.stdout), stats.stdout
        assert "585.9 KiB of objects take" in stats.stdout

        check = via_server(server, "check")
        assert check.returncode == 0 and "OK" in check.stdout, check.stdout + check.stderr
        assert via_server(server, "check", "--repair").returncode == 0

        metrics = scrape(server)  # the server did the work
        assert metrics.value("fragstore_gc_runs_total", trigger="admin") == 1
        assert metrics.value("fragstore_requests_total", operation="Check", status="200") == 2
        assert s3.get_object(Bucket="remote-a", Key="one")["Body"].read() == body


def test_remote_with_wrong_credentials_fails(tmp_path: Path) -> None:
    with start_server(tmp_path / "data") as server:
        env = {**server.env, "FRAGSTORE_SECRET_KEY": "not-the-secret"}
        done = fragstore("stats", "--data", str(server.data_dir), env=env)
        assert done.returncode == 1 and "SignatureDoesNotMatch" in done.stderr, done.stderr
        assert "not-the-secret" not in done.stderr + done.stdout


def test_remote_signs_with_the_generated_root_credentials(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("FRAGSTORE_ACCESS_KEY", "FRAGSTORE_SECRET_KEY")}
    unset = {"FRAGSTORE_ACCESS_KEY": "", "FRAGSTORE_SECRET_KEY": ""}
    with start_server(tmp_path / "data", env=unset) as server:
        server.client().create_bucket(Bucket="generated")
        done = fragstore("stats", "--data", str(server.data_dir), env=env)
        assert done.returncode == 0 and "generated" in done.stdout, done.stderr
        assert "asking it at" in done.stderr


def test_remote_over_tls_pins_the_certificate(tmp_path: Path) -> None:
    with start_server(tmp_path / "data", tls=True) as server:
        server.client().create_bucket(Bucket="tls-remote")
        stats = via_server(server, "stats")
        assert stats.returncode == 0 and "tls-remote" in stats.stdout, stats.stderr
        info = json.loads((server.data_dir / "server.json").read_text())
        other = tmp_path / "other"
        cert, _ = self_signed_certificate(other)
        info["tls_cert"] = str(cert)  # as if an impostor answered on that port
        (server.data_dir / "server.json").write_text(json.dumps(info))
        refused = fragstore("stats", "--data", str(server.data_dir), env=server.env)
        assert refused.returncode == 1 and "certificate" in refused.stderr, refused.stderr


def test_stats_lists_the_top_buckets(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_server(data) as server:
        s3 = server.client()
        for n in range(12):
            s3.create_bucket(Bucket=f"size-{n:02d}")
            s3.put_object(Bucket=f"size-{n:02d}", Key="k", Body=os.urandom(1000 * (n + 1)))
    stats = fragstore("stats", "--data", str(data))
    assert stats.returncode == 0, stats.stderr
    assert "top 10 buckets by logical bytes" in stats.stdout and "... and 2 more buckets" in stats.stdout
    listed = re.findall(r"^(size-\d\d)\s", stats.stdout, re.MULTILINE)
    assert listed == [f"size-{n:02d}" for n in range(11, 1, -1)]


def test_lifecycle_command_direct_and_through_the_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rules = {"Rules": [{"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}}]}
    args = ["--lifecycle-day-seconds", "1", "--lifecycle-interval", "0"]
    with start_server(data, extra_args=args) as server:
        s3 = server.client()
        s3.create_bucket(Bucket="rules")
        s3.put_bucket_lifecycle_configuration(Bucket="rules", LifecycleConfiguration=rules)
        s3.put_object(Bucket="rules", Key="tmp/a", Body=b"a")
        time.sleep(1.2)
        done = via_server(server, "lifecycle")
        assert done.returncode == 0 and re.search(r"Expiration actions\s+1\b", done.stdout), done.stdout + done.stderr
        assert s3.list_objects_v2(Bucket="rules")["KeyCount"] == 0
        s3.put_object(Bucket="rules", Key="tmp/b", Body=b"b")
    time.sleep(1.2)
    real_day = fragstore("lifecycle", "--data", str(data))  # tmp/b is not a whole day old
    assert real_day.returncode == 0 and re.search(r"Expiration actions\s+0\b", real_day.stdout), real_day.stdout
    direct = fragstore("lifecycle", "--data", str(data), "--lifecycle-day-seconds", "1")
    assert direct.returncode == 0 and re.search(r"Expiration actions\s+1\b", direct.stdout), direct.stdout + direct.stderr
