"""Admin endpoints under /_fragstore/: GC (with dry run) and check, for the root
user only, over SigV4; every refusal is S3 XML with the request id."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.s3.routing import route
from tests.live_server import LiveServer, RawResponse, start_server


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = Path(tmp_path_factory.mktemp("admin"))
    users = root / "users.txt"
    users.write_text("CAROL:carol-secret-333a4b5c6d7e\n")
    with start_server(root / "data", extra_args=["--users", str(users), "--gc-grace", "0", "--gc-interval", "0"]) as server:
        yield server


def error_code(response: RawResponse) -> str | None:
    root = ET.fromstring(response.body)
    assert root.findtext("RequestId") == response.headers["x-amz-request-id"]
    return root.findtext("Code")


@pytest.mark.parametrize(("method", "path", "operation"), [
    ("GET", "/_fragstore/metrics", "Metrics"),
    ("POST", "/_fragstore/gc", "CollectGarbage"),
    ("POST", "/_fragstore/check", "Check"),
    ("POST", "/_fragstore/lifecycle", "RunLifecycle"),
    ("GET", "/_fragstore/stats", "Stats"),
])
def test_reserved_routes(method: str, path: str, operation: str) -> None:
    assert route(method, path, {}, {}).operation == operation
    assert route(method, path, {}, {}).error is None


@pytest.mark.parametrize(("method", "path"), [("GET", "/_fragstore/gc"), ("PUT", "/_fragstore/check"),
                                              ("POST", "/_fragstore/metrics"), ("POST", "/_fragstore/scrub")])
def test_other_reserved_requests_are_not_implemented(admin_server: LiveServer, method: str, path: str) -> None:
    response = admin_server.raw(method, path)
    assert response.status == 501 and error_code(response) == "NotImplemented"


@pytest.mark.parametrize("path", ["/_fragstore/gc", "/_fragstore/gc?dry-run=true", "/_fragstore/check",
                                  "/_fragstore/lifecycle"])
def test_admin_refuses_missing_credentials(admin_server: LiveServer, path: str) -> None:
    response = admin_server.raw("POST", path, sign=False)
    assert response.status == 403 and error_code(response) == "AccessDenied"


@pytest.mark.parametrize("path", ["/_fragstore/gc", "/_fragstore/check"])
def test_admin_refuses_wrong_credentials(admin_server: LiveServer, path: str) -> None:
    wrong_secret = admin_server.raw("POST", path, secret_key="not-the-secret")
    assert wrong_secret.status == 403 and error_code(wrong_secret) == "SignatureDoesNotMatch"
    unknown_key = admin_server.raw("POST", path, access_key="NOBODY", secret_key="nobody-secret")
    assert unknown_key.status == 403 and error_code(unknown_key) == "InvalidAccessKeyId"


@pytest.mark.parametrize("path", ["/_fragstore/gc", "/_fragstore/gc?dry-run=true", "/_fragstore/check",
                                  "/_fragstore/lifecycle"])
def test_admin_refuses_users_other_than_root(admin_server: LiveServer, path: str) -> None:
    response = admin_server.raw("POST", path, access_key="CAROL", secret_key="carol-secret-333a4b5c6d7e")
    assert response.status == 403 and error_code(response) == "AccessDenied"


@pytest.mark.parametrize("path", ["/_fragstore/gc?dry-run=maybe", "/_fragstore/gc?grace=-1",
                                  "/_fragstore/gc?grace=soon", "/_fragstore/check?repair=yes"])
def test_admin_refuses_bad_arguments(admin_server: LiveServer, path: str) -> None:
    response = admin_server.raw("POST", path)
    assert response.status == 400 and error_code(response) == "InvalidArgument"


def test_gc_dry_run_then_gc(admin_server: LiveServer) -> None:
    s3 = admin_server.client()
    s3.create_bucket(Bucket="admin-gc")
    s3.put_object(Bucket="admin-gc", Key="kept", Body=os.urandom(150_000))
    s3.put_object(Bucket="admin-gc", Key="gone", Body=os.urandom(250_000))
    s3.delete_object(Bucket="admin-gc", Key="gone")

    dry = admin_server.raw("POST", "/_fragstore/gc?dry-run=true")
    assert dry.status == 200 and dry.headers["content-type"] == "application/json"
    planned = json.loads(dry.body)
    assert planned["dry_run"] is True and planned["bytes_freed"] >= 250_000
    assert json.loads(admin_server.raw("POST", "/_fragstore/gc?dry-run=true").body) == planned  # nothing changed

    done = json.loads(admin_server.raw("POST", "/_fragstore/gc").body)
    assert done["dry_run"] is False
    assert done["fragments_freed"] == planned["fragments_freed"] and done["bytes_freed"] == planned["bytes_freed"]
    again = json.loads(admin_server.raw("POST", "/_fragstore/gc").body)
    assert again["fragments_freed"] == 0
    assert len(s3.get_object(Bucket="admin-gc", Key="kept")["Body"].read()) == 150_000


def test_check_and_repair(admin_server: LiveServer) -> None:
    s3 = admin_server.client()
    s3.create_bucket(Bucket="admin-check")
    s3.put_object(Bucket="admin-check", Key="k", Body=os.urandom(100_000))
    report = json.loads(admin_server.raw("POST", "/_fragstore/check").body)
    assert report["ok"] is True and report["repaired"] is False and report["fragments_checked"] > 0
    assert report["corrupt_fragments"] == [] and report["missing_fragments"] == []
    repaired = json.loads(admin_server.raw("POST", "/_fragstore/check?repair=true&verify=false").body)
    assert repaired["ok"] is True and repaired["repaired"] is True


def test_stats_for_root(admin_server: LiveServer) -> None:
    s3 = admin_server.client()
    s3.create_bucket(Bucket="admin-stats")
    s3.put_object(Bucket="admin-stats", Key="k", Body=b"x" * 1000)
    doc = json.loads(admin_server.raw("GET", "/_fragstore/stats").body)
    assert doc["total"]["logical_bytes"] >= 1000
    assert "admin-stats" in {b["name"] for b in doc["buckets"]}
