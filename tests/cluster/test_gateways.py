"""Many gateways on one PostgreSQL index (issue 16): real ``fragstore serve``
processes driven with boto3, a real PostgreSQL, SIGKILL for a crash."""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import re
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cluster.conftest import Cluster
from tests.live_server import LiveServer, clean_env, fragstore, sign_headers, start_server

MiB = 1024 * 1024


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_read_your_writes_across_gateways(cluster: Cluster) -> None:
    a, b = (g.client() for g in cluster.gateways)
    a.create_bucket(Bucket="rw-bucket")
    assert "rw-bucket" in [x["Name"] for x in b.list_buckets()["Buckets"]]
    bodies = {}
    for i in range(12):
        body = random.Random(i).randbytes(1000 + i * 40_000)
        writer, reader = (a, b) if i % 2 == 0 else (b, a)
        writer.put_object(Bucket="rw-bucket", Key=f"k{i}", Body=body)
        assert reader.get_object(Bucket="rw-bucket", Key=f"k{i}")["Body"].read() == body
        bodies[f"k{i}"] = body
    b.delete_object(Bucket="rw-bucket", Key="k0")
    with pytest.raises(ClientError) as exc:
        a.get_object(Bucket="rw-bucket", Key="k0")
    assert _code(exc) == "NoSuchKey"
    assert sorted(o["Key"] for o in a.list_objects_v2(Bucket="rw-bucket")["Contents"]) == sorted(set(bodies) - {"k0"})
    a.put_bucket_versioning(Bucket="rw-bucket", VersioningConfiguration={"Status": "Enabled"})
    assert b.get_bucket_versioning(Bucket="rw-bucket")["Status"] == "Enabled"


def test_access_documents_changed_on_one_gateway_are_obeyed_by_the_other(cluster: Cluster) -> None:
    """No gateway answers from a stale copy of a bucket's policy."""
    ga, gb = cluster.gateways
    a, b = ga.client(), gb.client()
    a.create_bucket(Bucket="pub")
    a.put_object(Bucket="pub", Key="k", Body=b"hello")
    assert gb.raw("GET", "/pub/k", sign=False).status == 403  # B has now read the bucket's documents
    a.delete_public_access_block(Bucket="pub")
    a.put_bucket_policy(Bucket="pub", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pub/*"}]}))
    assert gb.raw("GET", "/pub/k", sign=False).body == b"hello"
    b.delete_bucket_policy(Bucket="pub")
    assert ga.raw("GET", "/pub/k", sign=False).status == 403


def test_the_same_32_mib_through_both_at_once_is_stored_once(cluster: Cluster) -> None:
    ga, gb = cluster.gateways
    ga.client().create_bucket(Bucket="same")
    data = random.Random("same").randbytes(32 * MiB)
    with ThreadPoolExecutor(2) as pool:
        done = [pool.submit(g.client().put_object, Bucket="same", Key=f"via-{n}", Body=data)
                for n, g in (("a", ga), ("b", gb))]
        etags = {f.result()["ETag"] for f in done}
    assert etags == {f'"{hashlib.md5(data).hexdigest()}"'}
    total = cluster.admin(gb, "GET", "/_fragstore/stats")["total"]
    assert total["logical_bytes"] == 2 * len(data)
    assert total["unique_bytes"] == len(data)  # every fragment once, with a count of two
    for g, key in ((ga, "via-b"), (gb, "via-a")):
        assert hashlib.md5(g.client().get_object(Bucket="same", Key=key)["Body"].read()).digest() == \
            hashlib.md5(data).digest()
    assert cluster.admin(ga, "POST", "/_fragstore/check")["ok"]


def test_a_multipart_upload_with_parts_through_both(cluster: Cluster) -> None:
    a, b = (g.client() for g in cluster.gateways)
    a.create_bucket(Bucket="mp-bucket")
    upload = a.create_multipart_upload(Bucket="mp-bucket", Key="big")["UploadId"]
    bodies = [random.Random(n).randbytes(size) for n, size in ((1, 5 * MiB), (2, 5 * MiB), (3, MiB))]
    parts = []
    for number, (client, body) in enumerate(zip((a, b, a), bodies, strict=True), start=1):
        etag = client.upload_part(Bucket="mp-bucket", Key="big", UploadId=upload, PartNumber=number, Body=body)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    assert [p["PartNumber"] for p in b.list_parts(Bucket="mp-bucket", Key="big", UploadId=upload)["Parts"]] == [1, 2, 3]
    assert [u["UploadId"] for u in a.list_multipart_uploads(Bucket="mp-bucket")["Uploads"]] == [upload]
    b.complete_multipart_upload(Bucket="mp-bucket", Key="big", UploadId=upload, MultipartUpload={"Parts": parts})
    got = a.get_object(Bucket="mp-bucket", Key="big")
    assert got["ETag"].endswith('-3"') and got["Body"].read() == b"".join(bodies)


def _write_until(server: LiveServer, tag: str, acked: dict[str, str], stop: threading.Event,
                 failures: list[str]) -> None:
    try:
        _write(server, tag, acked, stop)
    except Exception as exc:  # reported by the test: a thread's exception would only warn
        failures.append(f"{tag}: {exc!r}")


def _write(server: LiveServer, tag: str, acked: dict[str, str], stop: threading.Event) -> None:
    s3 = server.client()
    rng = random.Random(tag)
    i = 0
    while not stop.is_set():
        # small bodies (one batch: written and published in one commit) and
        # bodies of several batches (pending manifests while they stream)
        body = rng.randbytes(rng.randrange(16_000, 600_000) if i % 3 else rng.randrange(5 * MiB, 9 * MiB))
        key = f"{tag}-{i}"
        try:
            s3.put_object(Bucket="load", Key=key, Body=body)
        except Exception:  # the gateway was killed: what it never acknowledged may be lost
            try:
                server.process.wait(timeout=10)  # (a SIGKILL takes a moment to land)
            except subprocess.TimeoutExpired:
                raise
            return
        acked[key] = hashlib.md5(body).hexdigest()
        i += 1


def _stall_a_put(server: LiveServer, key: str, sent: int, declared: int) -> http.client.HTTPConnection:
    """A PUT of ``declared`` bytes that stops after ``sent``: its first batches are
    committed, as a pending manifest, and it is never published."""
    headers = sign_headers(server, "PUT", f"/load/{key}", {"Content-Length": str(declared)}, "UNSIGNED-PAYLOAD")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.putrequest("PUT", f"/load/{key}", skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(random.Random(key).randbytes(sent))
    return conn


def _pending(cluster: Cluster, server: LiveServer) -> int:
    return int(cluster.admin(server, "GET", "/_fragstore/stats")["total"]["pending_manifests"])


def test_sigkill_of_one_gateway_under_write_load_loses_no_acknowledged_object(cluster: Cluster) -> None:
    ga, gb = cluster.gateways
    ga.client().create_bucket(Bucket="load")
    acked: dict[str, str] = {}
    stop = threading.Event()
    failures: list[str] = []
    threads = [threading.Thread(target=_write_until, args=(g, f"{name}{n}", acked, stop, failures))
               for name, g in (("a", ga), ("b", gb)) for n in range(2)]
    stalled = _stall_a_put(ga, "stalled", 12 * MiB, 64 * MiB)
    for t in threads:
        t.start()
    try:
        time.sleep(3)
        assert _pending(cluster, gb) >= 1  # at least the stalled PUT's
        ga.process.kill()  # SIGKILL, in the middle of PUTs
        stalled.close()
        before = len(acked)
        time.sleep(1.5)  # B goes on writing alone
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert any(k.startswith("a") for k in acked) and len(acked) > before
    s3 = gb.client()
    for key, digest in acked.items():
        assert hashlib.md5(s3.get_object(Bucket="load", Key=key)["Body"].read()).hexdigest() == digest, key
    again = cluster.start()  # a new gateway on the same directory reaps what the dead one left
    report = cluster.admin(again, "POST", "/_fragstore/check")
    assert report["ok"], report
    stats = cluster.admin(again, "GET", "/_fragstore/stats")["total"]
    # what the dead gateway had streamed but not published is reclaimed; a PUT it
    # committed but never answered may be there (each of its two writers had one at most)
    assert stats["pending_manifests"] == 0 and len(acked) <= stats["objects"] <= len(acked) + 2


def _gc_runs(server: LiveServer) -> int:
    text = server.raw("GET", "/_fragstore/metrics", sign=False).body.decode()
    found = re.search(r'^fragstore_gc_runs_total\{trigger="schedule"\} (\S+)$', text, re.M)
    return int(float(found.group(1))) if found else 0


def test_background_work_runs_on_one_gateway_and_moves_when_it_dies(tmp_path: Any, pg_dsn: str) -> None:
    cluster = Cluster(tmp_path, pg_dsn, ["--gc-interval", "0.2", "--lifecycle-interval", "0", "--history-interval", "0"])
    try:
        first, second = cluster.start(), cluster.start()
        deadline = time.monotonic() + 30
        while _gc_runs(first) + _gc_runs(second) < 5 and time.monotonic() < deadline:
            time.sleep(0.2)
        runs = {g: _gc_runs(g) for g in (first, second)}
        assert sorted(runs.values())[0] == 0 and sorted(runs.values())[1] >= 5, runs
        holder = max(runs, key=lambda g: runs[g])
        other = first if holder is second else second
        holder.process.kill()
        while _gc_runs(other) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _gc_runs(other) >= 3
    finally:
        cluster.stop()


def test_migrate_creates_and_reports_the_schema(pg_dsn: str, tmp_path: Any) -> None:
    data = tmp_path / "data"
    data.mkdir()
    first = fragstore("migrate", "--data", str(data), "--index", pg_dsn, env=clean_env())
    assert first.returncode == 0, first.stderr
    assert "index schema at version 1" in first.stdout and "(was 0)" in first.stdout
    again = fragstore("migrate", "--data", str(data), "--index", pg_dsn, env=clean_env())
    assert again.returncode == 0 and "(was" not in again.stdout
    assert "@" not in again.stdout.split(" in ", 1)[1]  # no user (or password) in what is printed


def test_a_user_added_through_one_gateway_signs_through_the_other(cluster: Cluster) -> None:
    ga, gb = cluster.gateways
    added = cluster.admin(ga, "POST", "/_fragstore/users")
    as_user = gb.client(aws_access_key_id=added["access_key"], aws_secret_access_key=added["secret"])
    as_user.create_bucket(Bucket="users-bucket")
    assert [b["Name"] for b in as_user.list_buckets()["Buckets"]] == ["users-bucket"]
    as_user.delete_bucket(Bucket="users-bucket")
    answer = gb.raw("DELETE", f"/_fragstore/users/{added['access_key']}")
    assert answer.status in (200, 204), answer.body
    with pytest.raises(ClientError) as exc:
        ga.client(aws_access_key_id=added["access_key"], aws_secret_access_key=added["secret"]).list_buckets()
    assert _code(exc) == "InvalidAccessKeyId"


def test_health_and_metrics_report_the_index(cluster: Cluster) -> None:
    ga, gb = cluster.gateways
    ga.client().create_bucket(Bucket="health-bucket")
    docs = [json.loads(g.raw("GET", "/_fragstore/health", sign=False).body) for g in (ga, gb)]
    assert all(d["status"] == "ok" and d["index"]["backend"] == "postgresql" and d["index"]["ok"] for d in docs)
    assert docs[0]["index"]["gateway"] != docs[1]["index"]["gateway"]
    text = ga.raw("GET", "/_fragstore/metrics", sign=False).body.decode()
    writes = re.search(r'^fragstore_index_transactions_total\{backend="postgresql",kind="write"\} (\S+)$', text, re.M)
    assert writes is not None and float(writes.group(1)) >= 1
    assert re.search(r'^fragstore_index_write_held_seconds_total\{backend="postgresql"\} ', text, re.M)


def test_health_says_unavailable_when_the_index_is_down(tmp_path: Any) -> None:
    from tests.services.postgres import start_postgres

    pg = start_postgres()
    try:
        server = start_server(tmp_path / "data", extra_args=["--index", pg.dsn, "--gc-interval", "0"],
                              log_path=tmp_path / "gateway.log")
        try:
            assert server.raw("GET", "/_fragstore/health", sign=False).status == 200
            pg.stop()
            answer = server.raw("GET", "/_fragstore/health", sign=False)
            assert answer.status == 503, answer.body
            assert json.loads(answer.body)["index"] == {"backend": "postgresql", "ok": False,
                                                       "error": json.loads(answer.body)["index"]["error"]}
        finally:
            server.stop()
    finally:
        pg.stop()


def test_maintenance_commands_work_against_the_cluster_while_it_serves(cluster: Cluster) -> None:
    ga, gb = cluster.gateways
    s3 = ga.client()
    s3.create_bucket(Bucket="ops-bucket")
    data = random.Random("ops").randbytes(3 * MiB)
    s3.put_object(Bucket="ops-bucket", Key="a", Body=data)
    gb.client().put_object(Bucket="ops-bucket", Key="b", Body=data)
    s3.delete_object(Bucket="ops-bucket", Key="a")
    where = ["--data", str(cluster.data), "--index", cluster.index]
    env = clean_env(FRAGSTORE_ACCESS_KEY=ga.access_key, FRAGSTORE_SECRET_KEY=ga.secret_key)
    check = fragstore("check", *where, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    stats = fragstore("stats", *where, env=env)
    assert stats.returncode == 0 and "ops-bucket" in stats.stdout, stats.stdout + stats.stderr
    assert cluster.admin(gb, "GET", "/_fragstore/stats")["total"]["dead_manifests"] == 1  # "a"'s
    gc = fragstore("gc", *where, "--grace", "0", env=env)
    assert gc.returncode == 0, gc.stdout + gc.stderr
    total = cluster.admin(gb, "GET", "/_fragstore/stats")["total"]
    assert total["dead_manifests"] == 0 and total["unique_bytes"] == len(data)  # "b" still names every fragment
    assert hashlib.md5(gb.client().get_object(Bucket="ops-bucket", Key="b")["Body"].read()).digest() == \
        hashlib.md5(data).digest()
