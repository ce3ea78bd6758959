"""Access control through the API, with a real server and two users added at
runtime (``fragstore user add`` against the running server): a public prefix
that plain HTTP reads and nothing else, a prefix shared with another user
through a bucket policy, anonymous uploads a policy allows, and denials in
the log with their reason."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.live_server import fragstore
from tests.server.accessworld import World, anon, code_of, open_bucket, policy, refused, world
from tests.server.postform import form_body, post

PUBLIC_BODY, PRIVATE_BODY = b"a public image", b"a private note"


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(Path(tmp_path_factory.mktemp("access"))) as made:
        yield made


def curl(url: str, method: str = "GET") -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as failed:
        return failed.code, failed.read()


def test_users_added_at_runtime_sign_at_once(w: World) -> None:
    assert w.alice.list_buckets()["Owner"]["ID"] == "ALICE"
    listed = fragstore("user", "list", "--data", str(w.server.data_dir), env=w.server.env)
    assert listed.returncode == 0 and "ALICE" in listed.stdout and "BOB" in listed.stdout
    assert w.secrets["ALICE"] not in w.server.log() and w.secrets["BOB"] not in w.server.log()


def test_rotate_and_remove_a_user(w: World, tmp_path: Path) -> None:
    from tests.server.accessworld import add_user

    secret = add_user(w.server, "CAROL")
    carol = w.client("CAROL") if "CAROL" in w.secrets else w.server.client(
        aws_access_key_id="CAROL", aws_secret_access_key=secret)
    carol.create_bucket(Bucket="carol-bucket")
    rotated = fragstore("user", "rotate-key", "CAROL", "--data", str(w.server.data_dir), env=w.server.env)
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.split("secret key: ")[1].split()[0]
    refused(lambda: carol.list_buckets(), "SignatureDoesNotMatch")
    carol = w.server.client(aws_access_key_id="CAROL", aws_secret_access_key=new)
    assert [b["Name"] for b in carol.list_buckets()["Buckets"]] == ["carol-bucket"]
    kept = fragstore("user", "remove", "CAROL", "--data", str(w.server.data_dir), env=w.server.env)
    assert kept.returncode == 1 and "owns 1 bucket (carol-bucket)" in kept.stderr
    carol.delete_bucket(Bucket="carol-bucket")
    gone = fragstore("user", "remove", "CAROL", "--data", str(w.server.data_dir), env=w.server.env)
    assert gone.returncode == 0, gone.stderr
    refused(lambda: carol.list_buckets(), "InvalidAccessKeyId")
    again = fragstore("user", "add", "--access-key", "CAROL", "--data", str(w.server.data_dir), env=w.server.env)
    assert again.returncode == 1 and "removed user" in again.stderr
    users = (w.server.data_dir / "user-credentials").stat().st_mode & 0o777
    assert users == 0o600


def test_only_root_manages_users(w: World) -> None:
    answer = w.server.raw("GET", "/_fragstore/users", access_key="ALICE", secret_key=w.secrets["ALICE"])
    assert answer.status == 403 and code_of(answer) == "AccessDenied"
    answer = w.server.raw("POST", "/_fragstore/users?access-key=MALLORY", access_key="BOB",
                          secret_key=w.secrets["BOB"])
    assert answer.status == 403
    assert anon(w.server, "POST", "/_fragstore/users").status == 403
    assert "MALLORY" not in json.loads(w.server.raw("GET", "/_fragstore/users").body)["users"].__repr__()


def test_a_public_prefix_is_readable_anonymously_and_nothing_else(w: World) -> None:
    alice, server = w.alice, w.server
    alice.create_bucket(Bucket="dataset")
    alice.put_object(Bucket="dataset", Key="public/cat.png", Body=PUBLIC_BODY)
    alice.put_object(Bucket="dataset", Key="private/notes.txt", Body=PRIVATE_BODY)
    readable = policy({"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": "arn:aws:s3:::dataset/public/*"})
    refused(lambda: alice.put_bucket_policy(Bucket="dataset", Policy=readable))  # BlockPublicPolicy, on by default
    assert curl(f"{server.url}/dataset/public/cat.png")[0] == 403
    alice.delete_public_access_block(Bucket="dataset")
    alice.put_bucket_policy(Bucket="dataset", Policy=readable)
    assert alice.get_bucket_policy_status(Bucket="dataset")["PolicyStatus"]["IsPublic"] is True

    assert curl(f"{server.url}/dataset/public/cat.png") == (200, PUBLIC_BODY)
    assert curl(f"{server.url}/dataset/public/cat.png", "HEAD")[0] == 200
    for target in ("/dataset/private/notes.txt", "/dataset/public/missing.png", "/dataset", "/dataset?list-type=2",
                   "/dataset?versions", "/dataset?policy", "/dataset/public/cat.png?acl", "/"):
        status, body = curl(server.url + target)
        assert status == 403 and b"<Code>AccessDenied</Code>" in body, target
        assert PRIVATE_BODY not in body
    for method, target in (("PUT", "/dataset/public/new.png"), ("DELETE", "/dataset/public/cat.png"),
                           ("PUT", "/dataset/public/cat.png?tagging"), ("POST", "/dataset/public/x?uploads"),
                           ("PUT", "/dataset?policy"), ("DELETE", "/dataset")):
        answer = anon(server, method, target, b"x" if method == "PUT" else b"")
        assert (answer.status, code_of(answer)) == (403, "AccessDenied"), (method, target)
    assert [o["Key"] for o in alice.list_objects_v2(Bucket="dataset")["Contents"]] == [
        "private/notes.txt", "public/cat.png"]

    # "*" takes in every signed caller too, and only what it names
    assert w.bob.get_object(Bucket="dataset", Key="public/cat.png")["Body"].read() == PUBLIC_BODY
    refused(lambda: w.bob.get_object(Bucket="dataset", Key="private/notes.txt"))
    presigned = w.bob.generate_presigned_url("get_object", Params={"Bucket": "dataset", "Key": "private/notes.txt"})
    assert curl(presigned)[0] == 403


def test_anonymous_listing_of_a_prefix(w: World) -> None:
    alice, server = w.alice, w.server
    open_bucket(alice, "listed")
    for key in ("public/a", "public/b", "private/c"):
        alice.put_object(Bucket="listed", Key=key, Body=b"x")
    alice.put_bucket_policy(Bucket="listed", Policy=policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::listed",
         "Condition": {"StringLike": {"s3:prefix": "public/*"}}},
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::listed/public/*"}))
    status, body = curl(f"{server.url}/listed?list-type=2&prefix=public/")
    assert status == 200 and b"<Key>public/a</Key>" in body and b"private" not in body
    assert curl(f"{server.url}/listed?list-type=2")[0] == 403
    assert curl(f"{server.url}/listed?list-type=2&prefix=private/")[0] == 403
    # a missing key: AccessDenied unless the caller may list the bucket (s3:ListBucket, no prefix here)
    assert curl(f"{server.url}/listed/public/none")[0] == 403
    alice.put_bucket_policy(Bucket="listed", Policy=policy(
        {"Effect": "Allow", "Principal": "*", "Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::listed"},
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::listed/public/*"}))
    status, body = curl(f"{server.url}/listed/public/none")
    assert status == 404 and b"<Code>NoSuchKey</Code>" in body


def test_a_prefix_shared_with_another_user(w: World) -> None:
    alice, bob = w.alice, w.bob
    alice.create_bucket(Bucket="team")
    alice.put_object(Bucket="team", Key="alice/plan.txt", Body=b"alice's plan")
    alice.put_object(Bucket="team", Key="shared/readme.txt", Body=b"for bob")
    alice.put_bucket_policy(Bucket="team", Policy=policy(
        {"Sid": "BobReadsWritesShared", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/BOB"},
         "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "Resource": "arn:aws:s3:::team/shared/*"},
        {"Sid": "BobListsShared", "Effect": "Allow", "Principal": {"AWS": "BOB"}, "Action": "s3:ListBucket",
         "Resource": "arn:aws:s3:::team", "Condition": {"StringLike": {"s3:prefix": "shared/*"}}},
        {"Sid": "KeepReadme", "Effect": "Deny", "Principal": {"AWS": "BOB"}, "Action": "s3:DeleteObject",
         "Resource": "arn:aws:s3:::team/shared/readme.txt"}))
    assert bob.get_object(Bucket="team", Key="shared/readme.txt")["Body"].read() == b"for bob"
    bob.put_object(Bucket="team", Key="shared/from-bob.txt", Body=b"hi alice")
    assert alice.get_object(Bucket="team", Key="shared/from-bob.txt")["Body"].read() == b"hi alice"  # the bucket's
    keys = [o["Key"] for o in bob.list_objects_v2(Bucket="team", Prefix="shared/")["Contents"]]
    assert keys == ["shared/from-bob.txt", "shared/readme.txt"]
    refused(lambda: bob.list_objects_v2(Bucket="team"))
    refused(lambda: bob.get_object(Bucket="team", Key="alice/plan.txt"))
    refused(lambda: bob.put_object(Bucket="team", Key="alice/plan.txt", Body=b"overwritten"))
    refused(lambda: bob.delete_object(Bucket="team", Key="shared/readme.txt"))  # the explicit Deny
    refused(lambda: bob.put_bucket_policy(Bucket="team", Policy=policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::team/*"})))
    refused(lambda: bob.get_bucket_policy(Bucket="team"))
    refused(lambda: bob.get_bucket_acl(Bucket="team"))
    assert curl(f"{w.server.url}/team/shared/readme.txt")[0] == 403

    bob.put_object(Bucket="team", Key="shared/scratch.txt", Body=b"x")
    answer = bob.delete_objects(Bucket="team", Delete={"Objects": [
        {"Key": "shared/scratch.txt"}, {"Key": "shared/readme.txt"}, {"Key": "alice/plan.txt"}]})
    assert [d["Key"] for d in answer["Deleted"]] == ["shared/scratch.txt"]
    assert sorted((e["Key"], e["Code"]) for e in answer["Errors"]) == [
        ("alice/plan.txt", "AccessDenied"), ("shared/readme.txt", "AccessDenied")]
    refused(lambda: bob.delete_objects(Bucket="team", Delete={"Objects": [{"Key": "alice/plan.txt"}]}))
    assert alice.get_object(Bucket="team", Key="alice/plan.txt")["Body"].read() == b"alice's plan"

    bob.create_bucket(Bucket="bob-copies")
    bob.copy_object(Bucket="bob-copies", Key="readme", CopySource={"Bucket": "team", "Key": "shared/readme.txt"})
    refused(lambda: bob.copy_object(Bucket="bob-copies", Key="plan", CopySource={"Bucket": "team", "Key": "alice/plan.txt"}))
    upload = bob.create_multipart_upload(Bucket="bob-copies", Key="assembled")["UploadId"]
    refused(lambda: bob.upload_part_copy(Bucket="bob-copies", Key="assembled", UploadId=upload, PartNumber=1,
                                         CopySource={"Bucket": "team", "Key": "alice/plan.txt"}))
    bob.upload_part_copy(Bucket="bob-copies", Key="assembled", UploadId=upload, PartNumber=1,
                         CopySource={"Bucket": "team", "Key": "shared/readme.txt"})
    bob.abort_multipart_upload(Bucket="bob-copies", Key="assembled", UploadId=upload)


def test_policy_conditions_on_the_live_server(w: World) -> None:
    alice, server = w.alice, w.server
    open_bucket(alice, "conditions")
    alice.put_object(Bucket="conditions", Key="tagged", Body=b"t", Tagging="public=yes")
    alice.put_object(Bucket="conditions", Key="untagged", Body=b"u")
    alice.put_bucket_policy(Bucket="conditions", Policy=policy(
        {"Sid": "Tagged", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::conditions/*",
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/public": "yes"},
                       "IpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}}},
        {"Sid": "NoWideLists", "Effect": "Deny", "Principal": "*", "Action": "s3:ListBucket",
         "Resource": "arn:aws:s3:::conditions", "Condition": {"NumericGreaterThan": {"s3:max-keys": "100"}}}))
    assert curl(f"{server.url}/conditions/tagged") == (200, b"t")
    assert curl(f"{server.url}/conditions/untagged")[0] == 403
    assert alice.list_objects_v2(Bucket="conditions", MaxKeys=100)["KeyCount"] == 2
    refused(lambda: alice.list_objects_v2(Bucket="conditions", MaxKeys=1000))  # a Deny binds the owner too
    alice.put_bucket_policy(Bucket="conditions", Policy=policy(
        {"Sid": "HttpsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::conditions", "arn:aws:s3:::conditions/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}))
    refused(lambda: alice.get_object(Bucket="conditions", Key="tagged"))  # plain HTTP here
    alice.delete_bucket_policy(Bucket="conditions")  # the owner is never locked out of its policy
    assert alice.get_object(Bucket="conditions", Key="tagged")["Body"].read() == b"t"
    assert w.root.get_object(Bucket="conditions", Key="untagged")["Body"].read() == b"u"


def test_anonymous_form_uploads_where_a_policy_allows(w: World) -> None:
    alice, server = w.alice, w.server
    open_bucket(alice, "dropbox")
    answer = post(server, "/dropbox", form_body([("key", "uploads/a.txt")], b"anonymous"))
    assert (answer.status, code_of(answer)) == (403, "AccessDenied")
    alice.put_bucket_policy(Bucket="dropbox", Policy=policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::dropbox/uploads/*"}))
    assert post(server, "/dropbox", form_body([("key", "uploads/a.txt")], b"anonymous")).status == 204
    assert alice.get_object(Bucket="dropbox", Key="uploads/a.txt")["Body"].read() == b"anonymous"
    answer = post(server, "/dropbox", form_body([("key", "elsewhere/b.txt")], b"x"))
    assert (answer.status, code_of(answer)) == (403, "AccessDenied")
    answer = post(server, "/dropbox", form_body([("key", "uploads/c.txt"), ("acl", "public-read")], b"x"))
    assert (answer.status, code_of(answer)) == (400, "AccessControlListNotSupported")
    assert [o["Key"] for o in alice.list_objects_v2(Bucket="dropbox")["Contents"]] == ["uploads/a.txt"]


def test_denials_are_logged_with_their_reason(w: World) -> None:
    w.alice.create_bucket(Bucket="logged")
    w.alice.put_object(Bucket="logged", Key="k", Body=b"x")
    with pytest.raises(ClientError) as denied:
        w.bob.get_object(Bucket="logged", Key="k")
    request_id = denied.value.response["ResponseMetadata"]["RequestId"]
    lines = [line for line in w.server.log().splitlines() if request_id in line and "denied" in line]
    assert len(lines) == 1 and " INFO " in lines[0], lines
    assert "GetObject logged to user BOB" in lines[0] and "s3:GetObject" in lines[0]
