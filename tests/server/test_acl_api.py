"""ACLs, ownership controls, public access blocks and bucket policy CRUD
through boto3 against a live server, with users added at runtime and plain
HTTP for anonymous callers; owners in every listing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.accessworld import World, anon, code_of, open_bucket, policy, refused, world

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(Path(tmp_path_factory.mktemp("acl"))) as made:
        yield made


def grants(answer: dict) -> set[tuple[str, str]]:
    out = set()
    for g in answer["Grants"]:
        who = g["Grantee"].get("ID") or g["Grantee"].get("URI")
        out.add((who, g["Permission"]))
    return out


def test_a_new_bucket_disables_acls(w: World) -> None:
    alice = w.alice
    alice.create_bucket(Bucket="enforced")
    assert alice.get_bucket_ownership_controls(Bucket="enforced")["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    assert alice.get_public_access_block(Bucket="enforced")["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    refused(lambda: alice.put_object(Bucket="enforced", Key="k", Body=b"x", ACL="public-read"),
            "AccessControlListNotSupported")
    refused(lambda: alice.put_object(Bucket="enforced", Key="k", Body=b"x", GrantRead='id="BOB"'),
            "AccessControlListNotSupported")
    alice.put_object(Bucket="enforced", Key="k", Body=b"x", ACL="bucket-owner-full-control")
    alice.put_object(Bucket="enforced", Key="k", Body=b"x", ACL="private")
    refused(lambda: alice.put_bucket_acl(Bucket="enforced", ACL="public-read"), "AccessControlListNotSupported")
    refused(lambda: alice.put_object_acl(Bucket="enforced", Key="k", GrantRead='id="BOB"'),
            "AccessControlListNotSupported")
    assert grants(alice.get_object_acl(Bucket="enforced", Key="k")) == {("ALICE", "FULL_CONTROL")}
    assert grants(alice.get_bucket_acl(Bucket="enforced")) == {("ALICE", "FULL_CONTROL")}
    refused(lambda: alice.create_bucket(Bucket="enforced-acl", ACL="public-read"), "InvalidBucketAclWithObjectOwnership")
    refused(lambda: alice.head_bucket(Bucket="enforced-acl"), "404")


def test_ownership_controls(w: World) -> None:
    alice, bob = w.alice, w.bob
    open_bucket(alice, "owners")
    alice.delete_bucket_ownership_controls(Bucket="owners")
    refused(lambda: alice.get_bucket_ownership_controls(Bucket="owners"), "OwnershipControlsNotFoundError")
    alice.put_bucket_ownership_controls(Bucket="owners", OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    alice.put_bucket_acl(Bucket="owners", GrantWrite='id="BOB"', GrantFullControl='id="ALICE"')
    bob.put_object(Bucket="owners", Key="bobs", Body=b"bob wrote")
    refused(lambda: alice.get_object(Bucket="owners", Key="bobs"))  # ObjectWriter: BOB owns it
    assert grants(bob.get_object_acl(Bucket="owners", Key="bobs")) == {("BOB", "FULL_CONTROL")}
    bob.put_object(Bucket="owners", Key="shared", Body=b"for alice", ACL="bucket-owner-read")
    assert alice.get_object(Bucket="owners", Key="shared")["Body"].read() == b"for alice"
    listed = {o["Key"]: o["Owner"]["ID"] for o in alice.list_objects(Bucket="owners")["Contents"]}
    assert listed == {"bobs": "BOB", "shared": "BOB"}
    alice.put_bucket_ownership_controls(Bucket="owners", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    bob.put_object(Bucket="owners", Key="handed-over", Body=b"x", ACL="bucket-owner-full-control")
    bob.put_object(Bucket="owners", Key="kept", Body=b"x")
    owners = {o["Key"]: o["Owner"]["ID"] for o in alice.list_objects_v2(Bucket="owners", FetchOwner=True)["Contents"]}
    assert owners["handed-over"] == "ALICE" and owners["kept"] == "BOB"
    refused(lambda: alice.put_bucket_ownership_controls(Bucket="owners", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}), "InvalidBucketAclWithObjectOwnership")
    alice.put_bucket_acl(Bucket="owners", ACL="private")
    alice.put_bucket_ownership_controls(Bucket="owners", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert alice.get_object(Bucket="owners", Key="bobs")["Body"].read() == b"bob wrote"  # the bucket owner's now
    assert {o["Owner"]["ID"] for o in alice.list_objects(Bucket="owners")["Contents"]} == {"ALICE"}
    refused(lambda: bob.get_object(Bucket="owners", Key="bobs"))
    alice.delete_bucket_ownership_controls(Bucket="owners")
    alice.create_bucket(Bucket="writer-bucket", ObjectOwnership="ObjectWriter")
    assert alice.get_bucket_ownership_controls(Bucket="writer-bucket")["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "ObjectWriter"}]
    refused(lambda: alice.create_bucket(Bucket="bad-ownership", ObjectOwnership="Nobody"), "InvalidArgument")


def test_acl_grants(w: World) -> None:
    alice, bob, server = w.alice, w.bob, w.server
    alice.create_bucket(Bucket="granted", ObjectOwnership="ObjectWriter")
    alice.put_object(Bucket="granted", Key="photo", Body=b"pixels")
    refused(lambda: alice.put_bucket_acl(Bucket="granted", ACL="public-read"))  # BlockPublicAcls, on by default
    refused(lambda: alice.put_object(Bucket="granted", Key="p", Body=b"x", ACL="public-read"))
    alice.delete_public_access_block(Bucket="granted")

    alice.put_bucket_acl(Bucket="granted", GrantRead='id="BOB"')  # a user grant
    assert [o["Key"] for o in bob.list_objects(Bucket="granted")["Contents"]] == ["photo"]
    refused(lambda: bob.get_object(Bucket="granted", Key="photo"))  # bucket READ lists, reads no object
    assert anon(server, "GET", "/granted").status == 403
    alice.put_bucket_acl(Bucket="granted", ACL="authenticated-read")  # a group: any signed caller
    bob.list_objects_v2(Bucket="granted")
    assert anon(server, "GET", "/granted?list-type=2").status == 403
    alice.put_bucket_acl(Bucket="granted", ACL="public-read")  # everyone
    assert anon(server, "GET", "/granted?list-type=2").status == 200
    assert grants(alice.get_bucket_acl(Bucket="granted")) == {("ALICE", "FULL_CONTROL"), (ALL_USERS, "READ")}

    alice.put_object(Bucket="granted", Key="open", Body=b"open", ACL="public-read")
    answer = anon(server, "GET", "/granted/open")
    assert (answer.status, answer.body) == (200, b"open")
    assert anon(server, "GET", "/granted/photo").status == 403
    alice.put_object_acl(Bucket="granted", Key="photo", AccessControlPolicy={
        "Owner": {"ID": "ALICE"},
        "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": "ALICE"}, "Permission": "FULL_CONTROL"},
                   {"Grantee": {"Type": "CanonicalUser", "ID": "BOB"}, "Permission": "READ"},
                   {"Grantee": {"Type": "Group", "URI": AUTHENTICATED}, "Permission": "READ_ACP"}]})
    assert bob.get_object(Bucket="granted", Key="photo")["Body"].read() == b"pixels"
    assert grants(bob.get_object_acl(Bucket="granted", Key="photo")) == {
        ("ALICE", "FULL_CONTROL"), ("BOB", "READ"), (AUTHENTICATED, "READ_ACP")}
    refused(lambda: bob.put_object_acl(Bucket="granted", Key="photo", ACL="public-read"))
    assert anon(server, "GET", "/granted/photo").status == 403
    alice.put_bucket_acl(Bucket="granted", GrantWrite=f'uri="{ALL_USERS}"', GrantFullControl='id="ALICE"')
    answer = anon(server, "PUT", "/granted/dropped", b"anonymous bytes")
    assert answer.status == 200
    assert alice.get_object(Bucket="granted", Key="dropped")["Body"].read() == b"anonymous bytes"
    refused(lambda: alice.put_object_acl(Bucket="granted", Key="photo", GrantRead='emailAddress="a@b.c"'),
            "UnresolvableGrantByEmailAddress")
    refused(lambda: alice.put_bucket_acl(Bucket="granted", GrantRead='id="NOBODY"'), "InvalidArgument")


def test_public_access_block_settings(w: World) -> None:
    alice, server = w.alice, w.server
    alice.create_bucket(Bucket="blocked", ObjectOwnership="ObjectWriter")
    alice.delete_public_access_block(Bucket="blocked")
    refused(lambda: alice.get_public_access_block(Bucket="blocked"), "NoSuchPublicAccessBlockConfiguration")
    alice.put_object(Bucket="blocked", Key="open", Body=b"x", ACL="public-read")
    alice.put_bucket_policy(Bucket="blocked", Policy=policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::blocked/p/*"}))
    alice.put_object(Bucket="blocked", Key="p/x", Body=b"y")
    assert anon(server, "GET", "/blocked/open").status == 200
    assert anon(server, "GET", "/blocked/p/x").status == 200
    alice.put_public_access_block(Bucket="blocked", PublicAccessBlockConfiguration={"IgnorePublicAcls": True})
    assert alice.get_public_access_block(Bucket="blocked")["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": False, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": False}
    assert anon(server, "GET", "/blocked/open").status == 403
    assert anon(server, "GET", "/blocked/p/x").status == 200
    alice.put_public_access_block(Bucket="blocked", PublicAccessBlockConfiguration={"RestrictPublicBuckets": True})
    assert anon(server, "GET", "/blocked/open").status == 200
    assert anon(server, "GET", "/blocked/p/x").status == 403
    assert alice.get_object(Bucket="blocked", Key="p/x")["Body"].read() == b"y"
    alice.put_public_access_block(Bucket="blocked", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "BlockPublicPolicy": True})
    refused(lambda: alice.put_object_acl(Bucket="blocked", Key="p/x", ACL="public-read"))
    refused(lambda: w.root.put_object_acl(Bucket="blocked", Key="p/x", ACL="authenticated-read"))  # root too
    alice.put_object_acl(Bucket="blocked", Key="p/x", ACL="private")
    refused(lambda: alice.put_bucket_policy(Bucket="blocked", Policy=policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::blocked/*"})))
    alice.put_bucket_policy(Bucket="blocked", Policy=policy(
        {"Effect": "Allow", "Principal": {"AWS": "BOB"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::blocked/*"}))
    refused(lambda: w.bob.put_public_access_block(Bucket="blocked", PublicAccessBlockConfiguration={}))


def test_bucket_policy_documents(w: World) -> None:
    alice = w.alice
    alice.create_bucket(Bucket="policies")
    refused(lambda: alice.get_bucket_policy(Bucket="policies"), "NoSuchBucketPolicy")
    refused(lambda: alice.get_bucket_policy_status(Bucket="policies"), "NoSuchBucketPolicy")
    text = policy({"Sid": "Bob", "Effect": "Allow", "Principal": {"AWS": "BOB"}, "Action": "s3:GetObject",
                   "Resource": "arn:aws:s3:::policies/*"})
    alice.put_bucket_policy(Bucket="policies", Policy=text)
    assert alice.get_bucket_policy(Bucket="policies")["Policy"] == text
    assert alice.get_bucket_policy_status(Bucket="policies")["PolicyStatus"]["IsPublic"] is False
    assert w.root.get_bucket_policy(Bucket="policies")["Policy"] == text
    refused(lambda: w.bob.delete_bucket_policy(Bucket="policies"))
    alice.delete_bucket_policy(Bucket="policies")
    refused(lambda: alice.get_bucket_policy(Bucket="policies"), "NoSuchBucketPolicy")
    refused(lambda: alice.put_bucket_policy(Bucket="policies", Policy=policy(
        {"Effect": "Allow", "Principal": {"AWS": "NOBODY"}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::policies/*"})), "MalformedPolicy")


def test_object_acls_are_per_version(w: World) -> None:
    alice, server = w.alice, w.server
    alice.create_bucket(Bucket="versions-acl", ObjectOwnership="ObjectWriter")
    alice.delete_public_access_block(Bucket="versions-acl")
    alice.put_bucket_versioning(Bucket="versions-acl", VersioningConfiguration={"Status": "Enabled"})
    v1 = alice.put_object(Bucket="versions-acl", Key="doc", Body=b"one", ACL="public-read")["VersionId"]
    v2 = alice.put_object(Bucket="versions-acl", Key="doc", Body=b"two")["VersionId"]
    assert anon(server, "GET", "/versions-acl/doc").status == 403
    assert anon(server, "GET", f"/versions-acl/doc?versionId={v1}").body == b"one"
    assert grants(alice.get_object_acl(Bucket="versions-acl", Key="doc", VersionId=v1)) == {
        ("ALICE", "FULL_CONTROL"), (ALL_USERS, "READ")}
    assert grants(alice.get_object_acl(Bucket="versions-acl", Key="doc")) == {("ALICE", "FULL_CONTROL")}
    alice.put_object_acl(Bucket="versions-acl", Key="doc", VersionId=v2, ACL="public-read")
    assert anon(server, "GET", "/versions-acl/doc").body == b"two"
    alice.put_object_acl(Bucket="versions-acl", Key="doc", VersionId=v1, ACL="private")
    assert anon(server, "GET", f"/versions-acl/doc?versionId={v1}").status == 403
    assert alice.get_object(Bucket="versions-acl", Key="doc", VersionId=v1)["Body"].read() == b"one"
    alice.put_object_tagging(Bucket="versions-acl", Key="doc", VersionId=v2, Tagging={"TagSet": [{"Key": "t", "Value": "v"}]})
    assert anon(server, "GET", "/versions-acl/doc").status == 200  # tags leave the ACL as it was


def test_listings_show_owners(w: World) -> None:
    alice, bob = w.alice, w.bob
    alice.create_bucket(Bucket="listings", ObjectOwnership="ObjectWriter")
    alice.put_bucket_acl(Bucket="listings", GrantWrite='id="BOB"', GrantFullControl='id="ALICE"')
    alice.put_object(Bucket="listings", Key="a", Body=b"a")
    bob.put_object(Bucket="listings", Key="b", Body=b"b")
    upload = bob.create_multipart_upload(Bucket="listings", Key="c")["UploadId"]
    alice.put_bucket_versioning(Bucket="listings", VersioningConfiguration={"Status": "Enabled"})
    v1 = {o["Key"]: o["Owner"] for o in alice.list_objects(Bucket="listings")["Contents"]}
    assert v1 == {"a": {"ID": "ALICE", "DisplayName": "ALICE"}, "b": {"ID": "BOB", "DisplayName": "BOB"}}
    assert "Owner" not in alice.list_objects_v2(Bucket="listings")["Contents"][0]
    v2 = {o["Key"]: o["Owner"]["ID"] for o in alice.list_objects_v2(Bucket="listings", FetchOwner=True)["Contents"]}
    assert v2 == {"a": "ALICE", "b": "BOB"}
    versions = {v["Key"]: v["Owner"]["ID"] for v in alice.list_object_versions(Bucket="listings")["Versions"]}
    assert versions == {"a": "ALICE", "b": "BOB"}
    uploads = alice.list_multipart_uploads(Bucket="listings")["Uploads"]
    assert [(u["Key"], u["Initiator"]["ID"], u["Owner"]["ID"]) for u in uploads] == [("c", "BOB", "BOB")]
    parts = alice.list_parts(Bucket="listings", Key="c", UploadId=upload)
    assert (parts["Initiator"]["ID"], parts["Owner"]["ID"]) == ("BOB", "BOB")
    bob.abort_multipart_upload(Bucket="listings", Key="c", UploadId=upload)
    assert alice.list_buckets()["Owner"] == {"ID": "ALICE", "DisplayName": "ALICE"}
    answer = anon(w.server, "GET", "/")
    assert (answer.status, code_of(answer)) == (403, "AccessDenied")
