"""The fragstore command: maintenance subcommands on a stopped server's data
directory, and through the running server when one holds it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import tarfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dedup import Store
from dedup.types import StoreConfig
from tests.live_server import LiveServer, fragstore, self_signed_certificate, start_server
from tests.server.promtext import scrape

FORMAT1 = Path(__file__).resolve().parents[1] / "dedup" / "fixtures" / "format1.tar.gz"


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
        assert "585.9 KiB in 2 objects take 293." in stats.stdout

        check = via_server(server, "check")
        assert check.returncode == 0 and "OK" in check.stdout, check.stdout + check.stderr
        assert via_server(server, "check", "--repair").returncode == 0

        metrics = scrape(server)  # the server did the work
        assert metrics.value("fragstore_gc_runs_total", trigger="admin") == 1
        assert metrics.value("fragstore_requests_total", operation="Check", status="200") == 2
        assert s3.get_object(Bucket="remote-a", Key="one")["Body"].read() == body


def test_remote_with_another_pair_in_the_environment_is_refused(tmp_path: Path) -> None:
    """The CLI signs with the data directory's root pair; variables naming
    another pair are refused before any request (tests/server/test_root_credentials.py)."""
    with start_server(tmp_path / "data") as server:
        env = {**server.env, "FRAGSTORE_SECRET_KEY": "not-the-secret-but-long-enough"}
        done = fragstore("stats", "--data", str(server.data_dir), env=env)
        assert done.returncode == 2 and "are not the root key pair" in done.stderr, done.stderr
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


# --------------------------------------------------------------- reading writes nothing


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` by its relative path: a hash of its bytes and its mode."""
    out = {}
    for base, _dirs, files in os.walk(root):
        for name in files:
            path = Path(base, name)
            out[str(path.relative_to(root))] = f"{path.stat().st_mode:o} {hashlib.sha256(path.read_bytes()).hexdigest()}"
    return out


def leave_a_pending_manifest(data: Path) -> None:
    """A PUT that streamed its fragments and never published its key, as a crash leaves it."""
    async def ingest() -> None:
        store = await Store.open(data, StoreConfig())
        try:
            async def body() -> AsyncIterator[bytes]:
                yield os.urandom(120_000)
            await store.ingest.run(await store._new_mid(), body(), lambda got: lambda w: None)
        finally:
            await store.close()

    asyncio.run(ingest())


def test_reading_commands_leave_the_data_directory_byte_identical(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_server(data, extra_args=["--gc-interval", "0"]) as server:
        s3 = server.client()
        s3.create_bucket(Bucket="read-only")
        s3.put_object(Bucket="read-only", Key="kept", Body=os.urandom(200_000))
        for n in range(3):
            s3.put_object(Bucket="read-only", Key=f"gone-{n}", Body=os.urandom(100_000))
            s3.delete_object(Bucket="read-only", Key=f"gone-{n}")  # dead manifests, inside the grace period
        s3.create_multipart_upload(Bucket="read-only", Key="unfinished")
    leave_a_pending_manifest(data)
    (data / "tmp" / "scratch").write_bytes(b"left by a crash")
    before = snapshot(data)
    stats = fragstore("stats", "--data", str(data))
    assert stats.returncode == 0, stats.stderr
    assert snapshot(data) == before
    for args in (("stats", "--exact"), ("check",), ("gc", "--dry-run"), ("gc", "--dry-run", "--grace", "0")):
        done = fragstore(*args, "--data", str(data))
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert snapshot(data) == before, args
    assert "3 deleted or overwritten object versions await gc" in stats.stdout
    assert "1 upload being written, or cut off by a crash" in stats.stdout
    assert "1 multipart upload in progress" in stats.stdout
    # what a writer does to the same directory, for contrast
    assert fragstore("gc", "--data", str(data)).returncode == 0
    assert snapshot(data) != before


def test_reading_an_old_format_directory_is_refused(tmp_path: Path) -> None:
    with tarfile.open(FORMAT1) as tar:
        tar.extractall(tmp_path, filter="data")
    before = snapshot(tmp_path / "data")
    done = fragstore("stats", "--data", str(tmp_path / "data"))
    assert done.returncode == 2
    assert "holds data format 1" in done.stderr and "start the server on it once" in done.stderr
    assert snapshot(tmp_path / "data") == before


def test_a_directory_without_data_is_not_made_one(tmp_path: Path) -> None:
    for args in (("stats",), ("gc",), ("check", "--repair")):
        done = fragstore(*args, "--data", str(tmp_path))
        assert done.returncode == 2 and "holds no fragstore data" in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------- flags are never ignored


@pytest.mark.parametrize("command", ["stats", "gc", "check"])
@pytest.mark.parametrize(("flag", "why"), [
    ("--gc-grace", "give this run's grace period with --grace SECONDS"),
    ("--compression", "--compression applies to what a server writes"),
])
def test_flags_that_cannot_apply_are_refused(tmp_path: Path, command: str, flag: str, why: str) -> None:
    done = fragstore(command, "--data", str(tmp_path), flag, "0")
    assert done.returncode == 2 and why in done.stderr, done.stderr


def test_gc_grace_means_the_same_with_the_server_up_or_down(tmp_path: Path) -> None:
    data = tmp_path / "data"

    def delete_one(server: LiveServer, key: str) -> None:
        s3 = server.client()
        s3.put_object(Bucket="grace", Key=key, Body=os.urandom(50_000))
        s3.delete_object(Bucket="grace", Key=key)

    def reclaimed(done: subprocess.CompletedProcess[str]) -> int:
        assert done.returncode == 0, done.stderr
        found = re.search(r"object versions reclaimed\s+(\d+)", done.stdout)
        assert found, done.stdout
        return int(found.group(1))

    with start_server(data, extra_args=["--gc-interval", "0"]) as server:
        server.client().create_bucket(Bucket="grace")
        delete_one(server, "a")
        kept = via_server(server, "gc", "--grace", "3600")
        assert reclaimed(kept) == 0 and "deleted more than 3600 s ago were reclaimed" in kept.stdout
        default = via_server(server, "gc")  # the server's gc_grace: 300 s
        assert reclaimed(default) == 0 and "more than 300 s ago" in default.stdout
        by_env = fragstore("gc", "--data", str(data), env={**server.env, "FRAGSTORE_GC_GRACE": "0"})
        assert "asking it at" in by_env.stderr and reclaimed(by_env) == 1, by_env.stderr
        delete_one(server, "b")
    # stopped: opening the directory to write reclaims nothing the grace period keeps
    assert reclaimed(fragstore("gc", "--data", str(data), "--grace", "3600")) == 0
    assert reclaimed(fragstore("gc", "--dry-run", "--data", str(data), "--grace", "0")) == 1
    assert reclaimed(fragstore("gc", "--data", str(data), "--grace", "0")) == 1
    with start_server(data, extra_args=["--gc-interval", "0", "--gc-grace", "0"]) as server:
        delete_one(server, "c")
        own = via_server(server, "gc")
        assert reclaimed(own) == 1 and "more than 0 s ago" in own.stdout


# --------------------------------------------------------------- stats read right


def stats_of(data: Path, *args: str) -> str:
    done = fragstore("stats", "--data", str(data), *args)
    assert done.returncode == 0, done.stderr
    assert "costing" not in done.stdout and "%" not in done.stdout
    return done.stdout


def figure(text: str, name: str) -> str:
    found = re.search(rf"^{re.escape(name)}\s+(\S+(?: [KMG]?i?B)?)", text, re.MULTILINE)
    assert found, text
    return found.group(1)


def test_stats_read_right_in_every_state(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_server(data, extra_args=["--gc-interval", "0"]):
        pass
    empty = stats_of(data)
    assert empty.startswith("no objects stored yet; ")
    assert figure(empty, "dedup ratio") == "-" and figure(empty, "logical / disk") == "-"
    assert "buckets: none" in empty

    body = os.urandom(1 << 20)
    with start_server(data, extra_args=["--gc-interval", "0"]) as server:
        s3 = server.client()
        s3.create_bucket(Bucket="copies")
        for n in range(4):
            s3.put_object(Bucket="copies", Key=f"copy-{n}", Body=body)
    duplicates = stats_of(data)
    assert duplicates.startswith("4.0 MiB in 4 objects take 1.0 MiB as stored fragments (3.99x) and ")
    assert figure(duplicates, "dedup ratio") == "4.00x"
    assert re.search(r"^bucket\s+objects\s+logical$", duplicates, re.MULTILINE), duplicates
    assert re.search(r"^copies\s+4\s+4\.0 MiB$", duplicates, re.MULTILINE), duplicates
    assert "fragstore stats --exact" in duplicates  # where the per-bucket dedup is
    exact = stats_of(data, "--exact")
    assert re.search(r"^copies\s+4\s+4\.0 MiB\s+1\.0 MiB\s+4\.00x$", exact, re.MULTILINE), exact
    assert "unique in bucket: distinct fragment bytes its objects use" in exact

    with start_server(data, extra_args=["--gc-interval", "0"]) as server:
        s3 = server.client()
        s3.put_object(Bucket="copies", Key="other", Body=os.urandom(5 << 20))
        s3.delete_object(Bucket="copies", Key="other")
        for n in range(3):
            s3.delete_object(Bucket="copies", Key=f"copy-{n}")
    deleted = stats_of(data)
    first = deleted.splitlines()[0]
    assert first.startswith("1.0 MiB in 1 object take 1.0 MiB as stored fragments (1.00x); "), first
    assert first.endswith(", of which 5.0 MiB are fragments of 4 deleted object versions awaiting gc"), first
    assert figure(deleted, "dedup ratio") == "1.00x"  # the current objects', not 1 MiB against 6 MiB
    assert re.search(r"^  awaiting gc\s+5\.0 MiB\s+of those, used only by deleted object versions", deleted,
                     re.MULTILINE), deleted
    assert "(deleted data awaiting gc included)" in deleted
    assert "4 deleted or overwritten object versions await gc: `fragstore gc` frees" in deleted

    assert fragstore("gc", "--data", str(data), "--grace", "0").returncode == 0
    collected = stats_of(data)
    assert "awaiting gc" not in collected and figure(collected, "unique fragment bytes") == "1.0 MiB"
