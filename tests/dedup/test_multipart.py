"""Multipart uploads: ETags computed independently, part-order and part
errors, EntityTooSmall, abort, part overwrite, list_parts pagination,
list_multipart_uploads, part reads of the completed object, refcounts."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random

import pytest
from storetest import (
    META,
    SMALL,
    assert_same,
    content,
    md5,
    read,
    split,
    start_upload,
    stream,
    upload_part,
)

from dedup import errors
from dedup.types import ByteRange, KiB, ObjectMeta

pytestmark = pytest.mark.packstores  # every test once per pack store (conftest.py)

MIN = SMALL.min_part_size


def multipart_etag(parts: list[bytes]) -> str:
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f"{digest}-{len(parts)}"


def test_complete_etag_size_and_bytes(store, run, bucket):
    parts = [content(f"p{i}", MIN + i * 1000) for i in range(3)] + [content("last", 1234)]
    meta = ObjectMeta("image/png", {"who": "me"})
    uid = start_upload(store, run, bucket, meta=meta)
    listed = []
    for i, data in enumerate(parts, start=1):
        part, _ = run(upload_part(store, bucket, "mp", uid, i, data))
        assert part.etag == md5(data) and part.size == len(data) and part.part_number == i
        listed.append((i, f'"{part.etag}"' if i % 2 else part.etag))  # quotes are tolerated
    info = run(store.complete_multipart_upload(bucket, "mp", uid, listed))
    whole = b"".join(parts)
    assert info.etag == multipart_etag(parts)
    assert info.size == len(whole) and info.part_sizes == tuple(len(p) for p in parts)
    assert_same(run(read(store, bucket, "mp")), whole)
    head = run(store.head_object(bucket, "mp"))
    assert head.etag == info.etag and head.meta == meta
    for i, data in enumerate(parts, start=1):
        reader = run(store.open_object(bucket, "mp", part_number=i))
        assert reader.part_count == 4
        run(reader.aclose())
        assert_same(run(read(store, bucket, "mp", part_number=i)), data)
    with pytest.raises(errors.InvalidPart):
        run(store.open_object(bucket, "mp", part_number=5))
    with pytest.raises(errors.NoSuchUpload):
        run(store.list_parts(bucket, "mp", uid))
    assert run(store.check()).ok


def test_complete_a_subset_of_parts(store, run, bucket):
    uid = start_upload(store, run, bucket)
    parts = {n: content(f"s{n}", MIN) for n in (1, 2, 5, 7)}
    etags = {n: run(upload_part(store, bucket, "mp", uid, n, d))[0].etag for n, d in parts.items()}
    info = run(store.complete_multipart_upload(bucket, "mp", uid, [(2, etags[2]), (7, etags[7])]))
    assert info.etag == multipart_etag([parts[2], parts[7]])
    assert_same(run(read(store, bucket, "mp")), parts[2] + parts[7])
    run(store.collect_garbage(grace_seconds=0))
    assert run(store.stats()).unique_bytes == 2 * MIN  # the unlisted parts were freed
    assert run(store.check()).ok


def test_invalid_part_order(store, run, bucket):
    uid = start_upload(store, run, bucket)
    e1 = run(upload_part(store, bucket, "mp", uid, 1, content("a", MIN)))[0].etag
    e2 = run(upload_part(store, bucket, "mp", uid, 2, content("b", MIN)))[0].etag
    for order in ([(2, e2), (1, e1)], [(1, e1), (1, e1)]):
        with pytest.raises(errors.InvalidPartOrder):
            run(store.complete_multipart_upload(bucket, "mp", uid, order))
    # The upload survives a refused completion.
    run(store.complete_multipart_upload(bucket, "mp", uid, [(1, e1), (2, e2)]))


def test_invalid_part(store, run, bucket):
    uid = start_upload(store, run, bucket)
    e1 = run(upload_part(store, bucket, "mp", uid, 1, content("a", MIN)))[0].etag
    for parts in ([(1, md5(b"wrong"))], [(1, e1), (2, e1)], []):
        with pytest.raises(errors.InvalidPart):
            run(store.complete_multipart_upload(bucket, "mp", uid, parts))
    with pytest.raises(errors.NoSuchKey):
        run(store.head_object(bucket, "mp"))


def test_entity_too_small(store, run, bucket):
    uid = start_upload(store, run, bucket)
    small = content("small", MIN - 1)
    big = content("big", MIN)
    e1 = run(upload_part(store, bucket, "mp", uid, 1, small))[0].etag
    e2 = run(upload_part(store, bucket, "mp", uid, 2, big))[0].etag
    with pytest.raises(errors.EntityTooSmall):
        run(store.complete_multipart_upload(bucket, "mp", uid, [(1, e1), (2, e2)]))
    # A small part is fine as the last one, and as the only one.
    info = run(store.complete_multipart_upload(bucket, "mp", uid, [(2, e2)]))
    assert info.size == MIN
    uid = start_upload(store, run, bucket, "single")
    e = run(upload_part(store, bucket, "single", uid, 1, small))[0].etag
    assert run(store.complete_multipart_upload(bucket, "single", uid, [(1, e)])).etag == multipart_etag([small])


def test_abort(store, run, bucket):
    uid = start_upload(store, run, bucket)
    run(upload_part(store, bucket, "mp", uid, 1, content("x", 3 * MIN)))
    run(store.abort_multipart_upload(bucket, "mp", uid))
    with pytest.raises(errors.NoSuchUpload):
        run(store.list_parts(bucket, "mp", uid))
    with pytest.raises(errors.NoSuchUpload):
        run(upload_part(store, bucket, "mp", uid, 2, b"late"))
    with pytest.raises(errors.NoSuchUpload):
        run(store.abort_multipart_upload(bucket, "mp", uid))
    with pytest.raises(errors.NoSuchUpload):
        run(store.complete_multipart_upload(bucket, "mp", uid, [(1, md5(b""))]))
    run(store.collect_garbage(grace_seconds=0))
    stats = run(store.stats())
    assert (stats.unique_bytes, stats.fragments) == (0, 0)
    assert run(store.check()).ok


def test_upload_id_is_bound_to_its_bucket_and_key(store, run, bucket):
    uid = start_upload(store, run, bucket)
    with pytest.raises(errors.NoSuchUpload):
        run(upload_part(store, bucket, "other-key", uid, 1, b"x"))
    with pytest.raises(errors.NoSuchUpload):
        run(store.list_parts(bucket, "other-key", uid))
    with pytest.raises(errors.NoSuchUpload):
        run(upload_part(store, bucket, "mp", "no-such-upload", 1, b"x"))
    with pytest.raises(errors.NoSuchBucket):
        run(store.create_multipart_upload("missing-bucket", "k", META))


def test_part_overwrite(store, run, bucket):
    uid = start_upload(store, run, bucket)
    old, new = content("old", MIN), content("new", MIN + 5)
    run(upload_part(store, bucket, "mp", uid, 1, old))
    part, _ = run(upload_part(store, bucket, "mp", uid, 1, new))
    page = run(store.list_parts(bucket, "mp", uid))
    assert [(p.part_number, p.etag, p.size) for p in page.parts] == [(1, md5(new), len(new))]
    with pytest.raises(errors.InvalidPart):
        run(store.complete_multipart_upload(bucket, "mp", uid, [(1, md5(old))]))
    run(store.complete_multipart_upload(bucket, "mp", uid, [(1, part.etag)]))
    assert_same(run(read(store, bucket, "mp")), new)
    run(store.collect_garbage(grace_seconds=0))
    assert run(store.stats()).unique_bytes == len(new)
    assert run(store.check()).ok


def test_part_dedups_against_existing_objects(store, run, bucket):
    data = content("shared", MIN)
    run(store.put_object(bucket, "plain", stream([data]), META))
    uid = start_upload(store, run, bucket)
    _, new_bytes = run(upload_part(store, bucket, "mp", uid, 1, data))
    assert new_bytes == 0


def test_part_bad_digest(store, run, bucket):
    uid = start_upload(store, run, bucket)
    with pytest.raises(errors.BadDigest):
        run(upload_part(store, bucket, "mp", uid, 1, content("d", MIN), content_md5=hashlib.md5(b"x").digest()))
    assert run(store.list_parts(bucket, "mp", uid)).parts == ()
    part, _ = run(upload_part(store, bucket, "mp", uid, 1, b"ok", content_md5=hashlib.md5(b"ok").digest(),
                          checksums={"CRC32": "AAAAAA=="}))
    assert run(store.list_parts(bucket, "mp", uid)).parts[0].checksums == {"CRC32": "AAAAAA=="}


def test_list_parts_pagination(store, run, bucket):
    uid = start_upload(store, run, bucket)
    numbers = [1, 2, 3, 5, 8, 13, 21, 10000]
    for n in numbers:
        run(upload_part(store, bucket, "mp", uid, n, str(n).encode()))
    seen, marker = [], 0
    while True:
        page = run(store.list_parts(bucket, "mp", uid, part_number_marker=marker, max_parts=3))
        assert len(page.parts) <= 3
        seen += [p.part_number for p in page.parts]
        if not page.is_truncated:
            break
        assert page.next_marker == page.parts[-1].part_number
        marker = page.next_marker
    assert seen == numbers
    page = run(store.list_parts(bucket, "mp", uid, part_number_marker=8))
    assert [p.part_number for p in page.parts] == [13, 21, 10000] and not page.is_truncated
    assert page.upload.key == "mp" and page.upload.upload_id == uid
    page = run(store.list_parts(bucket, "mp", uid, max_parts=len(numbers)))
    assert not page.is_truncated


def test_list_multipart_uploads(store, run, bucket):
    keys = ["a/1", "a/2", "b", "c/x/y", "c/z"]
    ids = {k: start_upload(store, run, bucket, k) for k in keys}
    page = run(store.list_multipart_uploads(bucket))
    assert [u.key for u in page.uploads] == keys and not page.is_truncated
    assert {u.key: u.upload_id for u in page.uploads} == ids
    page = run(store.list_multipart_uploads(bucket, prefix="c/"))
    assert [u.key for u in page.uploads] == ["c/x/y", "c/z"]
    page = run(store.list_multipart_uploads(bucket, delimiter="/"))
    assert [u.key for u in page.uploads] == ["b"] and page.common_prefixes == ("a/", "c/")
    page = run(store.list_multipart_uploads(bucket, prefix="c/", delimiter="/"))
    assert [u.key for u in page.uploads] == ["c/z"] and page.common_prefixes == ("c/x/",)
    page = run(store.list_multipart_uploads(bucket, key_marker="a/2"))
    assert [u.key for u in page.uploads] == ["b", "c/x/y", "c/z"]
    page = run(store.list_multipart_uploads(bucket, max_uploads=2))
    assert [u.key for u in page.uploads] == ["a/1", "a/2"] and page.is_truncated
    assert page.next_key_marker == "a/2" and page.next_upload_id_marker == ids["a/2"]
    run(store.abort_multipart_upload(bucket, "b", ids["b"]))
    assert "b" not in [u.key for u in run(store.list_multipart_uploads(bucket)).uploads]
    with pytest.raises(errors.NoSuchBucket):
        run(store.list_multipart_uploads("missing-bucket"))


def test_list_multipart_uploads_pages_through_uploads_of_one_key(store, run, bucket):
    ids = [start_upload(store, run, bucket, "same") for _ in range(8)] + [start_upload(store, run, bucket, "z")]
    seen: list[str] = []
    key_marker = upload_marker = ""
    for _ in range(20):
        page = run(store.list_multipart_uploads(bucket, key_marker=key_marker, upload_id_marker=upload_marker, max_uploads=1))
        seen += [u.upload_id for u in page.uploads]
        if not page.is_truncated:
            break
        key_marker, upload_marker = page.next_key_marker or "", page.next_upload_id_marker or ""
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)


def test_completing_replaces_an_existing_object(store, run, bucket):
    run(store.put_object(bucket, "mp", stream([b"previous"]), META))
    uid = start_upload(store, run, bucket)
    data = content("replacement", 2 * MIN)
    e = run(upload_part(store, bucket, "mp", uid, 1, data))[0].etag
    run(store.complete_multipart_upload(bucket, "mp", uid, [(1, e)]))
    assert_same(run(read(store, bucket, "mp")), data)
    stats = run(store.stats())
    assert stats.objects == 1 and stats.logical_bytes == len(data)


def test_complete_expect_refuses(store, run, bucket):
    uid = start_upload(store, run, bucket)
    e = run(upload_part(store, bucket, "mp", uid, 1, b"body"))[0].etag

    def refuse(existing):
        raise errors.PreconditionFailed("If-None-Match")

    with pytest.raises(errors.PreconditionFailed):
        run(store.complete_multipart_upload(bucket, "mp", uid, [(1, e)], expect=refuse))
    with pytest.raises(errors.NoSuchKey):
        run(store.head_object(bucket, "mp"))
    assert [p.part_number for p in run(store.list_parts(bucket, "mp", uid)).parts] == [1]


def test_complete_checksums_are_stored(store, run, bucket):
    uid = start_upload(store, run, bucket, meta=ObjectMeta("text/plain"))
    e = run(upload_part(store, bucket, "mp", uid, 1, b"body"))[0].etag
    info = run(store.complete_multipart_upload(bucket, "mp", uid, [(1, e)], checksums={"CRC32": "abc=-1"}))
    assert info.meta.checksums == {"CRC32": "abc=-1"} and info.meta.content_type == "text/plain"


def test_empty_part(store, run, bucket):
    uid = start_upload(store, run, bucket)
    e = run(upload_part(store, bucket, "mp", uid, 1, b""))[0].etag
    info = run(store.complete_multipart_upload(bucket, "mp", uid, [(1, e)]))
    assert info.size == 0 and info.etag == multipart_etag([b""])
    assert_same(run(read(store, bucket, "mp")), b"")
    assert run(store.check()).ok


def test_ranges_across_part_boundaries(store, run, bucket):
    parts = [content(f"r{i}", MIN + i * 777) for i in range(3)] + [content("r-last", 999)]
    uid = start_upload(store, run, bucket)
    etags = [run(upload_part(store, bucket, "mp", uid, i + 1, p))[0].etag for i, p in enumerate(parts)]
    run(store.complete_multipart_upload(bucket, "mp", uid, list(enumerate(etags, start=1))))
    whole = b"".join(parts)
    rng = random.Random(7)
    bounds = list(itertools.accumulate(len(p) for p in parts))
    starts = [0, *bounds[:-1]]
    for _ in range(60):
        a = rng.choice([rng.randrange(len(whole)), *(max(0, b - rng.randrange(3)) for b in bounds[:-1])])
        b = min(len(whole) - 1, a + rng.choice([0, 1, 100, MIN, 3 * MIN]))
        assert_same(run(read(store, bucket, "mp", ByteRange(a, b))), whole[a : b + 1])
    assert_same(run(read(store, bucket, "mp", ByteRange(None, 1500))), whole[-1500:])
    assert starts[0] == 0


def test_abort_while_a_part_is_streaming_leaks_nothing(store, run, bucket):
    uid = start_upload(store, run, bucket)
    halfway = asyncio.Event()

    async def body():
        for i, piece in enumerate(split(content("slow", 400 * KiB), [16 * KiB])):
            if i == 10:
                halfway.set()
                await asyncio.sleep(0)
                await asyncio.sleep(0)
            yield piece

    async def race():
        upload = asyncio.ensure_future(store.upload_part(bucket, "mp", uid, 1, body()))
        await halfway.wait()
        await store.abort_multipart_upload(bucket, "mp", uid)
        with pytest.raises(errors.NoSuchUpload):
            await upload

    run(race())
    run(store.collect_garbage(grace_seconds=0))
    stats = run(store.stats())
    assert (stats.unique_bytes, stats.fragments) == (0, 0)
    assert run(store.check()).ok


def test_list_multipart_uploads_continues_after_its_marker_upload_is_aborted(store, run, bucket):
    ids = [start_upload(store, run, bucket, "same") for _ in range(5)]
    first = run(store.list_multipart_uploads(bucket, max_uploads=2))
    assert first.is_truncated
    marker = first.next_upload_id_marker
    run(store.abort_multipart_upload(bucket, "same", marker))  # gone before the next page
    rest = run(store.list_multipart_uploads(bucket, key_marker=first.next_key_marker, upload_id_marker=marker))
    seen = [u.upload_id for u in first.uploads] + [u.upload_id for u in rest.uploads]
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)
