"""Buckets: create (name rules, already owned / already exists), head, list,
delete (refused when not empty; open uploads are aborted; frees the name)."""

from __future__ import annotations

import pytest
from storetest import META, OWNER, content, put, stream

from dedup import errors
from dedup.types import KiB


def test_create_head_list(store, run):
    for name in ("zeta", "alpha", "mid-dle"):
        info = run(store.create_bucket(name, OWNER))
        assert info.name == name and info.owner == OWNER
    assert [b.name for b in run(store.list_buckets())] == ["alpha", "mid-dle", "zeta"]
    assert run(store.head_bucket("alpha")).owner == OWNER
    with pytest.raises(errors.NoSuchBucket):
        run(store.head_bucket("missing"))


def test_already_owned_and_already_exists(store, run, bucket):
    with pytest.raises(errors.BucketAlreadyOwnedByYou):
        run(store.create_bucket(bucket, OWNER))
    with pytest.raises(errors.BucketAlreadyExists):
        run(store.create_bucket(bucket, "someone-else"))
    assert len(run(store.list_buckets())) == 1


def test_delete_bucket_refuses_when_not_empty(store, run, bucket):
    run(put(store, bucket, "k", b"x"))
    with pytest.raises(errors.BucketNotEmpty):
        run(store.delete_bucket(bucket))
    run(store.delete_object(bucket, "k"))
    run(store.delete_bucket(bucket))
    with pytest.raises(errors.NoSuchBucket):
        run(store.head_bucket(bucket))
    with pytest.raises(errors.NoSuchBucket):
        run(store.delete_bucket(bucket))


def test_delete_bucket_aborts_open_uploads(store, run, bucket):
    """As AWS does: open multipart uploads do not keep a bucket alive; they are
    aborted with it and their parts' bytes freed."""
    upload = run(store.create_multipart_upload(bucket, "k", META))
    run(store.upload_part(bucket, "k", upload.upload_id, 1, stream([content("part", 100 * KiB)])))
    run(store.delete_bucket(bucket))
    run(store.create_bucket(bucket, OWNER))
    assert run(store.list_multipart_uploads(bucket)).uploads == ()
    with pytest.raises(errors.NoSuchUpload):
        run(store.list_parts(bucket, "k", upload.upload_id))
    run(store.collect_garbage(grace_seconds=0))
    assert run(store.stats()).unique_bytes == 0
    assert run(store.check()).ok


def test_recreated_bucket_is_empty(store, run, bucket):
    run(put(store, bucket, "k", b"x"))
    run(store.delete_object(bucket, "k"))
    run(store.delete_bucket(bucket))
    run(store.create_bucket(bucket, "new-owner"))
    assert run(store.list_objects(bucket)).entries == ()
    assert run(store.head_bucket(bucket)).owner == "new-owner"
    stats = run(store.stats())
    assert stats.objects == 0 and stats.buckets[0].objects == 0


def test_buckets_survive_reopen(harness, run):
    run(harness.store.create_bucket("persisted", OWNER))
    run(put(harness.store, "persisted", "k", b"bytes"))
    store = harness.reopen()
    assert [b.name for b in run(store.list_buckets())] == ["persisted"]
    assert run(store.head_object("persisted", "k")).size == 5
