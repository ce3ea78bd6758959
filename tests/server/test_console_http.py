"""The web console over HTTP against a live server: login, sessions and their
cookie, CSRF, escaping, what a user may see, the upload endpoints, and the
console's answers when a feature is missing (docs/CONSOLE.md)."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.live_server import LiveServer, sign_headers, start_server
from tests.server.consoleclient import ConsoleClient

ALICE = ("ALICE", "alice-secret-1a2b3c4d5e6f")
BOB = ("BOB", "bob-secret-22a3b4c5d6e7f8")


def fresh(name: str = "c") -> str:
    return f"{name}-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def console(live_server: LiveServer) -> ConsoleClient:
    client = ConsoleClient(live_server)
    assert client.login().status == 303
    return client


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = Path(tmp_path_factory.mktemp("console-users"))
    users = root / "users.txt"
    users.write_text(f"{ALICE[0]}:{ALICE[1]}\n{BOB[0]}:{BOB[1]}\n")
    with start_server(root / "data", extra_args=["--users", str(users)]) as server:
        yield server


# -- login and sessions ----------------------------------------------------------------
def test_pages_need_a_login(live_server: LiveServer) -> None:
    client = ConsoleClient(live_server)
    for path in ("/", "/buckets", "/b/any", "/status", "/users"):
        page = client.get(path)
        assert page.status == 303 and page.location == "/_fragstore/console/login", path
    assert client.api("GET", "/api/b/any/uploads?key=k").status == 401


def test_login_sets_a_strict_http_only_cookie(live_server: LiveServer) -> None:
    client = ConsoleClient(live_server)
    page = client.login()
    assert page.status == 303 and page.location == "/_fragstore/console/buckets"
    session = next(c for c in page.headers["set-cookie"] if c.startswith("fragstore_console="))
    flags = {part.strip().split("=")[0].lower() for part in session.split(";")}
    assert {"httponly", "path", "max-age"} <= flags and "samesite=strict" in session.lower()
    assert "secure" not in flags  # plain HTTP here; see test_cookie_is_secure_over_https
    assert "Path=/_fragstore/console/" in session
    assert live_server.secret_key not in json.dumps(page.headers)


def test_wrong_secret_is_refused(live_server: LiveServer) -> None:
    client = ConsoleClient(live_server)
    page = client.login(secret="not-the-secret-at-all-0000")
    assert page.status == 401 and "Wrong access key or secret key" in page.text
    assert "fragstore_console" not in client.cookies
    assert client.get("/buckets").status == 303


def test_login_form_token_is_needed(live_server: LiveServer) -> None:
    """Login CSRF: a form posted from elsewhere (no login cookie) logs nobody in."""
    client = ConsoleClient(live_server)
    page = client.post("/login", {"access_key": live_server.access_key, "secret_key": live_server.secret_key},
                       csrf=False)
    assert page.status == 403 and "fragstore_console" not in client.cookies


def test_session_fixation(live_server: LiveServer) -> None:
    """An id the browser had before logging in is never the session's id."""
    client = ConsoleClient(live_server)
    planted = "attacker-chosen-session-id"
    client.cookies["fragstore_console"] = planted
    assert client.login().status == 303
    assert client.cookies["fragstore_console"] != planted
    intruder = ConsoleClient(live_server, cookies={"fragstore_console": planted})
    assert intruder.get("/buckets").status == 303
    # and a second login replaces the first session's id
    first = client.cookies["fragstore_console"]
    assert client.login().status == 303 and client.cookies["fragstore_console"] != first
    assert ConsoleClient(live_server, cookies={"fragstore_console": first}).get("/buckets").status == 303


def test_logout_ends_the_session(live_server: LiveServer, console: ConsoleClient) -> None:
    session_id = console.cookies["fragstore_console"]
    page = console.post("/logout", {})
    assert page.status == 303 and page.location == "/_fragstore/console/login"
    assert "fragstore_console" not in console.cookies
    replay = ConsoleClient(live_server, cookies={"fragstore_console": session_id})
    assert replay.get("/buckets").status == 303


def test_logout_needs_the_csrf_token(console: ConsoleClient) -> None:
    assert console.post("/logout", {}, csrf=False).status == 403
    assert console.get("/buckets").status == 200


# -- CSRF ------------------------------------------------------------------------------
def test_state_changes_need_the_csrf_token(live_server: LiveServer, console: ConsoleClient, s3: Any) -> None:
    name = fresh()
    missing = console.post("/buckets", {"name": name}, csrf=False)
    assert missing.status == 403 and "InvalidCsrfToken" in missing.text
    wrong = console.post("/buckets", {"name": name, "csrf_token": "x" * 43})
    assert wrong.status == 403
    other = ConsoleClient(live_server)
    other.login()
    assert console.post("/buckets", {"name": name, "csrf_token": other.csrf or ""}).status == 403
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=name)
    api = console.api("POST", f"/api/b/{name}/uploads", json.dumps({"key": "k"}).encode(), csrf=False)
    assert api.status == 403
    assert console.post("/buckets", {"name": name}).status == 303
    s3.head_bucket(Bucket=name)


def test_cross_origin_posts_are_refused(console: ConsoleClient, s3: Any) -> None:
    name = fresh()
    page = console.post("/buckets", {"name": name}, headers={"Origin": "https://evil.example"})
    assert page.status == 403
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=name)


# -- escaping ----------------------------------------------------------------------------
HOSTILE = '<script>alert("key")</script>&"\'<img src=x onerror=alert(1)>'


def test_keys_and_metadata_render_as_text(console: ConsoleClient, s3: Any, bucket: str) -> None:
    key = f"dir/{HOSTILE}.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x", Metadata={"note": "<b onmouseover=alert(2)>hi</b>"},
                  ContentType="text/html")
    listing = console.get(f"/b/{bucket}?prefix=dir/")
    detail = console.get(f"/b/{bucket}/object?key={urllib.request.quote(key)}")
    for page in (listing, detail):
        assert page.status == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(" in page.text
    assert "<b onmouseover" not in detail.text and "&lt;b onmouseover=alert(2)&gt;" in detail.text
    assert re.search(r"<script\b", detail.text.split("</head>", 1)[1]) is None  # no script in the body at all


def test_pages_forbid_inline_scripts_and_framing(console: ConsoleClient) -> None:
    page = console.get("/buckets")
    policy = page.header("content-security-policy") or ""
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert page.header("x-frame-options") == "DENY" and page.header("cache-control") == "no-store"


def test_active_objects_are_sandboxed(live_server: LiveServer, s3: Any, bucket: str) -> None:
    """The console shares the S3 origin: an HTML object must not run as one of its pages."""
    s3.put_object(Bucket=bucket, Key="page.html", Body=b"<script>fetch('/_fragstore/console/')</script>",
                  ContentType="text/html")
    s3.put_object(Bucket=bucket, Key="pic.png", Body=b"\x89PNG", ContentType="image/png")
    for key, sandboxed in (("page.html", True), ("pic.png", False)):
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
        with urllib.request.urlopen(url) as answer:
            assert (answer.headers.get("Content-Security-Policy") == "sandbox") is sandboxed, key
    forced = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pic.png",
                                                             "ResponseContentType": "image/svg+xml"})
    with urllib.request.urlopen(forced) as answer:
        assert answer.headers.get("Content-Security-Policy") == "sandbox"


# -- what a user sees ------------------------------------------------------------------------
def test_a_user_sees_only_what_authorization_allows(multi: LiveServer) -> None:
    alice_s3 = multi.client(aws_access_key_id=ALICE[0], aws_secret_access_key=ALICE[1])
    bob_s3 = multi.client(aws_access_key_id=BOB[0], aws_secret_access_key=BOB[1])
    alice_s3.create_bucket(Bucket="alice-photos")
    alice_s3.put_object(Bucket="alice-photos", Key="private.txt", Body=b"alice only")
    bob_s3.create_bucket(Bucket="bob-notes")
    bob = ConsoleClient(multi)
    assert bob.login(*BOB).status == 303
    buckets = bob.get("/buckets")
    assert "bob-notes" in buckets.text and "alice-photos" not in buckets.text
    for path in ("/b/alice-photos", "/b/alice-photos/settings", "/b/alice-photos/object?key=private.txt",
                 "/b/alice-photos/download?key=private.txt"):
        page = bob.get(path)
        assert page.status == 403 and "AccessDenied" in page.text and "alice only" not in page.text, path
    assert bob.post("/b/alice-photos/delete", {"key": "private.txt"}).status == 303  # refused, said in a flash
    assert "AccessDenied" in bob.get("/buckets").text
    assert bob.post("/buckets/delete", {"name": "alice-photos"}).status == 303
    alice_s3.head_object(Bucket="alice-photos", Key="private.txt")
    assert bob.api("POST", "/api/b/alice-photos/uploads", json.dumps({"key": "planted"}).encode()).status == 403
    assert bob.request("PUT", "/api/b/alice-photos/object?key=planted", body=b"x",
                       headers={"X-CSRF-Token": bob.csrf or "", "Content-Type": "text/plain"}).status == 403
    with pytest.raises(ClientError):
        alice_s3.head_object(Bucket="alice-photos", Key="planted")
    for path in ("/status", "/savings", "/users"):  # the operator's pages: root only, the server says so
        page = bob.get(path)
        assert page.status == 403 and "AccessDenied" in page.text, path
    assert bob.post("/status/gc", {}).status == 303 and "AccessDenied" in bob.get("/buckets").text
    assert "Status</a>" not in buckets.text  # and the navigation does not offer them


def test_root_sees_operator_pages(console: ConsoleClient) -> None:
    status = console.get("/status")
    assert status.status == 200 and 'id="health">ok<' in status.text
    assert console.post("/status/gc", {}).status == 303
    page = console.get("/status")
    assert "GC done" in page.text and "admin" in page.text  # the run, listed with its trigger
    assert console.get("/savings").status == 200
    users = console.get("/users")
    assert users.status == 200 and console.server.access_key in users.text


def test_admin_endpoints_for_signed_clients(live_server: LiveServer) -> None:
    for path in ("/_fragstore/status", "/_fragstore/history", "/_fragstore/users"):
        answer = live_server.raw("GET", path, payload_hash="UNSIGNED-PAYLOAD")
        assert answer.status == 200, (path, answer.body)
        json.loads(answer.body)
    users = json.loads(live_server.raw("GET", "/_fragstore/users", payload_hash="UNSIGNED-PAYLOAD").body)
    assert {"access_key": live_server.access_key, "root": True, "source": "root"}.items() <= next(
        u for u in users["users"] if u["root"]).items()
    assert live_server.secret_key.encode() not in live_server.raw("GET", "/_fragstore/users",
                                                                  payload_hash="UNSIGNED-PAYLOAD").body


def test_admin_endpoints_are_root_only(multi: LiveServer) -> None:
    for path in ("/_fragstore/status", "/_fragstore/history", "/_fragstore/users"):
        headers = sign_headers(multi, "GET", path, {}, "UNSIGNED-PAYLOAD", access_key=ALICE[0], secret_key=ALICE[1])
        answer = multi.raw("GET", path, headers=headers, sign=False)
        assert answer.status == 403 and b"AccessDenied" in answer.body, path


# -- buckets, objects, settings ---------------------------------------------------------------
def test_buckets_page_shows_numbers_and_savings(console: ConsoleClient, s3: Any, bucket: str) -> None:
    body = os.urandom(1 << 20)  # 1 MiB, stored twice: the second copy is all dedup
    s3.put_object(Bucket=bucket, Key="a", Body=body)
    s3.put_object(Bucket=bucket, Key="b", Body=body)
    page = console.get("/buckets")
    row = re.search(rf'<tr>\s*<th scope="row"><a href="[^"]*">{bucket}</a>.*?</tr>', page.text, re.S)
    assert row, page.text
    assert 'data-bytes="2097152"' in row.group(0) and ">2<" in row.group(0)
    assert "1.0 MiB (50.0 %)" in row.group(0)  # saved by deduplication
    assert '<svg class="chart"' in page.text and "saved by deduplication" in page.text


def test_create_and_delete_bucket(console: ConsoleClient, s3: Any) -> None:
    name = fresh()
    assert console.post("/buckets", {"name": name}).location == f"/_fragstore/console/b/{name}"
    s3.head_bucket(Bucket=name)
    assert console.post("/buckets", {"name": "Not_Valid"}).status == 303
    assert "InvalidBucketName" in console.get("/buckets").text
    assert console.post("/buckets/delete", {"name": name}).status == 303
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=name)


def test_browse_search_delete(console: ConsoleClient, s3: Any, bucket: str) -> None:
    for key in ("top.txt", "logs/2026/a.log", "logs/2026/b.log", "logs/readme"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    top = console.get(f"/b/{bucket}")
    assert "logs/" in top.text and "top.txt" in top.text and "a.log" not in top.text
    inside = console.get(f"/b/{bucket}?prefix=logs/")
    assert "2026/" in inside.text and "readme" in inside.text
    found = console.get(f"/b/{bucket}?prefix=logs/2026/&search=b")
    assert "b.log" in found.text and "a.log" not in found.text
    assert console.post(f"/b/{bucket}/delete", {"key": "top.txt"}).status == 303
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="top.txt")


def test_download_is_an_attachment(console: ConsoleClient, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="docs/r\u00e9sum\u00e9 <1>.html", Body=b"<h1>hi</h1>", ContentType="text/html")
    page = console.get(f"/b/{bucket}/download?key=" + urllib.request.quote("docs/r\u00e9sum\u00e9 <1>.html"))
    assert page.status == 200 and page.body == b"<h1>hi</h1>"
    assert (page.header("content-disposition") or "").startswith("attachment; filename*=UTF-8''r%C3%A9sum")
    assert page.header("content-security-policy") == "sandbox" and page.header("x-content-type-options") == "nosniff"


def test_versions_and_restore(console: ConsoleClient, s3: Any, bucket: str) -> None:
    assert console.post(f"/b/{bucket}/versioning", {"state": "Enabled"}).status == 303
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    first = s3.put_object(Bucket=bucket, Key="doc", Body=b"first")["VersionId"]
    s3.put_object(Bucket=bucket, Key="doc", Body=b"second")
    page = console.get(f"/b/{bucket}/object?key=doc")
    assert first in page.text and "noncurrent" in page.text
    assert console.post(f"/b/{bucket}/restore", {"key": "doc", "version_id": first}).status == 303
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"first"
    # deleted: the page still shows the versions, and restoring brings it back
    assert console.post(f"/b/{bucket}/delete", {"key": "doc", "back": "object"}).location.endswith("key=doc")
    page = console.get(f"/b/{bucket}/object?key=doc")
    assert page.status == 200 and "delete marker" in page.text
    assert console.post(f"/b/{bucket}/restore", {"key": "doc", "version_id": first}).status == 303
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"first"


def test_tags_and_presigned_link(console: ConsoleClient, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="share me.txt", Body=b"shared bytes")
    assert console.post(f"/b/{bucket}/tags", {"key": "share me.txt", "tags": "team=ml\nrun = 7\n"}).status == 303
    tags = s3.get_object_tagging(Bucket=bucket, Key="share me.txt")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("run", "7"), ("team", "ml")]
    page = console.post(f"/b/{bucket}/presign", {"key": "share me.txt", "expires": "900"})
    assert page.status == 200
    found = re.search(r'id="presigned-link" readonly value="([^"]+)"', page.text)
    assert found, page.text
    url = found.group(1).replace("&amp;", "&")
    assert "X-Amz-Expires=900" in url and console.server.secret_key not in url
    with urllib.request.urlopen(url) as answer:
        assert answer.read() == b"shared bytes"


def test_lifecycle_rules_from_the_form(console: ConsoleClient, s3: Any, bucket: str) -> None:
    form = {"action": "add", "kind": "keep", "versions": "3", "noncurrent_days": "1", "prefix": "ckpt/"}
    assert console.post(f"/b/{bucket}/lifecycle", form).status == 303
    assert console.post(f"/b/{bucket}/lifecycle", {"action": "add", "kind": "expire", "days": "30"}).status == 303
    assert console.post(f"/b/{bucket}/lifecycle", {"action": "add", "kind": "abort", "abort_days": "2"}).status == 303
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    keep = rules["keep-3-versions-ckpt-"]
    assert keep["Filter"] == {"Prefix": "ckpt/"}
    assert keep["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1, "NewerNoncurrentVersions": 3}
    assert rules["expire-after-30-days"]["Expiration"] == {"Days": 30}
    assert rules["abort-uploads-after-2-days"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    page = console.get(f"/b/{bucket}/settings")
    assert "keep the 3 newest noncurrent versions" in page.text
    assert console.post(f"/b/{bucket}/lifecycle", {"action": "delete", "rule_id": "expire-after-30-days"}).status == 303
    assert len(s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]) == 2
    assert console.post(f"/b/{bucket}/lifecycle", {"action": "add", "kind": "expire", "days": "0"}).status == 303
    assert "Days must be 1 or more" in console.get(f"/b/{bucket}/settings").text


def test_cors_from_the_editor(console: ConsoleClient, s3: Any, bucket: str) -> None:
    xml = ("<CORSConfiguration><CORSRule><AllowedOrigin>https://a.example</AllowedOrigin>"
           "<AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>")
    assert console.post(f"/b/{bucket}/cors", {"action": "save", "xml": xml}).status == 303
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["AllowedOrigins"] == ["https://a.example"]
    assert console.post(f"/b/{bucket}/cors", {"action": "save", "xml": "<CORSConfiguration/>"}).status == 303
    assert "MalformedXML" in console.get(f"/b/{bucket}/settings").text
    assert console.post(f"/b/{bucket}/cors", {"action": "delete"}).status == 303
    with pytest.raises(ClientError):
        s3.get_bucket_cors(Bucket=bucket)


def _settings_flash(console: ConsoleClient, bucket: str) -> str:
    page = console.get(f"/b/{bucket}/settings")
    found = re.search(r'class="flash (?:error|info)" role="(?:alert|status)">([^<]*)', page.text)
    return found.group(1) if found else ""


def test_public_read_of_a_prefix(live_server: LiveServer, console: ConsoleClient, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="public/a.txt", Body=b"for everyone")
    s3.put_object(Bucket=bucket, Key="private/b.txt", Body=b"not for everyone")
    console.post(f"/b/{bucket}/policy", {"action": "public-read", "prefix": "public/"})
    assert "Bucket policy saved" in _settings_flash(console, bucket)
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][-1]["Resource"] == f"arn:aws:s3:::{bucket}/public/*"
    with urllib.request.urlopen(f"{live_server.url}/{bucket}/public/a.txt") as answer:
        assert answer.read() == b"for everyone"
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{live_server.url}/{bucket}/private/b.txt")
    page = console.get(f"/b/{bucket}/settings")
    assert "PublicRead-public/" in page.text


def test_add_rotate_remove_a_user(console: ConsoleClient) -> None:
    key = "CAROL" + uuid.uuid4().hex[:8].upper()
    page = console.post("/users", {"action": "add", "access_key": key})
    secret = page.field("new-secret") or ""
    assert page.status == 200 and len(secret) >= 20
    carol = ConsoleClient(console.server)
    assert carol.login(key, secret).status == 303
    rotated = console.post("/users", {"action": "rotate", "access_key": key})
    assert rotated.field("new-secret") not in (None, secret)
    assert carol.get("/buckets").status == 303  # the old secret's session ended
    assert console.post("/users", {"action": "remove", "access_key": key}).status == 303
    assert f"<code>{key}</code>" not in console.get("/users").text


# -- the upload endpoints -----------------------------------------------------------------------
def test_multipart_upload_and_resume(console: ConsoleClient, s3: Any, bucket: str) -> None:
    part = 5 * 1024 * 1024
    data = bytes(range(256)) * (part // 256) + b"tail" * 1000
    created = console.api("POST", f"/api/b/{bucket}/uploads",
                          json.dumps({"key": "big/file.bin", "content_type": "application/x-test"}).encode())
    assert created.status == 200
    upload = json.loads(created.body)["upload_id"]
    q = f"key=big/file.bin&upload_id={upload}"
    one = console.api("PUT", f"/api/b/{bucket}/part?{q}&part_number=1", data[:part], "application/octet-stream")
    assert one.status == 200
    # the page was closed here; dropping the file again finds the upload and its part
    found = json.loads(console.api("GET", f"/api/b/{bucket}/uploads?key=big/file.bin").body)
    assert [u["upload_id"] for u in found["uploads"]] == [upload]
    parts = json.loads(console.api("GET", f"/api/b/{bucket}/parts?{q}").body)["parts"]
    assert parts == [{"part_number": 1, "size": part, "etag": json.loads(one.body)["etag"]}]
    two = console.api("PUT", f"/api/b/{bucket}/part?{q}&part_number=2", data[part:], "application/octet-stream")
    body = json.dumps({"parts": [{"part_number": 1, "etag": json.loads(one.body)["etag"]},
                                 {"part_number": 2, "etag": json.loads(two.body)["etag"]}]}).encode()
    assert console.api("POST", f"/api/b/{bucket}/complete?{q}", body).status == 200
    got = s3.get_object(Bucket=bucket, Key="big/file.bin")
    assert got["Body"].read() == data and got["ContentType"] == "application/x-test"


def test_single_put_and_abort(console: ConsoleClient, s3: Any, bucket: str) -> None:
    page = console.request("PUT", f"/api/b/{bucket}/object?key=small.txt", body=b"small",
                           headers={"X-CSRF-Token": console.csrf or "", "Content-Type": "text/plain"})
    assert page.status == 200
    assert s3.get_object(Bucket=bucket, Key="small.txt")["ContentType"] == "text/plain"
    upload = json.loads(console.api("POST", f"/api/b/{bucket}/uploads", json.dumps({"key": "gone"}).encode()).body)
    assert console.api("POST", f"/api/b/{bucket}/abort?key=gone&upload_id={upload['upload_id']}").status == 200
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


# -- the first page's weight -------------------------------------------------------------------
def test_first_page_is_small_and_self_contained(live_server: LiveServer) -> None:
    client = ConsoleClient(live_server)
    page = client.get("/login")
    assets = re.findall(r'(?:href|src)="(/_fragstore/console/static/[^"]+)"', page.text)
    assert len(assets) == 3 and not re.search(r'(?:href|src)="(?:https?:)?//', page.text)  # nothing from elsewhere
    total = len(page.body) + sum(len(client.get(a.replace("&amp;", "&")).body) for a in assets)
    assert total < 300_000, total


# -- settings: off, TLS, expiry, rate limit, history ------------------------------------------------
def test_console_off(tmp_path: Path) -> None:
    with start_server(tmp_path / "data", extra_args=["--console", "off"]) as server:
        page = ConsoleClient(server).get("/login")
        assert page.status in (403, 501) and b"<Error>" in page.body and b"<html" not in page.body


def test_cookie_is_secure_over_https(tmp_path: Path) -> None:
    with start_server(tmp_path / "data", tls=True) as server:
        page = ConsoleClient(server).login()
        session = next(c for c in page.headers["set-cookie"] if c.startswith("fragstore_console="))
        assert "; Secure" in session


def test_sessions_expire(tmp_path: Path) -> None:
    with start_server(tmp_path / "data", extra_args=["--console-session-seconds", "1"]) as server:
        client = ConsoleClient(server)
        client.login()
        assert client.get("/buckets").status == 200
        time.sleep(1.2)
        assert client.get("/buckets").status == 303


def test_login_rate_limit(tmp_path: Path) -> None:
    with start_server(tmp_path / "data") as server:
        client = ConsoleClient(server)
        for _ in range(5):
            assert client.login(secret="wrong-secret-0123456789abc").status == 401
        limited = client.login()  # the right secret, too late
        assert limited.status == 429 and int(limited.header("retry-after") or 0) > 0
        assert "fragstore_console" not in client.cookies


def test_savings_history_is_recorded(tmp_path: Path) -> None:
    with start_server(tmp_path / "data", extra_args=["--history-interval", "0.3"]) as server:
        s3 = server.client()
        s3.create_bucket(Bucket="hist")
        s3.put_object(Bucket="hist", Key="a", Body=b"a" * 100_000)
        s3.put_object(Bucket="hist", Key="b", Body=b"a" * 100_000)
        deadline = time.monotonic() + 20
        path = tmp_path / "data" / "stats-history.jsonl"
        while time.monotonic() < deadline:
            lines = path.read_text().splitlines() if path.exists() else []
            if lines and json.loads(lines[-1])["written"] >= 200_000 and \
                    json.loads(lines[-1])["buckets"].get("hist", {}).get("unique") is not None:
                break
            time.sleep(0.2)
        day = json.loads(lines[-1])
        assert len(lines) == 1 and day["logical"] == 200_000 and day["buckets"]["hist"]["logical"] == 200_000
        client = ConsoleClient(server)
        client.login()
        page = client.get("/savings")
        assert page.status == 200 and day["day"] in page.text and "hist" in page.text
