"""What the engine keeps for access control, opaque to it: a version's owner
and ACL in its ObjectMeta (nothing for the bucket owner's private versions),
owners in listings, and a bucket's first configuration documents written
with it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from storetest import OWNER, put, stream

from dedup import errors
from dedup.index import ObjectRow
from dedup.types import ObjectMeta

ETAG = "9e107d9d372bb6826bd81d3542a419d6"


def row(meta: ObjectMeta) -> ObjectRow:
    return ObjectRow("k", 10, 1_700_000_000.0, ((1, 10),), ETAG, meta)


def test_owner_and_acl_cost_nothing_when_default():
    assert row(ObjectMeta()).encode() == row(ObjectMeta(owner="", acl="")).encode()
    meta = ObjectMeta(owner="BOB", acl="public-read")
    assert meta.to_json() == {"o": "BOB", "a": "public-read"}
    assert ObjectRow.decode("k", row(meta).encode()).meta == meta


@pytest.mark.parametrize("meta, owner", [
    (ObjectMeta(), ""),
    (ObjectMeta(owner="BOB"), "BOB"),
    (ObjectMeta(metadata={"o": "not the owner"}), ""),  # "o" nested in user metadata
    (ObjectMeta(metadata={"x": '"o":"fake"'}, owner="CAROL", acl="private"), "CAROL"),
])
def test_listing_reads_the_owner_without_the_rest(meta, owner):
    assert ObjectRow.decode_owner(row(meta).encode()) == owner


def test_listings_carry_owners(store, run, bucket):
    run(put(store, bucket, "a", b"a"))
    run(put(store, bucket, "b", b"b", meta=ObjectMeta(owner="BOB")))
    assert [(e.key, e.owner) for e in run(store.list_objects(bucket)).entries] == [("a", ""), ("b", "BOB")]
    assert [(e.key, e.owner) for e in run(store.list_object_versions(bucket)).entries] == [("a", ""), ("b", "BOB")]


def test_tags_and_acl_changes_keep_each_other(store, run, bucket):
    run(put(store, bucket, "k", b"x", meta=ObjectMeta(owner="BOB", acl="public-read", tags={"t": "1"})))
    run(store.update_object_meta(bucket, "k", None, lambda m: replace(m, acl="")))
    run(store.update_object_meta(bucket, "k", None, lambda m: replace(m, tags={})))
    assert run(store.head_object(bucket, "k")).meta == ObjectMeta(owner="BOB")


def test_a_completed_upload_keeps_owner_acl_and_tags(store, run, bucket):
    meta = ObjectMeta(owner="BOB", acl="bucket-owner-read", tags={"t": "1"})
    upload = run(store.create_multipart_upload(bucket, "mp", meta))
    part, _ = run(store.upload_part(bucket, "mp", upload.upload_id, 1, stream([b"p" * 10])))
    info = run(store.complete_multipart_upload(bucket, "mp", upload.upload_id, [(1, part.etag)],
                                               checksums={"CRC32": "AAAAAA=="}))
    assert (info.meta.owner, info.meta.acl, dict(info.meta.tags)) == ("BOB", "bucket-owner-read", {"t": "1"})


def test_a_bucket_is_created_with_its_first_documents(store, run):
    run(store.create_bucket("docs", OWNER, configs={"ownershipControls": b"ObjectWriter", "acl": b"public-read"}))
    info, docs = run(store.bucket_configs("docs", ["acl", "policy", "ownershipControls"]))
    assert info.owner == OWNER and docs == {"acl": b"public-read", "ownershipControls": b"ObjectWriter"}
    with pytest.raises(errors.BucketAlreadyOwnedByYou):
        run(store.create_bucket("docs", OWNER, configs={"acl": b"private"}))
    assert run(store.get_bucket_config("docs", "acl")) == b"public-read"
    run(store.delete_bucket("docs"))
    run(store.create_bucket("docs", "someone-else"))
    assert run(store.bucket_configs("docs", ["acl"]))[1] == {}
    with pytest.raises(errors.NoSuchBucket):
        run(store.bucket_configs("nope", ["acl"]))
