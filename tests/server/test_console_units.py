"""The console's pure parts: sessions and the login limiter, cookies, savings
by effect, charts, policy checks, forms, routes, headers, the history file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dedup.types import BucketStats, StoreStats
from server.admin.history import MAX_DAYS, read_history, sample, write_history
from server.console import routes
from server.console.charts import Series, line_chart, savings_bars
from server.console.guard import is_active, user_content_headers
from server.console.pages_objects import crumbs, parse_tags
from server.console.pages_settings import new_rule
from server.console.policy import PolicyError, check_policy, with_public_read
from server.console.s3call import Answer, object_path
from server.console.s3read import lifecycle_rules, versions
from server.console.savings import Effect, Savings, bucket_savings, history_savings, store_savings
from server.console.sessions import LoginLimiter, Sessions, check_login_token, cookie_header
from server.console.views import duration, size


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- sessions --------------------------------------------------------------------------------
def test_session_lifecycle() -> None:
    clock = Clock()
    secrets = {"K": "secret-one-0123456789"}
    sessions = Sessions(60, clock)
    sid, session = sessions.create("K", secrets["K"])
    assert sessions.get(sid, secrets.get) is session
    assert sessions.get("guessed", secrets.get) is None and sessions.get(None, secrets.get) is None
    assert session.csrf_ok(session.csrf_token) and not session.csrf_ok(None) and not session.csrf_ok("x")
    assert "secret-one" not in repr(session.__dict__)  # only an HMAC of the secret is kept
    clock.now += 61
    assert sessions.get(sid, secrets.get) is None and len(sessions) == 0


def test_a_new_secret_or_a_removed_key_ends_sessions() -> None:
    secrets = {"K": "secret-one-0123456789"}
    sessions = Sessions(600, Clock())
    sid, _ = sessions.create("K", secrets["K"])
    secrets["K"] = "secret-two-0123456789"
    assert sessions.get(sid, secrets.get) is None
    sid, _ = sessions.create("K", secrets["K"])
    del secrets["K"]
    assert sessions.get(sid, secrets.get) is None


def test_logout_and_ids_are_unique() -> None:
    sessions = Sessions(600, Clock())
    ids = {sessions.create("K", "s" * 20)[0] for _ in range(50)}
    assert len(ids) == 50 and all(len(i) >= 40 for i in ids)
    some = next(iter(ids))
    sessions.delete(some)
    assert sessions.get(some, lambda k: "s" * 20) is None


def test_login_limiter_window() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock, window=300, per_address=20, per_key=5)
    for _ in range(4):
        limiter.failed("1.2.3.4", "K")
    assert limiter.retry_after("1.2.3.4", "K") == 0
    limiter.failed("1.2.3.4", "K")
    assert limiter.retry_after("1.2.3.4", "K") == pytest.approx(300)
    assert limiter.retry_after("5.6.7.8", "K") > 0  # the key is locked from any address
    assert limiter.retry_after("1.2.3.4", "OTHER") == 0  # the address is not, yet
    clock.now += 301
    assert limiter.retry_after("1.2.3.4", "K") == 0


def test_login_limiter_per_address() -> None:
    limiter = LoginLimiter(Clock(), per_address=3, per_key=100)
    for key in ("A", "B", "C"):
        limiter.failed("9.9.9.9", key)
    assert limiter.retry_after("9.9.9.9", "D") > 0


def test_cookie_flags() -> None:
    plain = cookie_header("c", "v", secure=False, max_age=60)
    assert plain == "c=v; Path=/_fragstore/console/; HttpOnly; SameSite=Strict; Max-Age=60"
    assert cookie_header("c", "", secure=True, max_age=0).endswith("Max-Age=0; Secure")


def test_login_token_must_match_the_cookie() -> None:
    assert check_login_token("abc", "abc")
    assert not check_login_token("abc", None) and not check_login_token(None, "abc")
    assert not check_login_token("abc", "abd") and not check_login_token("", "")


# -- savings and charts -------------------------------------------------------------------------
def test_store_savings_by_effect() -> None:
    s = store_savings({"logical_bytes": 1000, "unique_bytes": 400, "stored_bytes": 300})
    assert [(e.name, e.saved) for e in s.effects] == [("dedup", 600), ("compression", 100)]
    assert s.stored == 300 and s.ratio == pytest.approx(1000 / 300)


def test_more_effects_when_the_engine_reports_them() -> None:
    s = store_savings({"logical_bytes": 1000, "saved_by": {"dedup": 500, "delta": 200, "compression": 100}})
    assert [e.label for e in s.effects] == ["Deduplication", "Delta", "Compression"] and s.stored == 200


def test_bucket_savings_estimate_compression() -> None:
    total = {"unique_bytes": 1000, "stored_bytes": 500}
    s = bucket_savings({"name": "b", "logical_bytes": 400, "unique_bytes": 100}, total)
    assert [(e.name, e.saved, e.estimated) for e in s.effects] == [("dedup", 300, False), ("compression", 50, True)]
    unmeasured = bucket_savings({"name": "b", "logical_bytes": 400}, total)
    assert unmeasured.stored is None and unmeasured.ratio is None


def test_history_savings() -> None:
    s = history_savings({"day": "2026-12-07", "logical": 10, "unique": 5, "stored": 4})
    assert s.saved == 6 and s.name == "2026-12-07"


def test_pretty_xml() -> None:
    from server.console.s3read import pretty_xml

    text = pretty_xml(f"<CORSConfiguration {NS}><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule>"
                      "</CORSConfiguration>".encode())
    assert text == ("<CORSConfiguration>\n  <CORSRule>\n    <AllowedMethod>GET</AllowedMethod>\n  </CORSRule>\n"
                    "</CORSConfiguration>\n")


def test_charts_escape_names() -> None:
    row = Savings("<script>x</script>", 100, (Effect("dedup", 50),))
    svg = str(savings_bars([row], 'a "title"'))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and 'role="img"' in svg
    assert savings_bars([], "t") == ""
    lines = str(line_chart(["2026-01-01", "<d>"], [Series("<s>", "#000", [1, 2])], "t"))
    assert "<d>" not in lines and "<s>" not in lines and "polyline" in lines
    assert "circle" in str(line_chart(["d"], [Series("s", "#000", [5])], "t"))


def test_sizes_and_durations() -> None:
    assert size(0) == "0 bytes" and size(20_000_000) == "19.1 MiB" and size(None) == "—"
    assert size(-48) == "-48 bytes"
    assert duration(0.5) == "500 ms" and duration(3600) == "1 h 0 min" and duration(200000) == "2 d 7 h"


# -- policy, forms ----------------------------------------------------------------------------
def test_policy_checks() -> None:
    good = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                                                     "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}
    assert check_policy(json.dumps(good)) == good
    for text, said in (("{", "not JSON"), ("[]", "JSON object"), ("{}", "Statement"),
                       ('{"Statement": [{"Effect": "Maybe"}]}', "Effect"),
                       ('{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:*"}}', "Resource"),
                       ('{"Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}', "Principal")):
        with pytest.raises(PolicyError, match=said):
            check_policy(text)


def test_public_read_statement_merges() -> None:
    first = json.loads(with_public_read(None, "b", "pub/"))
    assert first["Statement"] == [{"Sid": "PublicRead-pub/", "Effect": "Allow", "Principal": "*",
                                   "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/pub/*"}]
    again = json.loads(with_public_read(json.dumps(first), "b", "pub/"))
    assert len(again["Statement"]) == 1
    both = json.loads(with_public_read(json.dumps(first), "b", ""))
    assert [s["Resource"] for s in both["Statement"]] == ["arn:aws:s3:::b/pub/*", "arn:aws:s3:::b/*"]
    check_policy(json.dumps(both))


def test_tags_form() -> None:
    assert parse_tags("a=1\n\n b = two words \nc=") == [("a", "1"), ("b", "two words"), ("c", "")]
    with pytest.raises(ValueError, match="line 2"):
        parse_tags("a=1\nnothing")


def test_lifecycle_form_rules() -> None:
    keep = new_rule({"kind": "keep", "versions": "3", "noncurrent_days": "1", "prefix": "ck/"}, set())
    assert keep == ("Rule", [("ID", "keep-3-versions-ck-"), ("Filter", [("Prefix", "ck/")]), ("Status", "Enabled"),
                             ("NoncurrentVersionExpiration", [("NoncurrentDays", 1), ("NewerNoncurrentVersions", 3)])])
    taken = {"expire-after-5-days", "expire-after-5-days-2"}
    assert new_rule({"kind": "expire", "days": "5"}, taken)[1][0] == ("ID", "expire-after-5-days-3")  # type: ignore[index]
    for bad in ({"kind": "expire", "days": "x"}, {"kind": "abort", "abort_days": "0"}, {"kind": "?"}):
        with pytest.raises(ValueError):
            new_rule(bad, set())


def test_breadcrumbs() -> None:
    assert crumbs("") == [] and crumbs("a/b/") == [("a", "a/"), ("b", "a/b/")]
    assert crumbs("a//") == [("a", "a/"), ("(empty)", "a//")]


# -- routes, paths, headers ---------------------------------------------------------------------
def test_routes() -> None:
    found = routes.match("GET", "/b/my-bucket/object")
    assert found is not None and found[0].handler.__name__ == "object_page" and found[1] == {"bucket": "my-bucket"}
    assert routes.match("HEAD", "/buckets") is not None
    assert routes.match("DELETE", "/buckets") is None and routes.match("GET", "/b/x/y/z") is None
    assert routes.match("GET", "/static/../web.py") is None
    public = {r.pattern.pattern for r in routes.ROUTES if not r.login}
    assert public == {r"/login\Z", r"/static/(?P<name>[^/]+)\Z"}


def test_object_paths() -> None:
    assert object_path("b", "a b/c?d#e%") == "/b/a%20b/c%3Fd%23e%25"
    assert object_path(None) == "/" and object_path("b") == "/b"


def test_active_content_is_sandboxed() -> None:
    for kind in ("text/html; charset=utf-8", "image/svg+xml", "application/xhtml+xml", "text/xml",
                 "application/rss+xml"):
        assert is_active(kind), kind
        assert user_content_headers("GetObject", kind)["Content-Security-Policy"] == "sandbox"
    for kind in ("image/png", "application/pdf", "text/plain", None, ""):
        assert not is_active(kind) and user_content_headers("GetObject", kind) == {}
    assert user_content_headers("ListObjectsV2", "application/xml") == {}


# -- answers read back --------------------------------------------------------------------------
NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def test_versions_of_one_key_only() -> None:
    body = (f"<ListVersionsResult {NS}><IsTruncated>false</IsTruncated>"
            "<Version><Key>a</Key><VersionId>v2</VersionId><IsLatest>true</IsLatest>"
            "<LastModified>2026-01-02T00:00:00.000Z</LastModified><ETag>\"e\"</ETag><Size>3</Size></Version>"
            "<DeleteMarker><Key>a</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest>"
            "<LastModified>2026-01-01T00:00:00.000Z</LastModified></DeleteMarker>"
            "<Version><Key>ab</Key><VersionId>v9</VersionId><IsLatest>true</IsLatest><Size>1</Size></Version>"
            "</ListVersionsResult>").encode()
    found, more = versions(Answer(200, {}, body), "a")
    assert [(v.version_id, v.is_latest, v.delete_marker, v.size) for v in found] == [
        ("v2", True, False, 3), ("v1", False, True, 0)]
    assert not more and found[0].etag == "e" and found[0].last_modified == 1767312000.0


def test_lifecycle_rules_in_words() -> None:
    body = (f"<LifecycleConfiguration {NS}><Rule><ID>r</ID><Filter><Prefix>logs/</Prefix></Filter>"
            "<Status>Enabled</Status><Expiration><Days>30</Days></Expiration>"
            "<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>"
            "<NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration>"
            "<AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation>"
            "</AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>").encode()
    (rule,) = lifecycle_rules(Answer(200, {}, body))
    assert rule.rule_id == "r" and rule.status == "Enabled" and "logs/" in rule.scope
    assert rule.actions == ["expire current versions after 30 days",
                            "keep the 2 newest noncurrent versions; remove older ones 1 day after they became "
                            "noncurrent", "abort unfinished uploads after 7 days"]


# -- the savings history file --------------------------------------------------------------------
def _stats(logical: int, unique: int | None = None) -> StoreStats:
    return StoreStats(objects=1, logical_bytes=logical, fragments=1, unique_bytes=logical // 2,
                      stored_bytes=logical // 3, pack_bytes=10, index_bytes=5,
                      packs=1, buckets=(BucketStats("b", 1, logical, unique),))


def test_history_sample_carries_unique_bytes_within_a_day() -> None:
    first = sample(_stats(100, 40), at=86400.0, written=7, exact=True)
    assert first == {"day": "1970-01-02", "at": 86400.0, "objects": 1, "logical": 100, "unique": 50, "stored": 33,
                     "disk": 15, "written": 7, "saved_by": {"dedup": 50, "delta": 0, "compression": 17},
                     "buckets": {"b": {"objects": 1, "logical": 100, "unique": 40}}}
    later = sample(_stats(200), at=90000.0, written=9, exact=False, earlier=first)
    assert later["buckets"]["b"] == {"objects": 1, "logical": 200, "unique": 40}


def test_history_file_is_bounded_and_tolerant(tmp_path: Path) -> None:
    days = [{"day": f"d{i:04}", "logical": i} for i in range(MAX_DAYS + 30)]
    write_history(tmp_path, days)
    kept = read_history(tmp_path)
    assert len(kept) == MAX_DAYS and kept[0]["day"] == "d0030" and kept[-1]["day"] == f"d{MAX_DAYS + 29:04}"
    with (tmp_path / "stats-history.jsonl").open("a") as f:
        f.write("{torn line\n[1]\n")
    assert len(read_history(tmp_path)) == MAX_DAYS
    assert read_history(tmp_path / "nowhere") == []


def test_browser_requirements_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.server import browser

    monkeypatch.setattr(browser, "CHROMIUM", "/nonexistent/chromium")
    why = browser.missing()
    assert why is not None and "/nonexistent/chromium" in why and "browser-deps" in why


def test_a_days_line_carries_the_split_by_effect() -> None:
    s = history_savings({"day": "2026-12-08", "logical": 100, "unique": 50, "stored": 30,
                         "saved_by": {"dedup": 50, "delta": 15, "compression": 5}})
    assert [(e.name, e.saved) for e in s.effects] == [("dedup", 50), ("delta", 15), ("compression", 5)]
    assert s.stored == 30
