"""GET /_fragstore/metrics: Prometheus text that parses, open by default, and
that moves as requests are made (requests, latency, bytes, the store's figures,
GC runs); with --metrics-token only the bearer of the token may read it."""

from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.live_server import LiveServer, raw_request, start_server
from tests.server.promtext import parse, scrape

WAIT_LIMIT_S = 60.0


def test_metrics_are_open_and_parse(live_server: LiveServer) -> None:
    response = live_server.raw("GET", "/_fragstore/metrics", sign=False)
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert response.headers["x-amz-request-id"]
    metrics = parse(response.body.decode())
    assert metrics.types["fragstore_requests"] == "counter"
    assert metrics.types["fragstore_request_duration_seconds"] == "histogram"
    for gauge in ("fragstore_logical_bytes", "fragstore_disk_bytes", "fragstore_dedup_ratio",
                  "fragstore_compression_ratio", "fragstore_fragments", "fragstore_packs",
                  "fragstore_writer_queue_depth"):
        assert metrics.types[gauge] == "gauge" and metrics.has(gauge), gauge
    assert metrics.has("process_resident_memory_bytes")


def test_metrics_move_with_requests(tmp_path: Path) -> None:
    body = os.urandom(300_000)
    with start_server(tmp_path / "data") as server:
        s3 = server.client()
        before = scrape(server)
        assert before.value("fragstore_logical_bytes") == 0
        s3.create_bucket(Bucket="metered")
        s3.put_object(Bucket="metered", Key="a", Body=body)
        s3.put_object(Bucket="metered", Key="b", Body=body)  # the same bytes again: dedup
        assert s3.get_object(Bucket="metered", Key="a")["Body"].read() == body
        with pytest.raises(ClientError):
            s3.get_object(Bucket="metered", Key="missing")
        after = scrape(server)

    assert after.value("fragstore_requests_total", operation="PutObject", status="200") == 2
    assert after.value("fragstore_requests_total", operation="GetObject", status="200") == 1
    assert after.value("fragstore_requests_total", operation="GetObject", status="404") == 1
    assert after.value("fragstore_requests_total", operation="CreateBucket", status="200") == 1
    assert after.value("fragstore_request_duration_seconds_count", operation="PutObject") == 2
    assert after.value("fragstore_request_duration_seconds_sum", operation="PutObject") > 0
    assert after.value("fragstore_received_bytes_total", operation="PutObject") >= 2 * len(body)
    assert after.value("fragstore_sent_bytes_total", operation="GetObject") >= len(body)
    assert after.value("fragstore_requests_total", operation="Metrics", status="200") == 1  # the first scrape

    assert after.value("fragstore_objects") == 2
    assert after.value("fragstore_logical_bytes") == 2 * len(body)
    assert after.value("fragstore_unique_bytes") == len(body)
    assert after.value("fragstore_dedup_ratio") == pytest.approx(2.0)
    assert after.value("fragstore_fragments") > before.value("fragstore_fragments")
    assert after.value("fragstore_disk_bytes") > len(body) // 2
    assert after.value("fragstore_packs") >= 1
    # bucket names are tenants' data: no per-bucket series on the open endpoint
    assert not after.has("fragstore_bucket_objects", bucket="metered")


def test_unimplemented_operations_share_one_label(live_server: LiveServer, bucket: str) -> None:
    for name in ("fragstore-a", "fragstore-b"):
        assert live_server.raw("GET", f"/{bucket}?{name}").status == 501
    metrics = scrape(live_server)
    operations = metrics.label_values("fragstore_requests_total", "operation")
    assert "Other" in operations
    assert not [op for op in operations if "Fragstore" in op]


def test_gc_runs_and_bytes_freed_are_counted(tmp_path: Path) -> None:
    with start_server(tmp_path / "data", extra_args=["--gc-grace", "0", "--gc-interval", "0"]) as server:
        s3 = server.client()
        s3.create_bucket(Bucket="gc-counted")
        s3.put_object(Bucket="gc-counted", Key="gone", Body=os.urandom(200_000))
        s3.delete_object(Bucket="gc-counted", Key="gone")
        assert server.raw("POST", "/_fragstore/gc?dry-run=true").status == 200
        assert scrape(server).value("fragstore_gc_runs_total", trigger="admin") == 0  # dry runs do not count
        assert server.raw("POST", "/_fragstore/gc").status == 200
        metrics = scrape(server)
    assert metrics.value("fragstore_gc_runs_total", trigger="admin") == 1
    assert metrics.value("fragstore_gc_freed_bytes_total") >= 200_000
    assert metrics.value("fragstore_gc_freed_fragments_total") > 0
    assert metrics.value("fragstore_gc_last_run_timestamp_seconds") > 0
    assert metrics.value("fragstore_logical_bytes") == 0


def test_background_gc_runs_on_its_schedule(tmp_path: Path) -> None:
    with start_server(tmp_path / "data", extra_args=["--gc-grace", "0", "--gc-interval", "0.2"]) as server:
        s3 = server.client()
        s3.create_bucket(Bucket="sched")
        s3.put_object(Bucket="sched", Key="gone", Body=os.urandom(200_000))
        s3.delete_object(Bucket="sched", Key="gone")
        deadline = time.monotonic() + WAIT_LIMIT_S
        metrics = scrape(server)
        while metrics.value("fragstore_gc_freed_bytes_total") == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
            metrics = scrape(server)
    assert metrics.value("fragstore_gc_freed_bytes_total") >= 200_000, "no scheduled GC freed the deleted object"
    assert metrics.value("fragstore_gc_runs_total", trigger="schedule") >= 1
    assert metrics.value("fragstore_gc_runs_total", trigger="admin") == 0


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(Path(tmp_path_factory.mktemp("metrics-token")) / "data",
                      extra_args=["--metrics-token", "scrape-me-0123"]) as server:
        yield server


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic c2NyYXBlLW1lLTAxMjM=", "scrape-me-0123"])
def test_metrics_token_refuses_others(guarded: LiveServer, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = raw_request(guarded, "GET", "/_fragstore/metrics", headers=headers, sign=False)
    assert response.status == 403
    error = ET.fromstring(response.body)
    assert error.findtext("Code") == "AccessDenied"
    assert error.findtext("RequestId") == response.headers["x-amz-request-id"]
    assert b"fragstore_requests" not in response.body


def test_metrics_token_refuses_s3_credentials(guarded: LiveServer) -> None:
    """A valid SigV4 signature is not the metrics token."""
    response = guarded.raw("GET", "/_fragstore/metrics")
    assert response.status == 403 and ET.fromstring(response.body).findtext("Code") == "AccessDenied"


def test_metrics_token_admits_its_bearer(guarded: LiveServer) -> None:
    client = guarded.client()
    client.create_bucket(Bucket="guarded-metered")
    client.put_object(Bucket="guarded-metered", Key="k", Body=b"12345")
    metrics = scrape(guarded, token="scrape-me-0123")
    assert metrics.value("fragstore_requests_total", operation="Metrics", status="403") >= 1
    assert metrics.value("fragstore_bucket_objects", bucket="guarded-metered") == 1
    assert metrics.value("fragstore_bucket_logical_bytes", bucket="guarded-metered") == 5
    response = raw_request(guarded, "GET", "/_fragstore/metrics", sign=False,
                           headers={"Authorization": "bearer scrape-me-0123"})
    assert response.status == 200
    assert "scrape-me-0123" not in guarded.log()
