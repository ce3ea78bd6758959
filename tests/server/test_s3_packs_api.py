"""Packs in S3 (``--packs s3://BUCKET/PREFIX``), through the real server.

The gateway under test is a fragstore server whose packs live in a bucket of
another S3 service: a second fragstore in embedded mode (the peer) for most
tests, and a real single-node Ceph RADOS Gateway (tests/services) for one.
Checked: objects round-trip (whole, ranged, multipart), every segment is an
object of the bucket, health and metrics name the pack store, ``fragstore
check`` and ``gc`` work on the stopped directory, a directory is never opened
with other packs than its own, a pack store that is down answers 503 and
publishes nothing, and SIGKILLs under write load lose no acknowledged object.
"""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dedup.types import StoreConfig
from tests.live_server import ACCESS_KEY, SECRET_KEY, LiveServer, clean_env, fragstore, start_server
from tests.robustness.crashloop import CrashLoop, CrashPlan
from tests.services.fixtures import ceph, rgw, rgw_client  # noqa: F401

PACKS_BUCKET = "packs"
MiB = 1024 * 1024


def packs_env(endpoint: str, url: str, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> dict[str, str]:
    return {"FRAGSTORE_PACKS": url, "FRAGSTORE_PACKS_ENDPOINT": endpoint,
            "FRAGSTORE_PACKS_ACCESS_KEY": access_key, "FRAGSTORE_PACKS_SECRET_KEY": secret_key}


def packs_config(env: dict[str, str]) -> StoreConfig:
    return StoreConfig(packs=env["FRAGSTORE_PACKS"], packs_endpoint=env["FRAGSTORE_PACKS_ENDPOINT"],
                       packs_access_key=env["FRAGSTORE_PACKS_ACCESS_KEY"],
                       packs_secret_key=env["FRAGSTORE_PACKS_SECRET_KEY"])


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The S3 service that holds the packs: a fragstore in embedded mode."""
    server = start_server(Path(tmp_path_factory.mktemp("peer")) / "data")
    try:
        server.client().create_bucket(Bucket=PACKS_BUCKET)
        yield server
    finally:
        server.stop()


def segments(peer: LiveServer, prefix: str) -> dict[str, int]:
    """The segment objects under ``prefix`` (not its OWNER), by key."""
    listed = peer.client().list_objects_v2(Bucket=PACKS_BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"]: o["Size"] for o in listed if o["Key"] != prefix + "OWNER"}


def body(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def test_objects_live_in_segments_of_the_bucket(peer: LiveServer, tmp_path: Path) -> None:
    prefix = f"gw-{uuid.uuid4().hex[:8]}/"
    env = packs_env(peer.url, f"s3://{PACKS_BUCKET}/{prefix}")
    data = tmp_path / "data"
    big, small = body(3 * MiB + 17, 1), body(1000, 2)
    with start_server(data, env=env) as gw:
        s3 = gw.client()
        s3.create_bucket(Bucket="bucket-one")
        s3.put_object(Bucket="bucket-one", Key="big", Body=big)
        s3.put_object(Bucket="bucket-one", Key="small", Body=small)
        s3.put_object(Bucket="bucket-one", Key="copy-of-big", Body=big)  # stored once: no new segment bytes
        assert s3.get_object(Bucket="bucket-one", Key="big")["Body"].read() == big
        assert s3.get_object(Bucket="bucket-one", Key="big", Range="bytes=1048570-2097160")["Body"].read() == \
            big[1048570:2097161]
        assert s3.get_object(Bucket="bucket-one", Key="small")["Body"].read() == small
        up = s3.create_multipart_upload(Bucket="bucket-one", Key="mp")["UploadId"]
        parts = [body(5 * MiB, 10 + i) for i in range(2)] + [body(100, 12)]
        etags = [s3.upload_part(Bucket="bucket-one", Key="mp", UploadId=up, PartNumber=i + 1, Body=p)["ETag"]
                 for i, p in enumerate(parts)]
        s3.complete_multipart_upload(Bucket="bucket-one", Key="mp", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
        assert s3.get_object(Bucket="bucket-one", Key="mp")["Body"].read() == b"".join(parts)
        stored = segments(peer, prefix)
        assert stored and all(k.endswith(".pack") for k in stored)
        owner = peer.client().get_object(Bucket=PACKS_BUCKET, Key=prefix + "OWNER")["Body"].read().decode()
        assert owner == (data / "PACKS").read_text().split()[1]  # the prefix is this directory's
        total = len(big) + len(small) + sum(map(len, parts))
        assert total <= sum(stored.values()) < total * 1.1  # the copy added nothing
        assert not any((data / "packs").glob("*.pack"))  # nothing local

        with urllib.request.urlopen(gw.url + "/_fragstore/health") as r:
            health = json.load(r)
        assert health["status"] == "ok" and health["packs"]["kind"] == "s3"
        assert health["packs"]["url"] == f"s3://{PACKS_BUCKET}/{prefix}" and health["packs"]["status"] == "ok"
        metrics = gw.raw("GET", "/_fragstore/metrics").body.decode()
        puts = [line for line in metrics.splitlines()
                if line.startswith('fragstore_pack_store_requests_total{backend="s3",op="put_object"}')]
        assert puts and float(puts[0].split()[-1]) >= len(stored)
        assert 'fragstore_pack_cache_misses_total{backend="s3"}' in metrics
        assert "ACCESS" not in json.dumps(health) and SECRET_KEY not in metrics

        s3.delete_object(Bucket="bucket-one", Key="big")
        s3.delete_object(Bucket="bucket-one", Key="copy-of-big")

    # stopped: check and gc run on the directory with the same settings
    run_env = clean_env(**env)
    checked = fragstore("check", "--data", str(data), env=run_env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    before = sum(segments(peer, prefix).values())
    collected = fragstore("gc", "--data", str(data), "--grace", "0", env=run_env)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    after = sum(segments(peer, prefix).values())
    assert after <= before - len(big)  # the big object's segments are gone
    checked = fragstore("check", "--data", str(data), env=run_env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    with start_server(data, env=env) as gw:
        s3 = gw.client()
        assert s3.get_object(Bucket="bucket-one", Key="small")["Body"].read() == small
        assert s3.get_object(Bucket="bucket-one", Key="mp")["Body"].read() == b"".join(parts)


def test_a_directory_keeps_the_packs_it_was_made_with(peer: LiveServer, tmp_path: Path) -> None:
    env = packs_env(peer.url, f"s3://{PACKS_BUCKET}/keep-{uuid.uuid4().hex[:8]}")
    with start_server(tmp_path / "s3dir", env=env):
        pass
    local = fragstore("check", "--data", str(tmp_path / "s3dir"), env=clean_env())
    assert local.returncode == 2 and "keeps its packs in s3://" in local.stderr and "Traceback" not in local.stderr
    served = fragstore("serve", "--data", str(tmp_path / "s3dir"), "--port", "1", env=clean_env())
    assert served.returncode == 2 and "keeps its packs in s3://" in served.stderr and "Traceback" not in served.stderr
    with start_server(tmp_path / "localdir"):
        pass
    remote = fragstore("check", "--data", str(tmp_path / "localdir"), env=clean_env(**env))
    assert remote.returncode == 2 and "local pack files" in remote.stderr and "Traceback" not in remote.stderr


def test_a_pack_store_that_is_down_answers_503_and_publishes_nothing(tmp_path: Path) -> None:
    peer = start_server(tmp_path / "peer")
    peer.client().create_bucket(Bucket=PACKS_BUCKET)
    env = packs_env(peer.url, f"s3://{PACKS_BUCKET}/down")
    with start_server(tmp_path / "data", env=env) as gw:
        s3 = gw.client()
        s3.create_bucket(Bucket="bucket-one")
        s3.put_object(Bucket="bucket-one", Key="before", Body=b"x" * 70000)
        peer.stop()
        with pytest.raises(ClientError) as err:
            s3.put_object(Bucket="bucket-one", Key="during", Body=body(300000, 3))
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert err.value.response["Error"]["Code"] == "ServiceUnavailable"
        with pytest.raises(urllib.error.HTTPError) as down:
            urllib.request.urlopen(gw.url + "/_fragstore/health")
        assert down.value.code == 503 and json.load(down.value)["packs"]["status"] == "unavailable"
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="bucket-one").get("Contents", [])]
        assert keys == ["before"]


def test_sigkill_under_write_load_loses_no_acknowledged_object(peer: LiveServer, tmp_path: Path) -> None:
    """The reliability suite's kill loop, with the packs in S3: after each
    SIGKILL every acknowledged write and delete holds and ``check`` is clean;
    at the end, GC leaves no segment behind (strays of a killed batch included)."""
    prefix = f"crash-{uuid.uuid4().hex[:8]}/"
    env = packs_env(peer.url, f"s3://{PACKS_BUCKET}/{prefix}")
    plan = CrashPlan(kills=3, clients=4, keys_per_client=6, min_load_s=0.3, max_load_s=1.2, gc_every=2, seed=11)
    figures = CrashLoop(tmp_path, plan, env=env, config=packs_config(env)).run()
    found = figures.findings
    assert figures.kills == 3 and figures.client_crashes == []
    assert found.objects_checked > 0 and figures.acked_writes > 0
    assert found.bad == 0, found.problems[:10]
    assert figures.checks == 3 and figures.check_failures == []
    assert figures.outcomes["5xx"] == 0 and figures.outcomes["bad-ack"] == 0, figures.errors[:10]
    assert (figures.leftover_fragments, figures.leftover_stored_bytes, figures.leftover_pack_bytes) == (0, 0, 0)
    assert segments(peer, prefix) == {}


def test_packs_in_ceph_rgw(rgw: Any, tmp_path: Path) -> None:  # noqa: F811
    """The same round trip against a real Ceph RADOS Gateway."""
    s3_rgw = rgw_client(rgw)
    bucket = f"packs-{uuid.uuid4().hex[:12]}"
    s3_rgw.create_bucket(Bucket=bucket)
    env = packs_env(rgw.endpoint, f"s3://{bucket}/gw", rgw.access_key, rgw.secret_key)
    data = body(4 * MiB + 3, 5)
    with start_server(tmp_path / "data", env=env) as gw:
        s3 = gw.client()
        s3.create_bucket(Bucket="bucket-one")
        s3.put_object(Bucket="bucket-one", Key="k", Body=data)
        s3.put_object(Bucket="bucket-one", Key="gone", Body=body(MiB, 6))
        assert s3.get_object(Bucket="bucket-one", Key="k")["Body"].read() == data
        assert s3.get_object(Bucket="bucket-one", Key="k", Range="bytes=3-1048580")["Body"].read() == data[3:1048581]
        s3.delete_object(Bucket="bucket-one", Key="gone")
    listed = s3_rgw.list_objects_v2(Bucket=bucket, Prefix="gw/").get("Contents", [])
    assert listed and sum(o["Size"] for o in listed) >= len(data) + MiB
    run_env = clean_env(**env)
    collected = fragstore("gc", "--data", str(tmp_path / "data"), "--grace", "0", env=run_env)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    checked = fragstore("check", "--data", str(tmp_path / "data"), env=run_env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    after = s3_rgw.list_objects_v2(Bucket=bucket, Prefix="gw/").get("Contents", [])
    assert sum(o["Size"] for o in after) < sum(o["Size"] for o in listed) - MiB // 2
    with start_server(tmp_path / "data", env=env) as gw:
        assert gw.client().get_object(Bucket="bucket-one", Key="k")["Body"].read() == data
