"""POST Object against the live server: forms as a browser sends them, signed
with SigV4 (boto3's generate_presigned_post) or SigV2 (by hand, and boto3's
default), every policy rule broken once (an S3 error, nothing stored), the
success actions, and a large upload with the server's memory measured."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import boto3
import pytest
from botocore.config import Config

from dedup.store import Store
from tests.live_server import ACCESS_KEY, REGION, LiveServer, start_server
from tests.server.postform import error_code, form_body, post, sigv2_fields

MiB = 1 << 20


def presigned_fields(s3: Any, bucket: str, key: str, fields: dict[str, str] | None = None,
                     conditions: list[object] | None = None, expires: int = 300) -> list[tuple[str, str]]:
    post_ = s3.generate_presigned_post(bucket, key, Fields=fields or {}, Conditions=conditions or [], ExpiresIn=expires)
    return list(post_["fields"].items())


def stored(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_sigv4_form_from_boto3(live_server: LiveServer, s3: Any, bucket: str) -> None:
    fields = presigned_fields(
        s3, bucket, "uploads/${filename}",
        {"Content-Type": "image/png", "x-amz-meta-owner": "me", "Cache-Control": "max-age=60", "success_action_status": "201"},
        [{"Content-Type": "image/png"}, {"x-amz-meta-owner": "me"}, {"Cache-Control": "max-age=60"},
         {"success_action_status": "201"}, ["content-length-range", 1, 1 * MiB]])
    data = random.Random(1).randbytes(300_000)
    answer = post(live_server, f"/{bucket}", form_body(fields, data, filename="C:\\My Pictures\\photo é.png",
                                                       file_type="image/png", after=[("submit", "Upload")]))
    assert answer.status == 201, answer.body
    etag = f'"{hashlib.md5(data).hexdigest()}"'
    xml = ElementTree.fromstring(answer.body)
    assert xml.tag == "PostResponse"
    assert [xml.findtext(t) for t in ("Bucket", "Key", "ETag")] == [bucket, "uploads/photo é.png", etag]
    assert answer.headers["etag"] == etag and xml.findtext("Location") == answer.headers["location"]
    assert answer.headers["location"] == f"{live_server.url}/{bucket}/uploads/photo%20%C3%A9.png"
    got = s3.get_object(Bucket=bucket, Key="uploads/photo é.png")
    assert got["Body"].read() == data and got["ETag"] == etag
    assert (got["ContentType"], got["Metadata"], got["CacheControl"]) == ("image/png", {"owner": "me"}, "max-age=60")


def test_sigv2_form_by_hand(live_server: LiveServer, s3: Any, bucket: str) -> None:
    conditions = [{"bucket": bucket}, ["starts-with", "$key", "v2/"], ["starts-with", "$Content-Type", "text/"],
                  ["starts-with", "$x-amz-meta-tag", ""], ["content-length-range", 0, 100]]
    fields = [("key", "v2/${filename}"), ("Content-Type", "text/plain"), ("x-amz-meta-tag", "hand made"),
              *sigv2_fields(live_server.access_key, live_server.secret_key, conditions)]
    answer = post(live_server, f"/{bucket}", form_body(fields, b"signed by hand", filename="note.txt"))
    assert answer.status == 204 and answer.body == b"" and "x-amz-version-id" not in answer.headers
    got = s3.get_object(Bucket=bucket, Key="v2/note.txt")
    assert (got["Body"].read(), got["ContentType"], got["Metadata"]) == (b"signed by hand", "text/plain", {"tag": "hand made"})


def test_boto3_default_presigned_post_is_sigv2(live_server: LiveServer, s3: Any, bucket: str) -> None:
    default = boto3.session.Session().client(
        "s3", endpoint_url=live_server.url, region_name=REGION, aws_access_key_id=live_server.access_key,
        aws_secret_access_key=live_server.secret_key, config=Config(s3={"addressing_style": "path"}))
    fields = presigned_fields(default, bucket, "default/key", {"success_action_status": "200"},
                              [{"success_action_status": "200"}])
    assert {"AWSAccessKeyId", "signature", "policy"} <= {n for n, _ in fields}
    answer = post(live_server, f"/{bucket}", form_body(fields, b"default signer"))
    assert (answer.status, answer.body) == (200, b"")
    assert s3.get_object(Bucket=bucket, Key="default/key")["Body"].read() == b"default signer"


def test_success_action_redirect(live_server: LiveServer, s3: Any, bucket: str) -> None:
    target = "https://app.example/done?from=form"
    fields = presigned_fields(s3, bucket, "r/${filename}", {"success_action_redirect": target},
                              [["starts-with", "$success_action_redirect", "https://app.example/"]])
    answer = post(live_server, f"/{bucket}", form_body(fields, b"redirected", filename="a b+c.txt"))
    assert answer.status == 303
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://app.example/done"
    assert parse_qs(location.query) == {"from": ["form"], "bucket": [bucket], "key": ["r/a b+c.txt"],
                                        "etag": [f'"{hashlib.md5(b"redirected").hexdigest()}"']}
    uninterpretable = presigned_fields(s3, bucket, "r2", {"success_action_redirect": "not a url", "success_action_status": "201"},
                                       [{"success_action_redirect": "not a url"}, {"success_action_status": "201"}])
    assert post(live_server, f"/{bucket}", form_body(uninterpretable, b"x")).status == 201


def test_form_values_as_headers(live_server: LiveServer, s3: Any, bucket: str) -> None:
    """Form text is UTF-8: metadata comes back as its UTF-8 bytes, as after a PUT of
    raw UTF-8 headers; a value no header can carry is refused; a redirect URL no
    Location header can carry is ignored."""
    fields = presigned_fields(s3, bucket, "meta", {"x-amz-meta-city": "Zürich 日本", "success_action_redirect": "https://x.example/a\r\nb"},
                              [{"x-amz-meta-city": "Zürich 日本"}, {"success_action_redirect": "https://x.example/a\r\nb"}])
    assert post(live_server, f"/{bucket}", form_body(fields, b"m")).status == 204
    raw = live_server.raw("HEAD", f"/{bucket}/meta")
    assert raw.headers["x-amz-meta-city"].encode("latin-1").decode("utf-8") == "Zürich 日本"
    injected = presigned_fields(s3, bucket, "bad", {"x-amz-meta-a": "x\r\nSet-Cookie: y"}, [{"x-amz-meta-a": "x\r\nSet-Cookie: y"}])
    answer = post(live_server, f"/{bucket}", form_body(injected, b"m"))
    assert (answer.status, error_code(answer)) == (400, "InvalidArgument")
    assert stored(s3, bucket) == ["meta"]


@pytest.mark.parametrize(("status", "expected"), [("200", 200), ("201", 201), ("204", 204), ("299", 204), ("", 204)])
def test_success_action_status(live_server: LiveServer, s3: Any, bucket: str, status: str, expected: int) -> None:
    fields = presigned_fields(s3, bucket, "s", {"success_action_status": status}, [{"success_action_status": status}])
    assert post(live_server, f"/{bucket}", form_body(fields, b"s")).status == expected


def test_versioned_bucket_answers_version_ids(tmp_path: Path) -> None:
    """x-amz-version-id on a versioned bucket (versioning set through the engine:
    the S3 versioning API is not served yet)."""
    async def prepare() -> None:
        store = await Store.open(tmp_path / "data")
        try:
            await store.create_bucket("versioned", ACCESS_KEY, "Enabled")
        finally:
            await store.close()

    asyncio.run(prepare())
    with start_server(tmp_path / "data") as server:
        s3 = server.client()
        answers = [post(server, "/versioned", form_body(presigned_fields(s3, "versioned", "v"), data))
                   for data in (b"one", b"two")]
        ids = [a.headers.get("x-amz-version-id") for a in answers]
        assert all(a.status == 204 for a in answers) and None not in ids and "null" not in ids and ids[0] != ids[1]


# -- refused: an S3 error, nothing stored ----------------------------------------------

Case = Callable[[LiveServer, Any, str], tuple[list[tuple[str, str]], dict[str, Any]]]


def sigv4(s3: Any, bucket: str, *, key: str = "ok/key", fields: dict[str, str] | None = None,
          conditions: list[object] | None = None, expires: int = 300) -> list[tuple[str, str]]:
    return presigned_fields(s3, bucket, key, fields, [["content-length-range", 5, 50], *(conditions or [])], expires)


def with_field(fields: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    return [(n, value if n == name else v) for n, v in fields]


CASES: dict[str, tuple[Case, int, str]] = {
    "key-prefix": (lambda srv, s3, b: (with_field(sigv4(s3, b, key="ok/${filename}"), "key", "elsewhere/${filename}"), {}), 403, "AccessDenied"),
    "too-large": (lambda srv, s3, b: (sigv4(s3, b), {"file": b"x" * 51}), 400, "EntityTooLarge"),
    "too-small": (lambda srv, s3, b: (sigv4(s3, b), {"file": b"x" * 4}), 400, "EntityTooSmall"),
    "content-type": (lambda srv, s3, b: (with_field(sigv4(s3, b, fields={"Content-Type": "image/png"}, conditions=[{"Content-Type": "image/png"}]), "Content-Type", "text/html"), {}), 403, "AccessDenied"),
    "expired": (lambda srv, s3, b: (sigv4(s3, b, expires=-5), {}), 403, "AccessDenied"),
    "extra-field": (lambda srv, s3, b: ([*sigv4(s3, b), ("x-amz-meta-sneaky", "1")], {}), 403, "AccessDenied"),
    "missing-file": (lambda srv, s3, b: (sigv4(s3, b), {"file": None}), 400, "IncorrectNumberOfFilesInPostRequest"),
    "file-not-last-key-after": (lambda srv, s3, b: ([f for f in sigv4(s3, b) if f[0] != "key"], {"after": [("key", "ok/key")]}), 400, "InvalidArgument"),
    "file-not-last-policy-after": (lambda srv, s3, b: ([f for f in sigv4(s3, b) if f[0] != "policy"], {"after": [("policy", dict(sigv4(s3, b))["policy"])]}), 403, "AccessDenied"),
    "bad-signature-v4": (lambda srv, s3, b: (with_field(sigv4(s3, b), "x-amz-signature", "0" * 64), {}), 403, "SignatureDoesNotMatch"),
    "bad-signature-v2": (lambda srv, s3, b: ([("key", "ok/key"), *sigv2_fields(srv.access_key, "wrong-secret", [{"bucket": b}, {"key": "ok/key"}])], {}), 403, "SignatureDoesNotMatch"),
    "unknown-key-v2": (lambda srv, s3, b: ([("key", "ok/key"), *sigv2_fields("NOSUCHKEY9", "s", [{"bucket": b}, {"key": "ok/key"}])], {}), 403, "InvalidAccessKeyId"),
    "anonymous": (lambda srv, s3, b: ([("key", "ok/key")], {}), 403, "AccessDenied"),
    "no-bucket-condition": (lambda srv, s3, b: ([("key", "ok/key"), *sigv2_fields(srv.access_key, srv.secret_key, [{"key": "ok/key"}])], {}), 403, "AccessDenied"),
    "invalid-policy": (lambda srv, s3, b: ([("key", "ok/key"), *sigv2_fields(srv.access_key, srv.secret_key, [], raw_policy=b'{"conditions": []}')], {}), 400, "InvalidPolicyDocument"),
    "content-md5-wrong": (lambda srv, s3, b: (sigv4(s3, b, fields={"Content-MD5": base64.b64encode(hashlib.md5(b"other").digest()).decode()}, conditions=[["starts-with", "$Content-MD5", ""]]), {}), 400, "BadDigest"),
    "acl-public-read": (lambda srv, s3, b: (sigv4(s3, b, fields={"acl": "public-read"}, conditions=[{"acl": "public-read"}]), {}), 400, "AccessControlListNotSupported"),
    "acl-invalid": (lambda srv, s3, b: (sigv4(s3, b, fields={"acl": "everyone"}, conditions=[{"acl": "everyone"}]), {}), 400, "InvalidArgument"),
    "key-too-long": (lambda srv, s3, b: (sigv4(s3, b, key="k" * 1025), {}), 400, "KeyTooLongError"),
    "empty-key": (lambda srv, s3, b: (sigv4(s3, b, key="${filename}"), {"filename": ""}), 400, "InvalidArgument"),
    "huge-fields-before-file": (lambda srv, s3, b: ([("x-ignore-pad", "p" * 30_000), *sigv4(s3, b)], {}), 400, "MaxPostPreDataLengthExceededError"),
    "no-such-bucket": (lambda srv, s3, b: (sigv4(s3, b + "-none"), {"path": f"/{b}-none"}), 404, "NoSuchBucket"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_refused(live_server: LiveServer, s3: Any, bucket: str, name: str) -> None:
    make, status, code = CASES[name]
    fields, options = make(live_server, s3, bucket)
    body = form_body(fields, options.get("file", b"1234567890"), after=options.get("after", ()),
                     filename=options.get("filename", "upload.bin"))
    answer = post(live_server, options.get("path", f"/{bucket}"), body)
    assert (answer.status, error_code(answer)) == (status, code), answer.body
    assert answer.headers.get("x-amz-request-id")
    assert stored(s3, bucket) == []
    assert live_server.raw("GET", "/_fragstore/health", sign=False).status == 200


@pytest.mark.parametrize(
    ("content_type", "raw_body"),
    [
        ("text/plain", b"key=k"),
        ("application/x-www-form-urlencoded", b"key=k&file=x"),
        ("multipart/form-data; boundary=abc", b"--abc\r\nContent-Disposition: form-data\r\n\r\nx\r\n--abc--\r\n"),
        ("multipart/form-data; boundary=abc", b"--abc\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk"),
        ("multipart/form-data; boundary=abc", b"garbage without a delimiter"),
    ],
)
def test_malformed_bodies(live_server: LiveServer, s3: Any, bucket: str, content_type: str, raw_body: bytes) -> None:
    answer = live_server.raw("POST", f"/{bucket}", headers={"Content-Type": content_type}, body=raw_body, sign=False)
    assert (answer.status, error_code(answer)) == (400, "MalformedPOSTRequest")
    assert stored(s3, bucket) == []


def test_truncated_file_stores_nothing(live_server: LiveServer, s3: Any, bucket: str) -> None:
    """The body ends inside the file (no closing delimiter): nothing is published."""
    body = form_body(sigv4(s3, bucket), b"0123456789")
    whole = b"".join(body.chunks())
    answer = live_server.raw("POST", f"/{bucket}", headers={"Content-Type": body.content_type},
                             body=whole[: len(whole) - len(body.tail) + 4], sign=False)
    assert (answer.status, error_code(answer)) == (400, "MalformedPOSTRequest")
    assert stored(s3, bucket) == []


# -- a large upload, the server's memory measured -----------------------------------------


def peak_rss(pid: int) -> int:
    """The process's peak resident set (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def pseudo_random(size: int, md5: Any) -> Iterator[bytes]:
    """``size`` bytes of incompressible data in 1 MiB pieces, hashed into ``md5`` as they go."""
    rng = random.Random(size)
    for start in range(0, size, MiB):
        piece = rng.randbytes(min(MiB, size - start))
        md5.update(piece)
        yield piece


def large_upload(tmp_path: Path, size: int) -> None:
    with start_server(tmp_path / "data") as server:
        s3 = server.client()
        s3.create_bucket(Bucket="large")
        small = presigned_fields(s3, "large", "warm-up")
        assert post(server, "/large", form_body(small, b"warm up" * 1000)).status == 204
        before = peak_rss(server.process.pid)
        fields = presigned_fields(s3, "large", "big/${filename}", conditions=[["content-length-range", size, size]])
        md5 = hashlib.md5()
        answer = post(server, "/large", form_body(fields, pseudo_random(size, md5), file_size=size, filename="big.bin"))
        assert answer.status == 204, answer.body
        peak = peak_rss(server.process.pid)
        assert answer.headers["etag"] == f'"{md5.hexdigest()}"'
        got = hashlib.md5()
        body = s3.get_object(Bucket="large", Key="big/big.bin")["Body"]
        for piece in iter(lambda: body.read(MiB), b""):
            got.update(piece)
        assert got.hexdigest() == md5.hexdigest()
        print(f"POST of {size >> 20} MiB: server peak RSS {before >> 20} -> {peak >> 20} MiB", file=sys.stderr)
        assert peak - before < 96 * MiB, (before, peak)
        assert peak < size // 2 or size < 512 * MiB


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_large_upload_memory_is_bounded(tmp_path: Path) -> None:
    large_upload(tmp_path, 256 * MiB)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_1gib_upload_memory_is_bounded(tmp_path: Path) -> None:
    large_upload(tmp_path, 1024 * MiB)
