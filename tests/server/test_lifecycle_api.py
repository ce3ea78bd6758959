"""Bucket lifecycle through boto3 and the aws CLI against the real server:
Put/Get/DeleteBucketLifecycleConfiguration, S3's answers to bad
configurations, ``x-amz-expiration``, and the rules carried out by the server
(on ``POST /_fragstore/lifecycle`` and by its background loop) with a
one-second lifecycle day: current objects expired, incomplete uploads
aborted, noncurrent versions expired and their space given back by GC."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dedup import Store
from tests.live_server import LiveServer, start_server
from tests.server.promtext import scrape
from tests.server.test_awscli import AWS, run_aws

SHORT = ["--lifecycle-day-seconds", "1", "--lifecycle-interval", "0", "--gc-interval", "0", "--gc-grace", "0"]
KiB = 1024


@pytest.fixture(scope="module")
def short_day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose lifecycle day is one second; rules run only when asked."""
    with start_server(Path(tmp_path_factory.mktemp("lifecycle")) / "data", extra_args=SHORT) as server:
        yield server


def new_bucket(s3: Any) -> str:
    name = f"lc-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


def put_rules(s3: Any, bucket: str, *rules: dict) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": list(rules)})


def run_rules(server: LiveServer) -> dict[str, int]:
    answer = server.raw("POST", "/_fragstore/lifecycle")
    assert answer.status == 200, answer.body
    return json.loads(answer.body)["actions"]  # type: ignore[no-any-return]


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


# -- the configuration ------------------------------------------------------------------------
def test_configuration_round_trip(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as none:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error(none) == (404, "NoSuchLifecycleConfiguration")
    rules = [
        {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30}},
        {"ID": "tagged", "Status": "Enabled", "Filter": {"Tag": {"Key": "tmp", "Value": "yes"}},
         "Expiration": {"Date": datetime(2099, 11, 10, tzinfo=UTC)}},
        {"ID": "ckpt", "Status": "Enabled",
         "Filter": {"And": {"Prefix": "ckpt/", "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}],
                            "ObjectSizeGreaterThan": 1024, "ObjectSizeLessThan": 10 ** 9}},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 5}},
        {"ID": "sized", "Status": "Disabled", "Filter": {"ObjectSizeLessThan": 100},
         "Expiration": {"Days": 1}},
        {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": ""},
         "Expiration": {"ExpiredObjectDeleteMarker": True},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
        {"ID": "everything", "Status": "Enabled", "Filter": {}, "NoncurrentVersionExpiration": {"NoncurrentDays": 90}},
    ]
    put = s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    assert put["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert got["Rules"] == rules
    assert got["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as gone:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error(gone) == (404, "NoSuchLifecycleConfiguration")
    s3.delete_bucket_lifecycle(Bucket=bucket)  # none to delete: still 204


def test_legacy_prefix_rules_and_generated_ids(s3: Any, bucket: str) -> None:
    rules = [{"Prefix": "a/", "Status": "Enabled", "Expiration": {"Days": 3}},
             {"Prefix": "b/", "Status": "Enabled", "Expiration": {"Days": 3}}]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules},
                                          TransitionDefaultMinimumObjectSize="varies_by_storage_class")
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert [(r["Prefix"], r["Expiration"]) for r in got["Rules"]] == [("a/", {"Days": 3}), ("b/", {"Days": 3})]
    ids = [r["ID"] for r in got["Rules"]]
    assert all(ids) and len(set(ids)) == 2
    assert got["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"


def _rule(**kw: Any) -> dict:
    return {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "p/"}, "Expiration": {"Days": 1}, **kw}


BAD = [
    ("days-zero", [_rule(Expiration={"Days": 0})], "InvalidArgument",
     "'Days' for Expiration action must be a positive integer"),
    ("days-negative", [_rule(Expiration={"Days": -1})], "InvalidArgument", None),
    ("noncurrent-days-zero", [_rule(NoncurrentVersionExpiration={"NoncurrentDays": 0})], "InvalidArgument",
     "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"),
    ("newer-zero", [_rule(NoncurrentVersionExpiration={"NoncurrentDays": 1, "NewerNoncurrentVersions": 0})],
     "InvalidArgument", None),
    ("abort-days-zero", [_rule(AbortIncompleteMultipartUpload={"DaysAfterInitiation": 0})], "InvalidArgument",
     "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer"),
    ("date-not-midnight", [_rule(Expiration={"Date": datetime(2099, 11, 10, 12, tzinfo=UTC)})], "InvalidArgument",
     "'Date' must be at midnight GMT"),
    ("id-too-long", [_rule(ID="i" * 256)], "InvalidArgument", "ID length should not exceed allowed limit of 255"),
    ("same-id", [_rule(), _rule(Filter={"Prefix": "q/"})], "InvalidArgument",
     "Rule ID must be unique. Found same ID for more than one rule"),
    ("bad-status", [_rule(Status="On")], "MalformedXML", None),
    ("days-and-marker", [_rule(Expiration={"Days": 1, "ExpiredObjectDeleteMarker": True})], "MalformedXML", None),
    ("days-and-date", [_rule(Expiration={"Days": 1, "Date": datetime(2099, 1, 1, tzinfo=UTC)})], "MalformedXML", None),
    ("empty-expiration", [_rule(Expiration={})], "MalformedXML", None),
    ("no-noncurrent-days", [_rule(NoncurrentVersionExpiration={"NewerNoncurrentVersions": 3})], "MalformedXML", None),
    ("prefix-and-tag", [_rule(Filter={"Prefix": "p/", "Tag": {"Key": "k", "Value": "v"}})], "MalformedXML", None),
    ("and-of-one", [_rule(Filter={"And": {"Prefix": "p/"}})], "MalformedXML", None),
    ("no-action", [{"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "p/"}}], "InvalidRequest",
     "At least one action needs to be specified in a rule"),
    ("marker-with-tag", [_rule(Filter={"Tag": {"Key": "k", "Value": "v"}},
                               Expiration={"ExpiredObjectDeleteMarker": True})], "InvalidRequest",
     "ExpiredObjectDeleteMarker cannot be specified with Tags."),
    ("abort-with-tag", [_rule(Filter={"And": {"Prefix": "p/", "Tags": [{"Key": "k", "Value": "v"}]}},
                              AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1})], "InvalidRequest",
     "AbortIncompleteMultipartUpload cannot be specified with Tags."),
    ("abort-with-size", [_rule(Filter={"ObjectSizeGreaterThan": 10},
                               AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1})], "InvalidRequest",
     "AbortIncompleteMultipartUpload cannot be specified with Object Size."),
    ("sizes-reversed", [_rule(Filter={"And": {"ObjectSizeGreaterThan": 100, "ObjectSizeLessThan": 100}})],
     "InvalidRequest", "'ObjectSizeLessThan' has to be a value greater than 'ObjectSizeGreaterThan'."),
    ("duplicate-tag-keys", [_rule(Filter={"And": {"Tags": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]}})],
     "InvalidRequest", "Duplicate Tag Keys are not allowed."),
    ("prefix-too-long", [_rule(Filter={"Prefix": "p" * 1025})], "InvalidRequest", "The maximum size of a prefix is 1024"),
    ("filter-and-legacy-prefix", [_rule(), {"ID": "v1", "Status": "Enabled", "Prefix": "x/", "Expiration": {"Days": 1}}],
     "InvalidRequest", "Base level prefix cannot be used in Lifecycle V2, prefixes are only supported in the Filter."),
    ("overlapping-v1", [{"ID": "a", "Status": "Enabled", "Prefix": "a", "Expiration": {"Days": 1}},
                        {"ID": "b", "Status": "Enabled", "Prefix": "ab", "Expiration": {"Days": 2}}],
     "InvalidRequest", "Found overlapping prefixes 'a' and 'ab' for same action type 'Expiration'"),
    ("too-many-rules", [_rule(ID=f"r{i}", Filter={"Prefix": f"{i}/"}) for i in range(1001)], "InvalidRequest", None),
    ("transition", [_rule(Transitions=[{"Days": 30, "StorageClass": "GLACIER"}])], "NotImplemented", None),
    ("noncurrent-transition", [_rule(NoncurrentVersionTransitions=[{"NoncurrentDays": 30, "StorageClass": "GLACIER"}])],
     "NotImplemented", None),
]


@pytest.mark.parametrize(("rules", "code", "message"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_configurations_get_s3s_errors(s3: Any, bucket: str, rules: list[dict], code: str,
                                           message: str | None) -> None:
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    assert error(refused) == (501 if code == "NotImplemented" else 400, code)
    if message is not None:
        assert refused.value.response["Error"]["Message"] == message
    with pytest.raises(ClientError) as none:  # nothing was stored, not even in part
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error(none) == (404, "NoSuchLifecycleConfiguration")


BODY = (b'<LifecycleConfiguration><Rule><ID>r</ID><Filter><Prefix>p/</Prefix></Filter><Status>Enabled</Status>'
        b'<Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>')


def _md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


@pytest.mark.parametrize(("body", "headers", "code"), [
    (BODY, {}, "InvalidRequest"),  # neither Content-MD5 nor a checksum
    (BODY, {"Content-MD5": _md5(b"other")}, "BadDigest"),
    (b"<LifecycleConfiguration><Rule>", None, "MalformedXML"),
    (b"<LifecycleConfiguration/>", None, "MalformedXML"),
    (BODY.replace(b"<Days>1</Days>", b"<Days>one</Days>"), None, "MalformedXML"),
    (BODY.replace(b"<Status>", b"<Colour>red</Colour><Status>"), None, "MalformedXML"),
    (BODY.replace(b"Filter><Prefix>p/</Prefix></Filter", b"Filter/"), None, "PASS"),
    (BODY.replace(b"<Filter><Prefix>p/</Prefix></Filter>", b""), None, "MalformedXML"),
])
def test_raw_bodies(live_server: LiveServer, bucket: str, body: bytes, headers: dict[str, str] | None,
                    code: str) -> None:
    answer = live_server.raw("PUT", f"/{bucket}?lifecycle", body=body,
                             headers={"Content-MD5": _md5(body)} if headers is None else headers)
    if code == "PASS":
        assert answer.status == 200, answer.body
    else:
        assert answer.status == 400 and f"<Code>{code}</Code>".encode() in answer.body, answer.body


# -- x-amz-expiration ---------------------------------------------------------------------------
def _expiry(header: str) -> tuple[datetime, str]:
    date, rule = header.split(", rule-id=")
    assert date.startswith('expiry-date="') and rule.startswith('"') and rule.endswith('"'), header
    return parsedate_to_datetime(date[len('expiry-date="'):-1]), rule.strip('"')


def test_expiration_header_rounds_to_midnight_with_real_days(s3: Any, bucket: str) -> None:
    put_rules(s3, bucket, _rule(ID="one day", Filter={"Prefix": "exp/"}))
    put = s3.put_object(Bucket=bucket, Key="exp/a", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="exp/a")
    when, rule = _expiry(head["Expiration"])
    assert put["Expiration"] == head["Expiration"] and rule == "one%20day"
    assert (when.hour, when.minute, when.second) == (0, 0, 0)
    assert head["LastModified"] + timedelta(days=1) <= when < head["LastModified"] + timedelta(days=2)
    s3.put_object(Bucket=bucket, Key="other", Body=b"x")
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="other")


def test_expiration_header_on_put_get_head_copy_and_complete(short_day: LiveServer) -> None:
    s3 = short_day.client()
    bucket = new_bucket(s3)
    put_rules(s3, bucket, _rule(ID="soon", Filter={"Prefix": "e/"}, Expiration={"Days": 3600}),
              _rule(ID="later", Filter={"Prefix": ""}, Expiration={"Days": 7200}))
    put = s3.put_object(Bucket=bucket, Key="e/a", Body=b"data")
    head = s3.head_object(Bucket=bucket, Key="e/a")
    get = s3.get_object(Bucket=bucket, Key="e/a")
    when, rule = _expiry(head["Expiration"])
    assert rule == "soon" and put["Expiration"] == head["Expiration"] == get["Expiration"]
    assert 3600 <= (when - head["LastModified"]).total_seconds() <= 3601  # a short day is not rounded
    copied = s3.copy_object(Bucket=bucket, Key="z", CopySource={"Bucket": bucket, "Key": "e/a"})
    assert _expiry(copied["Expiration"])[1] == "later"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="e/mp")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="e/mp", UploadId=upload, PartNumber=1, Body=b"part")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="e/mp", UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert _expiry(done["Expiration"])[1] == "soon"
    s3.delete_bucket_lifecycle(Bucket=bucket)
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="e/a")


# -- the rules carried out ----------------------------------------------------------------------
def test_current_objects_expire(short_day: LiveServer) -> None:
    s3 = short_day.client()
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="tmp/a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="keep/a", Body=b"a")
    put_rules(s3, bucket, _rule(Filter={"Prefix": "tmp/"}, Expiration={"Days": 1}))
    time.sleep(1.2)
    assert run_rules(short_day)["Expiration"] == 1
    with pytest.raises(ClientError) as gone:
        s3.head_object(Bucket=bucket, Key="tmp/a")
    assert error(gone)[0] == 404
    assert s3.get_object(Bucket=bucket, Key="keep/a")["Body"].read() == b"a"
    assert run_rules(short_day)["Expiration"] == 0


def test_incomplete_uploads_are_aborted(short_day: LiveServer) -> None:
    s3 = short_day.client()
    bucket = new_bucket(s3)
    stale = s3.create_multipart_upload(Bucket=bucket, Key="tmp/big")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="tmp/big", UploadId=stale, PartNumber=1, Body=os.urandom(10_000))
    kept = s3.create_multipart_upload(Bucket=bucket, Key="keep/big")["UploadId"]
    put_rules(s3, bucket, {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
                           "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}})
    time.sleep(1.2)
    assert run_rules(short_day)["AbortIncompleteMultipartUpload"] == 1
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])] == [kept]
    with pytest.raises(ClientError) as gone:
        s3.upload_part(Bucket=bucket, Key="tmp/big", UploadId=stale, PartNumber=2, Body=b"late")
    assert error(gone) == (404, "NoSuchUpload")


def _versioned(server: LiveServer, bucket: str, args: list[str]) -> LiveServer:
    """``bucket`` with versioning enabled: by PutBucketVersioning where the
    server has it, else set in the engine between a stop and a restart."""
    s3 = server.client()
    s3.create_bucket(Bucket=bucket)
    try:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        return server
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NotImplemented":
            raise
    server.stop()

    async def enable() -> None:
        store = await Store.open(server.data_dir)
        try:
            await store.put_bucket_versioning(bucket, "Enabled")
        finally:
            await store.close()

    asyncio.run(enable())
    return start_server(server.data_dir, extra_args=args)


async def _versions(data: Path, bucket: str, key: str) -> list[tuple[bool, bytes]]:
    store = await Store.open(data)
    try:
        out = []
        for entry in (await store.list_object_versions(bucket)).entries:
            assert entry.key == key
            reader = await store.open_object(bucket, key, version_id=entry.version_id)
            try:
                out.append((entry.delete_marker, b"".join([bytes(c) async for c in reader])))
            finally:
                await reader.aclose()
        return out
    finally:
        await store.close()


def test_noncurrent_versions_expire_and_gc_gives_their_space_back(tmp_path: Path) -> None:
    """The issue's must-show: checkpoints saved over and over in a versioned
    bucket; a rule keeps the newest noncurrent one; GC frees the rest."""
    server = start_server(tmp_path / "data", extra_args=SHORT)
    try:
        server = _versioned(server, "ckpts", SHORT)
        s3 = server.client()
        saves = [os.urandom(300 * KiB) for _ in range(4)]
        for data in saves:
            s3.put_object(Bucket="ckpts", Key="model.ckpt", Body=data)
        put_rules(s3, "ckpts", {"ID": "keep-last", "Status": "Enabled", "Filter": {"Prefix": "model"},
                                "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}})
        stats = json.loads(server.raw("GET", "/_fragstore/stats").body)["total"]
        assert stats["logical_bytes"] == 4 * 300 * KiB
        time.sleep(1.2)  # a lifecycle day
        assert run_rules(server)["NoncurrentVersionExpiration"] == 2
        assert run_rules(server)["NoncurrentVersionExpiration"] == 0
        gc = json.loads(server.raw("POST", "/_fragstore/gc").body)
        assert gc["bytes_freed"] == 2 * 300 * KiB
        stats = json.loads(server.raw("GET", "/_fragstore/stats").body)["total"]
        assert stats["logical_bytes"] == 2 * 300 * KiB and stats["unique_bytes"] == 2 * 300 * KiB
        assert s3.get_object(Bucket="ckpts", Key="model.ckpt")["Body"].read() == saves[3]
        metrics = scrape(server)
        assert metrics.value("fragstore_lifecycle_actions_total", action="NoncurrentVersionExpiration") == 2
        assert metrics.value("fragstore_lifecycle_runs_total", trigger="admin") == 2
        assert "lifecycle NoncurrentVersionExpiration: bucket ckpts key 'model.ckpt'" in server.log()
    finally:
        server.stop()
    assert asyncio.run(_versions(tmp_path / "data", "ckpts", "model.ckpt")) == [(False, saves[3]), (False, saves[2])]


def test_the_background_loop_runs_the_rules(tmp_path: Path) -> None:
    args = ["--lifecycle-day-seconds", "1", "--lifecycle-interval", "0.5"]
    with start_server(tmp_path / "data", extra_args=args) as server:
        s3 = server.client()
        bucket = new_bucket(s3)
        s3.put_object(Bucket=bucket, Key="a", Body=b"a")
        put_rules(s3, bucket, _rule(Filter={}, Expiration={"Days": 1}))
        deadline = time.monotonic() + 30
        while s3.list_objects_v2(Bucket=bucket)["KeyCount"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
        metrics = scrape(server)
        assert metrics.value("fragstore_lifecycle_runs_total", trigger="schedule") >= 1
        assert metrics.value("fragstore_lifecycle_actions_total", action="Expiration") == 1
        assert metrics.value("fragstore_lifecycle_last_run_timestamp_seconds") > 0


@pytest.mark.skipif(not Path(AWS).exists(), reason="aws CLI not installed in the environment")
def test_aws_cli_lifecycle_commands(live_server: LiveServer, bucket: str, tmp_path: Path) -> None:
    config = tmp_path / "lifecycle.json"
    rules = {"Rules": [{"ID": "cli", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
                        "Expiration": {"Days": 30}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]}
    config.write_text(json.dumps(rules))

    def api(*args: str) -> Any:
        out = run_aws(live_server, tmp_path, "s3api", *args, "--bucket", bucket, "--output", "json")
        return json.loads(out) if out.strip() else {}

    api("put-bucket-lifecycle-configuration", "--lifecycle-configuration", f"file://{config}")
    assert api("get-bucket-lifecycle-configuration")["Rules"] == rules["Rules"]
    api("delete-bucket-lifecycle")
    with pytest.raises(AssertionError, match="NoSuchLifecycleConfiguration"):
        api("get-bucket-lifecycle-configuration")
