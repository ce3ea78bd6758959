"""Writing objects through the facade: overwrite, HEAD, delete, dedup across
buckets and across edits, stats, expectations, Content-MD5, failing bodies,
concurrent puts, invalid and hostile keys. (Reads: test_reader.py.)"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import blake3
import pytest
from storetest import (
    META,
    OWNER,
    SMALL,
    assert_same,
    content,
    gather,
    md5,
    put,
    read,
    split,
)

from dedup import errors
from dedup.chunking import ChunkerParams, cut_points
from dedup.types import DeleteRequest, KiB, MiB, ObjectInfo, ObjectMeta

pytestmark = pytest.mark.packstores  # every test once per pack store (conftest.py)


def test_overwrite_replaces_bytes_and_meta(store, run, bucket):
    run(put(store, bucket, "k", b"first", meta=ObjectMeta("text/plain", {"a": "1"})))
    run(put(store, bucket, "k", b"second!", meta=ObjectMeta("text/csv", {"b": "2"}, {"cache-control": "no-cache"})))
    head = run(store.head_object(bucket, "k"))
    assert head.meta == ObjectMeta("text/csv", {"b": "2"}, {"cache-control": "no-cache"})
    assert_same(run(read(store, bucket, "k")), b"second!")


def test_missing_bucket_and_key(store, run, bucket):
    with pytest.raises(errors.NoSuchBucket):
        run(put(store, "no-such-bucket", "k", b"x"))
    with pytest.raises(errors.NoSuchKey):
        run(store.head_object(bucket, "absent"))
    with pytest.raises(errors.NoSuchKey):
        run(store.open_object(bucket, "absent"))
    with pytest.raises(errors.NoSuchBucket):
        run(store.head_object("no-such-bucket", "k"))


def test_delete_objects(store, run, bucket):
    for k in ("a", "b"):
        run(put(store, bucket, k, k.encode()))
    assert run(store.delete_object(bucket, "a")).removed is True
    assert run(store.delete_object(bucket, "a")).removed is False
    got = run(store.delete_objects(bucket, [DeleteRequest("b"), DeleteRequest("zz"), DeleteRequest("b")]))
    assert [(r.key, r.removed) for r in got] == [("b", True), ("zz", False), ("b", False)]
    with pytest.raises(errors.NoSuchKey):
        run(store.head_object(bucket, "b"))
    with pytest.raises(errors.NoSuchBucket):
        run(store.delete_object("no-such-bucket", "a"))


def test_identical_objects_dedup_across_buckets(store, run, bucket):
    run(store.create_bucket("bucket-b", OWNER))
    data = content("same", 1 * MiB)
    first = run(put(store, bucket, "x", data))
    unique = run(store.stats()).unique_bytes
    assert first.new_bytes == len(data) == unique
    second = run(put(store, "bucket-b", "y/z", data, piece=333))
    assert second.new_bytes == 0
    stats = run(store.stats())
    assert stats.unique_bytes == unique
    assert stats.logical_bytes == 2 * len(data)
    assert stats.objects == 2
    assert {b.name: (b.objects, b.logical_bytes) for b in stats.buckets} == {
        bucket: (1, len(data)), "bucket-b": (1, len(data)),
    }
    assert run(store.check()).ok


def test_insertion_in_the_middle_only_adds_fragments_near_the_edit(store, run, bucket):
    data = content("base", 4 * MiB)
    run(put(store, bucket, "v1", data))
    edited = data[: 2 * MiB] + b"inserted bytes!" * 7 + data[2 * MiB :]
    result = run(put(store, bucket, "v2", edited))
    # Around the edit at most a few fragments (max 32 KiB each) are new.
    assert 0 < result.new_bytes <= 4 * SMALL.max_fragment
    assert_same(run(read(store, bucket, "v2")), edited)
    # Deleting and re-inserting at the front is just as cheap.
    shifted = b"!" + data
    assert run(put(store, bucket, "v3", shifted)).new_bytes <= 4 * SMALL.max_fragment




def test_stats_add_up(store, run, bucket):
    data = content("one-mb", 1 * MiB)
    run(put(store, bucket, "a", data))
    run(put(store, bucket, "b", data))
    stats = run(store.stats(exact=True))
    assert stats.logical_bytes == 2 * MiB
    assert stats.unique_bytes == 1 * MiB
    assert stats.unique_bytes <= stats.stored_bytes <= stats.pack_bytes
    assert stats.dedup_ratio == pytest.approx(2.0)
    assert stats.buckets[0].unique_bytes == 1 * MiB
    assert stats.disk_bytes == stats.pack_bytes + stats.index_bytes


def test_expect_refuses_and_nothing_is_stored(store, run, bucket):
    seen: list[ObjectInfo | None] = []

    def refuse(existing: ObjectInfo | None) -> None:
        seen.append(existing)
        raise errors.PreconditionFailed("If-None-Match")

    with pytest.raises(errors.PreconditionFailed):
        run(put(store, bucket, "k", content("refused", 200 * KiB), expect=refuse))
    assert seen == [None]
    with pytest.raises(errors.NoSuchKey):
        run(store.head_object(bucket, "k"))
    run(put(store, bucket, "k", b"old"))
    with pytest.raises(errors.PreconditionFailed):
        run(put(store, bucket, "k", b"new", expect=refuse))
    assert seen[-1] is not None and seen[-1].etag == md5(b"old")
    assert_same(run(read(store, bucket, "k")), b"old")
    run(store.collect_garbage(grace_seconds=0))
    stats = run(store.stats())
    assert (stats.objects, stats.unique_bytes, stats.fragments) == (1, 3, 1)
    assert run(store.check()).ok


def test_expect_accepts(store, run, bucket):
    run(put(store, bucket, "k", b"old"))

    def if_match(existing: ObjectInfo | None) -> None:
        if existing is None or existing.etag != md5(b"old"):
            raise errors.PreconditionFailed("If-Match")

    run(put(store, bucket, "k", b"new", expect=if_match))
    assert_same(run(read(store, bucket, "k")), b"new")


def test_bad_digest_stores_nothing(store, run, bucket):
    data = content("digest", 300 * KiB)
    with pytest.raises(errors.BadDigest):
        run(put(store, bucket, "k", data, content_md5=hashlib.md5(b"other").digest()))
    with pytest.raises(errors.NoSuchKey):
        run(store.head_object(bucket, "k"))
    run(store.collect_garbage(grace_seconds=0))
    stats = run(store.stats())
    assert (stats.objects, stats.logical_bytes, stats.unique_bytes, stats.fragments) == (0, 0, 0, 0)
    ok = run(put(store, bucket, "k", data, content_md5=hashlib.md5(data).digest()))
    assert ok.info.etag == md5(data)


def distinct_fragments(data: bytes) -> set[bytes]:
    params = ChunkerParams(SMALL.min_fragment, SMALL.avg_fragment, SMALL.max_fragment)
    ends, _ = cut_points(memoryview(data), params, final=True)
    return {blake3.blake3(data[a:b]).digest() for a, b in zip([0, *ends], ends, strict=False)}


class BodyFailed(Exception):
    pass


async def _failing_body(data: bytes, fail_at: int) -> AsyncIterator[bytes]:
    for i, piece in enumerate(split(data, [16 * KiB])):
        if i == fail_at:
            raise BodyFailed("client went away")
        yield piece


@pytest.mark.parametrize("fail_at", [0, 1, 9, 30])
def test_body_failure_aborts_and_leaks_nothing(store, run, bucket, fail_at):
    data = content("failing", 1 * MiB)
    with pytest.raises(BodyFailed):
        run(store.put_object(bucket, "k", _failing_body(data, fail_at), META))
    with pytest.raises(errors.NoSuchKey):
        run(store.head_object(bucket, "k"))
    assert run(store.check()).ok
    run(store.collect_garbage(grace_seconds=0))
    stats = run(store.stats())
    assert (stats.objects, stats.unique_bytes, stats.stored_bytes, stats.fragments) == (0, 0, 0, 0)
    assert stats.pack_bytes == 0
    assert run(store.check()).ok
    # The store still works, and the same bytes are stored in full again.
    assert run(put(store, bucket, "k", data)).new_bytes == len(data)
    assert_same(run(read(store, bucket, "k")), data)


def test_concurrent_puts_of_the_same_content(store, run, bucket):
    data = content("concurrent", 700 * KiB)
    results = run(gather(*(put(store, bucket, f"k{i}", data, piece=(i + 1) * 5 * KiB) for i in range(24))))
    assert sum(r.new_bytes for r in results) == len(data)
    report = run(store.check())
    assert report.ok, report
    stats = run(store.stats())
    assert stats.objects == 24 and stats.unique_bytes == len(data)
    assert stats.fragments == report.fragments_checked == len(distinct_fragments(data))
    for i in (0, 23):
        assert_same(run(read(store, bucket, f"k{i}")), data)


def test_concurrent_puts_and_deletes_of_one_key(store, run, bucket):
    bodies = [content(f"c{i}", 40 * KiB) for i in range(12)]
    run(gather(*(put(store, bucket, "same", b) for b in bodies)))
    final = run(read(store, bucket, "same"))
    assert final in bodies
    run(store.collect_garbage(grace_seconds=0))
    assert run(store.stats()).unique_bytes == len(final)
    assert run(store.check()).ok


def test_invalid_keys(store, run, bucket):
    for key in ("", "a\x00b", "x" * 1025, "\udc80"):
        with pytest.raises(errors.InvalidObjectKey):
            run(put(store, bucket, key, b"x"))


def test_hostile_keys_round_trip(store, run, bucket):
    keys = ["../etc/passwd", "a b  c", "ключ/значение", "emoji-\U0001f600", "/leading", "trailing/", "%2F", "x" * 1024]
    for i, key in enumerate(keys):
        run(put(store, bucket, key, str(i).encode()))
    for i, key in enumerate(keys):
        assert_same(run(read(store, bucket, key)), str(i).encode())
        assert run(store.head_object(bucket, key)).key == key


