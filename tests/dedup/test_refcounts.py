"""Reference counts of fragments and manifests after overwrite, delete and
copy (zero-copy, also onto itself with new metadata), checked both through
``check`` and against an oracle computed from the uploaded bytes alone."""

from __future__ import annotations

from collections import Counter

import blake3
import pytest
from storetest import OWNER, SMALL, assert_same, content, put, read, start_upload, upload_part

from dedup import Store, errors
from dedup.chunking import ChunkerParams, cut_points
from dedup.index import U64, FragmentRow
from dedup.types import KiB, ObjectMeta

pytestmark = pytest.mark.packstores  # every test once per pack store (conftest.py)


def fragment_refcounts(store: Store) -> dict[bytes, int]:
    with store.index.read() as txn:
        return {d: FragmentRow.decode(v).refcount for d, v in txn.cursor(db=store.index.db["fragments"])}


def expected_refcounts(*uploads: bytes) -> dict[bytes, int]:
    """The oracle, from the bytes alone: each uploaded body (a PUT or a part)
    is one manifest, and each of its fragments takes one reference."""
    params = ChunkerParams(SMALL.min_fragment, SMALL.avg_fragment, SMALL.max_fragment)
    refs: Counter[bytes] = Counter()
    for data in uploads:
        ends, _ = cut_points(memoryview(data), params, final=True)
        refs.update(blake3.blake3(data[a:b]).digest() for a, b in zip([0, *ends], ends, strict=False))
    return dict(refs)


def version_refcounts(store: Store) -> dict[int, int]:
    with store.index.read() as txn:
        return {U64.unpack(k)[0]: int.from_bytes(v[:4], "big") for k, v in txn.cursor(db=store.index.db["mrefs"])}


def assert_exact(store: Store, run, *live_uploads: bytes) -> None:
    """After GC every fragment's refcount is the number of references the
    live uploads make to it, and check agrees."""
    run(store.collect_garbage(grace_seconds=0))
    assert fragment_refcounts(store) == expected_refcounts(*live_uploads)
    assert run(store.check()).ok


def test_repeated_fragments_inside_one_object(store, run, bucket):
    block = content("block", 40 * KiB)
    data = block * 6  # the same fragments over and over
    result = run(put(store, bucket, "rep", data))
    assert result.new_bytes < len(data) // 2
    counts = fragment_refcounts(store)
    assert max(counts.values()) >= 5
    assert_same(run(read(store, bucket, "rep")), data)
    assert_exact(store, run, data)


def test_overwrite_releases_the_old_version(store, run, bucket):
    a, b = content("a", 200 * KiB), content("b", 200 * KiB)
    run(put(store, bucket, "k", a))
    run(put(store, bucket, "k", b))
    assert run(store.check()).ok  # before GC: the old manifest waits out its grace period
    assert_exact(store, run, b)
    assert run(store.stats()).unique_bytes == len(b)
    assert_same(run(read(store, bucket, "k")), b)


def test_overwrite_with_the_same_bytes(store, run, bucket):
    a = content("same", 200 * KiB)
    run(put(store, bucket, "k", a))
    assert run(put(store, bucket, "k", a)).new_bytes == 0
    assert_exact(store, run, a)
    assert run(store.stats()).unique_bytes == len(a)
    assert set(fragment_refcounts(store).values()) == {1}


def test_delete_decrements_shared_fragments(store, run, bucket):
    a = content("shared", 300 * KiB)
    run(put(store, bucket, "one", a))
    run(put(store, bucket, "two", a))
    assert set(fragment_refcounts(store).values()) == {2}
    run(store.delete_object(bucket, "one"))
    assert_exact(store, run, a)
    assert set(fragment_refcounts(store).values()) == {1}
    assert_same(run(read(store, bucket, "two")), a)
    run(store.delete_object(bucket, "two"))
    assert_exact(store, run)
    assert fragment_refcounts(store) == {}


def test_copy_is_zero_copy(store, run, bucket):
    run(store.create_bucket("bucket-b", OWNER))
    a = content("copy", 500 * KiB)
    run(put(store, bucket, "src", a, meta=ObjectMeta("text/plain", {"x": "1"})))
    before = run(store.stats())
    _, info = run(store.copy_object(bucket, "src", "bucket-b", "dst"))
    after = run(store.stats())
    assert (after.unique_bytes, after.stored_bytes, after.pack_bytes, after.fragments) == (
        before.unique_bytes, before.stored_bytes, before.pack_bytes, before.fragments)
    assert after.logical_bytes == 2 * len(a) and after.objects == 2
    assert info.etag == run(store.head_object(bucket, "src")).etag
    assert info.meta == ObjectMeta("text/plain", {"x": "1"})  # COPY keeps the metadata
    assert version_refcounts(store) == {mid: 2 for mid in version_refcounts(store)}
    run(store.delete_object(bucket, "src"))
    assert_exact(store, run, a)  # one manifest, named by two keys then one
    assert_same(run(read(store, "bucket-b", "dst")), a)


def test_copy_onto_itself_with_new_meta(store, run, bucket):
    a = content("self", 100 * KiB)
    run(put(store, bucket, "k", a, meta=ObjectMeta("text/plain", {"v": "1"})))
    counts = fragment_refcounts(store)
    manifests = version_refcounts(store)
    _, info = run(store.copy_object(bucket, "k", bucket, "k", ObjectMeta("application/json", {"v": "2"})))
    assert info.meta == ObjectMeta("application/json", {"v": "2"})
    assert run(store.head_object(bucket, "k")).meta == info.meta
    assert fragment_refcounts(store) == counts and version_refcounts(store) == manifests
    assert run(store.stats()).objects == 1
    assert_exact(store, run, a)
    assert_same(run(read(store, bucket, "k")), a)


def test_copy_of_a_multipart_object(store, run, bucket):
    uid = start_upload(store, run, bucket, "mp")
    parts = [content("m1", 64 * KiB), content("m2", 10 * KiB)]
    etags = [run(upload_part(store, bucket, "mp", uid, i + 1, p))[0].etag for i, p in enumerate(parts)]
    src = run(store.complete_multipart_upload(bucket, "mp", uid, list(enumerate(etags, start=1))))
    _, dst = run(store.copy_object(bucket, "mp", bucket, "copy"))
    assert dst.etag == src.etag and dst.part_sizes == src.part_sizes
    run(store.delete_object(bucket, "mp"))
    assert_exact(store, run, *parts)
    assert_same(run(read(store, bucket, "copy", part_number=2)), parts[1])


def test_copy_errors_change_nothing(store, run, bucket):
    run(put(store, bucket, "src", b"source"))
    with pytest.raises(errors.NoSuchKey):
        run(store.copy_object(bucket, "missing", bucket, "dst"))
    with pytest.raises(errors.NoSuchBucket):
        run(store.copy_object(bucket, "src", "missing-bucket", "dst"))
    with pytest.raises(errors.NoSuchBucket):
        run(store.copy_object("missing-bucket", "src", bucket, "dst"))

    def refuse(info):
        raise errors.PreconditionFailed("x-amz-copy-source-if-match")

    with pytest.raises(errors.PreconditionFailed):
        run(store.copy_object(bucket, "src", bucket, "dst", expect_source=refuse))
    with pytest.raises(errors.PreconditionFailed):
        run(store.copy_object(bucket, "src", bucket, "dst", expect=refuse))
    with pytest.raises(errors.NoSuchKey):
        run(store.head_object(bucket, "dst"))
    assert set(version_refcounts(store).values()) == {1}
    assert run(store.check()).ok
