"""Who may do what: another user's bucket is AccessDenied for every operation
(listing, copies out of it and presigned URLs included), anonymous requests
are refused, keys never become file paths, secrets never reach the log, and
signatures are compared in constant time."""

from __future__ import annotations

import ast
import inspect
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from server.auth import sigv4_canonical
from tests.live_server import LiveServer, start_server
from tests.robustness.rawhttp import exchange, head_bytes

ALICE, ALICE_SECRET = "ALICE", "alice-secret-4f1c9a7e"
BOB, BOB_SECRET = "BOB", "bob-secret-7d2e0b5c1f3a"
ROOT_SECRET = "root-secret-0a9b8c7d6e"
A, B = "alice-private", "bob-own"
SECRET_BYTES = b"only alice may read this"
SERVER_DIR = Path(__file__).resolve().parents[2] / "server"


@dataclass
class Users:
    server: LiveServer
    alice: Any
    bob: Any
    alice_upload: str
    bob_upload: str


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Users]:
    root = tmp_path_factory.mktemp("access")
    users_file = root / "users.txt"
    users_file.write_text(f"{ALICE}:{ALICE_SECRET}\n{BOB}:{BOB_SECRET}\n")
    env = {"FRAGSTORE_SECRET_KEY": ROOT_SECRET}
    with start_server(root / "data", env=env, extra_args=["--users", str(users_file), "--log-level", "debug"]) as server:
        alice = server.client(aws_access_key_id=ALICE, aws_secret_access_key=ALICE_SECRET)
        bob = server.client(aws_access_key_id=BOB, aws_secret_access_key=BOB_SECRET)
        alice.create_bucket(Bucket=A)
        alice.put_object(Bucket=A, Key="secret", Body=SECRET_BYTES)
        upload = alice.create_multipart_upload(Bucket=A, Key="uploading")["UploadId"]
        alice.upload_part(Bucket=A, Key="uploading", UploadId=upload, PartNumber=1, Body=b"part one")
        bob.create_bucket(Bucket=B)
        bob.put_object(Bucket=B, Key="bobs", Body=b"bob's bytes")
        bob_upload = bob.create_multipart_upload(Bucket=B, Key="assembled")["UploadId"]
        yield Users(server, alice, bob, upload, bob_upload)


def bob_tries(u: Users) -> dict[str, Callable[[], Any]]:
    bob, parts = u.bob, {"Parts": [{"PartNumber": 1, "ETag": '"x"'}]}
    return {
        "ListObjects": lambda: bob.list_objects(Bucket=A),
        "ListObjectsV2": lambda: bob.list_objects_v2(Bucket=A),
        "HeadBucket": lambda: bob.head_bucket(Bucket=A),
        "GetBucketLocation": lambda: bob.get_bucket_location(Bucket=A),
        "DeleteBucket": lambda: bob.delete_bucket(Bucket=A),
        "PutObject": lambda: bob.put_object(Bucket=A, Key="planted", Body=b"x"),
        "GetObject": lambda: bob.get_object(Bucket=A, Key="secret"),
        "GetObject-range": lambda: bob.get_object(Bucket=A, Key="secret", Range="bytes=0-3"),
        "GetObject-missing-key": lambda: bob.get_object(Bucket=A, Key="no-such-key"),
        "HeadObject": lambda: bob.head_object(Bucket=A, Key="secret"),
        "DeleteObject": lambda: bob.delete_object(Bucket=A, Key="secret"),
        "DeleteObjects": lambda: bob.delete_objects(Bucket=A, Delete={"Objects": [{"Key": "secret"}]}),
        "CopyObject-into": lambda: bob.copy_object(Bucket=A, Key="planted", CopySource={"Bucket": B, "Key": "bobs"}),
        "CopyObject-out-of": lambda: bob.copy_object(Bucket=B, Key="stolen", CopySource={"Bucket": A, "Key": "secret"}),
        "UploadPartCopy-out-of": lambda: bob.upload_part_copy(
            Bucket=B, Key="assembled", UploadId=u.bob_upload, PartNumber=1, CopySource={"Bucket": A, "Key": "secret"}),
        "CreateMultipartUpload": lambda: bob.create_multipart_upload(Bucket=A, Key="planted"),
        "UploadPart": lambda: bob.upload_part(Bucket=A, Key="uploading", UploadId=u.alice_upload, PartNumber=2, Body=b"x"),
        "ListParts": lambda: bob.list_parts(Bucket=A, Key="uploading", UploadId=u.alice_upload),
        "CompleteMultipartUpload": lambda: bob.complete_multipart_upload(
            Bucket=A, Key="uploading", UploadId=u.alice_upload, MultipartUpload=parts),
        "AbortMultipartUpload": lambda: bob.abort_multipart_upload(Bucket=A, Key="uploading", UploadId=u.alice_upload),
        "ListMultipartUploads": lambda: bob.list_multipart_uploads(Bucket=A),
    }


def assert_alice_untouched(u: Users) -> None:
    assert [o["Key"] for o in u.alice.list_objects_v2(Bucket=A)["Contents"]] == ["secret"]
    assert u.alice.get_object(Bucket=A, Key="secret")["Body"].read() == SECRET_BYTES
    parts = u.alice.list_parts(Bucket=A, Key="uploading", UploadId=u.alice_upload)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1]
    assert [o["Key"] for o in u.bob.list_objects_v2(Bucket=B)["Contents"]] == ["bobs"]
    assert u.bob.list_parts(Bucket=B, Key="assembled", UploadId=u.bob_upload).get("Parts", []) == []


OPERATIONS = [
    "ListObjects", "ListObjectsV2", "HeadBucket", "GetBucketLocation", "DeleteBucket", "PutObject", "GetObject",
    "GetObject-range", "GetObject-missing-key", "HeadObject", "DeleteObject", "DeleteObjects", "CopyObject-into",
    "CopyObject-out-of", "UploadPartCopy-out-of", "CreateMultipartUpload", "UploadPart", "ListParts",
    "CompleteMultipartUpload", "AbortMultipartUpload", "ListMultipartUploads",
]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_other_users_bucket_is_denied(users: Users, operation: str) -> None:
    with pytest.raises(ClientError) as denied:
        bob_tries(users)[operation]()
    error = denied.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] in ("AccessDenied", "403")  # HEAD answers carry no body
    assert_alice_untouched(users)


def test_every_operation_is_covered(users: Users) -> None:
    assert sorted(OPERATIONS) == sorted(bob_tries(users))


def test_listings_show_only_ones_own(users: Users) -> None:
    assert [b["Name"] for b in users.bob.list_buckets()["Buckets"]] == [B]
    with pytest.raises(ClientError) as taken:
        users.bob.create_bucket(Bucket=A)
    assert taken.value.response["Error"]["Code"] == "BucketAlreadyExists"
    stats = users.server.raw("GET", "/_fragstore/stats", access_key=BOB, secret_key=BOB_SECRET)
    assert stats.status == 200 and A.encode() not in stats.body
    for admin in ("/_fragstore/gc", "/_fragstore/check"):
        answer = users.server.raw("POST", admin, access_key=BOB, secret_key=BOB_SECRET)
        assert answer.status == 403 and b"<Code>AccessDenied</Code>" in answer.body


def fetch(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as failed:
        return failed.code, failed.read()


def test_presigned_urls_stay_with_their_signer(users: Users) -> None:
    own = users.alice.generate_presigned_url("get_object", Params={"Bucket": A, "Key": "secret"}, ExpiresIn=600)
    assert fetch(own) == (200, SECRET_BYTES)
    foreign = users.bob.generate_presigned_url("get_object", Params={"Bucket": A, "Key": "secret"}, ExpiresIn=600)
    status, body = fetch(foreign)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and SECRET_BYTES not in body
    listing = users.bob.generate_presigned_url("list_objects_v2", Params={"Bucket": A}, ExpiresIn=600)
    status, body = fetch(listing)
    assert status == 403 and b"secret" not in body
    put = users.bob.generate_presigned_url("put_object", Params={"Bucket": A, "Key": "planted"}, ExpiresIn=600)
    assert fetch(put, "PUT", b"planted")[0] == 403
    assert_alice_untouched(users)


@pytest.mark.parametrize("method, target", [
    ("GET", "/"), ("GET", f"/{A}"), ("GET", f"/{A}?list-type=2"), ("GET", f"/{A}/secret"), ("HEAD", f"/{A}/secret"),
    ("PUT", f"/{A}/planted"), ("DELETE", f"/{A}/secret"), ("POST", f"/{A}?delete"), ("PUT", "/anonymous-bucket"),
    ("DELETE", f"/{A}"), ("POST", f"/{A}/x?uploads"), ("GET", f"/{A}?uploads"),
    ("GET", "/_fragstore/stats"), ("POST", "/_fragstore/gc"), ("POST", "/_fragstore/check"),
])
def test_anonymous_requests_are_refused(users: Users, method: str, target: str) -> None:
    server = users.server
    answer = exchange(server, head_bytes(method, target.encode(), {"Content-Length": "0"}, server.port),
                      head=method == "HEAD")
    assert answer is not None and answer.status == 403
    if method != "HEAD":
        assert answer.code == "AccessDenied"
    assert_alice_untouched(users)


HOSTILE_KEYS = ["../../../../outside-evil", "/etc/fragstore-evil", "..", ".", "a/../../b-evil", "..\\..\\win-evil",
                "%2e%2e/encoded-evil", "packs/evil", "index/evil", "LOCK", "FORMAT", "tmp/../evil"]


def test_keys_never_become_paths(users: Users) -> None:
    data = users.server.data_dir
    around = data.parent
    before = {p for p in around.rglob("*") if data not in p.parents and p != data}
    s3 = users.alice
    for key in HOSTILE_KEYS:
        s3.put_object(Bucket=A, Key=key, Body=key.encode())
    for key in HOSTILE_KEYS:
        assert s3.get_object(Bucket=A, Key=key)["Body"].read() == key.encode()
    after = {p for p in around.rglob("*") if data not in p.parents and p != data}
    assert after == before, "files appeared beside the data directory"
    names = {p.name for p in data.rglob("*")}
    assert not any("evil" in name for name in names), sorted(n for n in names if "evil" in n)
    assert Path("/etc/fragstore-evil").exists() is False
    s3.delete_objects(Bucket=A, Delete={"Objects": [{"Key": k} for k in HOSTILE_KEYS]})
    assert_alice_untouched(users)


def test_secrets_never_reach_the_log(users: Users) -> None:
    server = users.server
    server.raw("GET", f"/{A}/secret", access_key=ALICE, secret_key="wrong-secret")  # SignatureDoesNotMatch
    server.raw("GET", f"/{A}/secret", access_key=BOB, secret_key=BOB_SECRET)  # AccessDenied
    users.alice.put_object(Bucket=A, Key="logged", Body=b"x")
    users.alice.delete_object(Bucket=A, Key="logged")
    fetch(users.bob.generate_presigned_url("get_object", Params={"Bucket": A, "Key": "secret"}, ExpiresIn=60))
    text = server.log()
    assert "GetObject 403" in text  # the failed requests were logged
    for secret in (ALICE_SECRET, BOB_SECRET, ROOT_SECRET, "wrong-secret"):
        assert secret not in text
    assert SECRET_BYTES.decode() not in text


def test_signatures_are_compared_in_constant_time() -> None:
    """Every comparison of a signature goes through ``same_signature``, which is
    ``hmac.compare_digest`` (no timing assertions: the code is what is checked)."""
    assert "hmac.compare_digest" in inspect.getsource(sigv4_canonical.same_signature)
    offenders = []
    for path in sorted(SERVER_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
                names = [n.id if isinstance(n, ast.Name) else getattr(n, "attr", "")
                         for n in [node.left, *node.comparators]]
                if any("signature" in name.lower() for name in names):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []



def test_anonymous_metrics_reveal_no_bucket(users: Users) -> None:
    status, body = fetch(users.server.url + "/_fragstore/metrics")
    assert status == 403 or (A.encode() not in body and B.encode() not in body)
