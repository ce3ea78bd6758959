"""Several users (--users FILE): each bucket belongs to its creator alone;
generated root credentials on a first start without FRAGSTORE_* variables."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.live_server import LiveServer, start_server
from tests.server.postform import error_code, form_body, post, sigv2_fields


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = Path(tmp_path_factory.mktemp("users"))
    users = root / "users.txt"
    users.write_text("# fragstore users\nALICE:alice-secret-1a2b3c4d5e6f\nBOB:bob-secret-22a3b4c5d6e7f8\n")
    with start_server(root / "data", extra_args=["--users", str(users)]) as server:
        yield server


def as_user(server: LiveServer, key: str, secret: str) -> Any:
    return server.client(aws_access_key_id=key, aws_secret_access_key=secret)


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_buckets_are_private_to_their_owner(multi: LiveServer) -> None:
    alice, bob = as_user(multi, "ALICE", "alice-secret-1a2b3c4d5e6f"), as_user(multi, "BOB", "bob-secret-22a3b4c5d6e7f8")
    alice.create_bucket(Bucket="alice-bucket")
    alice.put_object(Bucket="alice-bucket", Key="secret", Body=b"alice only")
    bob.create_bucket(Bucket="bob-bucket")
    assert [b["Name"] for b in alice.list_buckets()["Buckets"]] == ["alice-bucket"]
    assert [b["Name"] for b in bob.list_buckets()["Buckets"]] == ["bob-bucket"]
    assert alice.list_buckets()["Owner"]["ID"] == "ALICE"
    denied = [
        lambda: bob.get_object(Bucket="alice-bucket", Key="secret"),
        lambda: bob.put_object(Bucket="alice-bucket", Key="x", Body=b"x"),
        lambda: bob.delete_object(Bucket="alice-bucket", Key="secret"),
        lambda: bob.list_objects_v2(Bucket="alice-bucket"),
        lambda: bob.list_objects(Bucket="alice-bucket"),
        lambda: bob.get_bucket_location(Bucket="alice-bucket"),
        lambda: bob.delete_bucket(Bucket="alice-bucket"),
        lambda: bob.create_multipart_upload(Bucket="alice-bucket", Key="x"),
        lambda: bob.list_multipart_uploads(Bucket="alice-bucket"),
        lambda: bob.delete_objects(Bucket="alice-bucket", Delete={"Objects": [{"Key": "secret"}]}),
        lambda: bob.copy_object(Bucket="bob-bucket", Key="stolen", CopySource={"Bucket": "alice-bucket", "Key": "secret"}),
        lambda: bob.copy_object(Bucket="alice-bucket", Key="planted", CopySource={"Bucket": "bob-bucket", "Key": "x"}),
    ]
    for call in denied:
        with pytest.raises(ClientError) as info:
            call()
        assert code(info) == "AccessDenied"
    with pytest.raises(ClientError) as info:
        bob.head_object(Bucket="alice-bucket", Key="secret")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as info:
        bob.create_bucket(Bucket="alice-bucket")
    assert code(info) == "BucketAlreadyExists"
    assert alice.get_object(Bucket="alice-bucket", Key="secret")["Body"].read() == b"alice only"


def test_cors_configuration_is_the_owners(multi: LiveServer) -> None:
    """Only the owner puts, reads or deletes a bucket's CORS rules; the preflight is anonymous."""
    alice, bob = as_user(multi, "ALICE", "alice-secret-1a2b3c4d5e6f"), as_user(multi, "BOB", "bob-secret-22a3b4c5d6e7f8")
    alice.create_bucket(Bucket="alice-cors")
    rules = [{"AllowedOrigins": ["https://alice.example"], "AllowedMethods": ["GET"]}]
    alice.put_bucket_cors(Bucket="alice-cors", CORSConfiguration={"CORSRules": rules})
    denied = [
        lambda: bob.get_bucket_cors(Bucket="alice-cors"),
        lambda: bob.put_bucket_cors(Bucket="alice-cors", CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PUT"]}]}),
        lambda: bob.delete_bucket_cors(Bucket="alice-cors"),
    ]
    for call in denied:
        with pytest.raises(ClientError) as info:
            call()
        assert code(info) == "AccessDenied"
    assert alice.get_bucket_cors(Bucket="alice-cors")["CORSRules"] == rules
    headers = {"Origin": "https://alice.example", "Access-Control-Request-Method": "GET"}
    answer = multi.raw("OPTIONS", "/alice-cors/k", headers=headers, sign=False)
    assert answer.status == 200 and answer.headers["access-control-allow-origin"] == "https://alice.example"


def test_sigv2_and_forms_meet_the_same_owner_check(multi: LiveServer) -> None:
    """A SigV2 request, and a POST form signed by another user, are that user's."""
    alice = as_user(multi, "ALICE", "alice-secret-1a2b3c4d5e6f")
    alice.create_bucket(Bucket="alice-forms")
    bob_v2 = multi.client(aws_access_key_id="BOB", aws_secret_access_key="bob-secret-22a3b4c5d6e7f8",
                          config=Config(signature_version="s3"))
    with pytest.raises(ClientError) as info:
        bob_v2.put_object(Bucket="alice-forms", Key="x", Body=b"x")
    assert code(info) == "AccessDenied"
    bob = as_user(multi, "BOB", "bob-secret-22a3b4c5d6e7f8")
    v4 = list(bob.generate_presigned_post("alice-forms", "planted")["fields"].items())
    v2 = [("key", "planted"), *sigv2_fields("BOB", "bob-secret-22a3b4c5d6e7f8", [{"bucket": "alice-forms"}, {"key": "planted"}])]
    for fields in (v4, v2):
        answer = post(multi, "/alice-forms", form_body(fields, b"planted"))
        assert (answer.status, error_code(answer)) == (403, "AccessDenied")
    alice_form = list(alice.generate_presigned_post("alice-forms", "mine")["fields"].items())
    assert post(multi, "/alice-forms", form_body(alice_form, b"mine")).status == 204
    assert [o["Key"] for o in alice.list_objects_v2(Bucket="alice-forms")["Contents"]] == ["mine"]


def test_stats_show_a_user_only_their_buckets(multi: LiveServer) -> None:
    as_user(multi, "BOB", "bob-secret-22a3b4c5d6e7f8").create_bucket(Bucket="bob-stats")
    as_user(multi, "ALICE", "alice-secret-1a2b3c4d5e6f").create_bucket(Bucket="alice-stats")
    bob = json.loads(multi.raw("GET", "/_fragstore/stats", access_key="BOB", secret_key="bob-secret-22a3b4c5d6e7f8").body)
    assert "bob-stats" in [b["name"] for b in bob["buckets"]]
    assert not [b for b in bob["buckets"] if b["name"].startswith("alice")]
    root = json.loads(multi.raw("GET", "/_fragstore/stats").body)
    assert {"bob-stats", "alice-stats"} <= {b["name"] for b in root["buckets"]}


def test_root_key_may_do_everything_but_lists_its_own_buckets(multi: LiveServer) -> None:
    """The root key is the administrator (server/auth/authorize.py): it reads
    and writes any bucket; ListBuckets still shows the caller's own."""
    alice = as_user(multi, "ALICE", "alice-secret-1a2b3c4d5e6f")
    alice.create_bucket(Bucket="alice-admin")
    alice.put_object(Bucket="alice-admin", Key="k", Body=b"alice's")
    root = multi.client()
    assert [o["Key"] for o in root.list_objects_v2(Bucket="alice-admin")["Contents"]] == ["k"]
    assert root.get_object(Bucket="alice-admin", Key="k")["Body"].read() == b"alice's"
    assert "alice-admin" not in [b["Name"] for b in root.list_buckets()["Buckets"]]


def test_generated_root_credentials(tmp_path: Path) -> None:
    env = {"FRAGSTORE_ACCESS_KEY": "", "FRAGSTORE_SECRET_KEY": ""}
    with start_server(tmp_path / "data", env=env) as server:
        assert server.secret_key and server.secret_key in server.log()
        server.client().create_bucket(Bucket="generated")
    path = tmp_path / "data" / "root-credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with start_server(tmp_path / "data", env=env) as again:
        assert again.secret_key not in again.log()
        assert [b["Name"] for b in again.client().list_buckets()["Buckets"]] == ["generated"]
