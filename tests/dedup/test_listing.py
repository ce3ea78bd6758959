"""ListObjects semantics: prefix, delimiter and common prefixes, the exclusive
``after`` marker (also after a common prefix), max_keys with is_truncated and
next_marker, S3 (UTF-8 byte) order with unicode and very long keys."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storetest import assert_same, put, read

from dedup import errors
from dedup.types import DeleteRequest, ListPage

KEYS = [
    "a", "a/b", "a/b/c", "a/c", "a0", "b", "b/", "b//x", "photos/2024/jan/1.jpg",
    "photos/2024/feb/2.jpg", "photos/2025/x.jpg", "photos/readme", "z",
]


def _fill(store, run, bucket, keys):
    for k in keys:
        run(put(store, bucket, k, k.encode()))


def _model(keys: list[str], prefix: str, delimiter: str, after: str) -> list[tuple[str, bool]]:
    """What S3 returns, in order: (key or common prefix, is_prefix), unpaged."""
    out: list[tuple[str, bool]] = []
    for k in sorted(keys, key=lambda s: s.encode()):
        if not k.startswith(prefix):
            continue
        item = (k, False)
        if delimiter:
            i = k.find(delimiter, len(prefix))
            if i >= 0:
                item = (k[: i + len(delimiter)], True)
        if item[0] <= after if after else False:
            continue
        if out and out[-1] == item:
            continue
        out.append(item)
    return out


def _page_items(page: ListPage) -> list[tuple[str, bool]]:
    items = [(e.key, False) for e in page.entries] + [(p, True) for p in page.common_prefixes]
    return sorted(items, key=lambda kv: kv[0].encode())


def _walk(store, run, bucket, prefix="", delimiter="", max_keys=1000, after=""):
    """Every page of a listing, following next_marker."""
    pages = []
    while True:
        page = run(store.list_objects(bucket, prefix, delimiter, after, max_keys))
        pages.append(page)
        if not page.is_truncated:
            return pages
        assert page.next_marker is not None and page.next_marker > after
        after = page.next_marker
        assert len(pages) < 10_000


def test_plain_listing_is_sorted_with_sizes(store, run, bucket):
    _fill(store, run, bucket, KEYS)
    page = run(store.list_objects(bucket))
    assert [e.key for e in page.entries] == sorted(KEYS)
    assert all(e.size == len(e.key.encode()) for e in page.entries)
    assert not page.is_truncated and page.common_prefixes == ()


def test_prefix_and_delimiter(store, run, bucket):
    _fill(store, run, bucket, KEYS)
    page = run(store.list_objects(bucket, "photos/", "/"))
    assert [e.key for e in page.entries] == ["photos/readme"]
    assert page.common_prefixes == ("photos/2024/", "photos/2025/")
    page = run(store.list_objects(bucket, "photos/2024/", "/"))
    assert page.common_prefixes == ("photos/2024/feb/", "photos/2024/jan/")
    page = run(store.list_objects(bucket, "", "/"))
    assert [e.key for e in page.entries] == ["a", "a0", "b", "z"]
    assert page.common_prefixes == ("a/", "b/", "photos/")
    page = run(store.list_objects(bucket, "b/", "/"))
    assert [e.key for e in page.entries] == ["b/"] and page.common_prefixes == ("b//",)
    assert run(store.list_objects(bucket, "nothing")).entries == ()


def test_multi_character_delimiter(store, run, bucket):
    _fill(store, run, bucket, ["x--1--a", "x--1--b", "x--2", "x-3"])
    page = run(store.list_objects(bucket, "x--", "--"))
    assert [e.key for e in page.entries] == ["x--2"] and page.common_prefixes == ("x--1--",)


def test_after_is_exclusive(store, run, bucket):
    _fill(store, run, bucket, KEYS)
    page = run(store.list_objects(bucket, after="a/b"))
    assert page.entries[0].key == "a/b/c"
    page = run(store.list_objects(bucket, after="a/bb"))
    assert page.entries[0].key == "a/c"
    page = run(store.list_objects(bucket, after="zz"))
    assert page.entries == () and not page.is_truncated


def test_after_a_common_prefix_skips_everything_under_it(store, run, bucket):
    _fill(store, run, bucket, KEYS)
    page = run(store.list_objects(bucket, "", "/", after="a/"))
    assert [e.key for e in page.entries] == ["a0", "b", "z"]
    assert page.common_prefixes == ("b/", "photos/")
    page = run(store.list_objects(bucket, "photos/", "/", after="photos/2024/"))
    assert page.common_prefixes == ("photos/2025/",)
    # An `after` inside a common prefix also skips the rest of that prefix.
    page = run(store.list_objects(bucket, "", "/", after="a/b"))
    assert page.common_prefixes[0] == "b/"


def test_max_keys_truncation_and_next_marker(store, run, bucket):
    _fill(store, run, bucket, KEYS)
    page = run(store.list_objects(bucket, max_keys=3))
    assert [e.key for e in page.entries] == sorted(KEYS)[:3]
    assert page.is_truncated and page.next_marker == sorted(KEYS)[2]
    page = run(store.list_objects(bucket, max_keys=len(KEYS)))
    assert not page.is_truncated and len(page.entries) == len(KEYS)
    page = run(store.list_objects(bucket, "", "/", max_keys=2))
    assert _page_items(page) == [("a", False), ("a/", True)]
    assert page.is_truncated and page.next_marker == "a/"
    page = run(store.list_objects(bucket, max_keys=0))
    assert page.entries == () and page.common_prefixes == ()


@pytest.mark.parametrize("max_keys", [1, 2, 5])
@pytest.mark.parametrize(("prefix", "delimiter"), [("", ""), ("", "/"), ("photos/", "/"), ("a", "/"), ("b/", "/")])
def test_paging_concatenates_to_the_full_listing(store, run, bucket, max_keys, prefix, delimiter):
    _fill(store, run, bucket, KEYS)
    pages = _walk(store, run, bucket, prefix, delimiter, max_keys)
    got = [item for page in pages for item in _page_items(page)]
    assert_same(got, _model(KEYS, prefix, delimiter, ""))
    assert all(len(p.entries) + len(p.common_prefixes) <= max_keys for p in pages)


def test_utf8_byte_order_with_unicode_keys(store, run, bucket):
    keys = ["z", "\u00e9", "\uffff", "\U0001f600", "\ue000", "A", "a", "\u0100", "a\u00e9", "ab"]
    _fill(store, run, bucket, keys)
    listed = [e.key for e in run(store.list_objects(bucket)).entries]
    assert listed == sorted(keys, key=lambda s: s.encode("utf-8"))
    # Paging one key at a time gives the same order.
    pages = _walk(store, run, bucket, max_keys=1)
    assert [e.key for p in pages for e in p.entries] == listed
    page = run(store.list_objects(bucket, after="\ue000"))
    assert [e.key for e in page.entries] == ["\uffff", "\U0001f600"]


def test_long_keys_round_trip_and_list(store, run, bucket):
    keys = ["k" * 501, "m" * 700, "n" * 1024, "é" * 512, "o" * 400 + "/" + "x" * 300]
    _fill(store, run, bucket, keys)
    for k in keys:
        assert run(store.head_object(bucket, k)).key == k
        assert_same(run(read(store, bucket, k)), k.encode())
    listed = [e.key for e in run(store.list_objects(bucket)).entries]
    assert listed == sorted(keys, key=lambda s: s.encode())
    page = run(store.list_objects(bucket, "o" * 400 + "/", "/"))
    assert [e.key for e in page.entries] == ["o" * 400 + "/" + "x" * 300]
    page = run(store.list_objects(bucket, "", "/"))
    assert page.common_prefixes == ("o" * 400 + "/",)
    with pytest.raises(errors.InvalidObjectKey):
        run(put(store, bucket, "k" * 1025, b""))
    run(store.delete_object(bucket, "n" * 1024))
    assert len(run(store.list_objects(bucket)).entries) == len(keys) - 1


def test_long_key_sorts_against_plain_keys_with_the_same_start(store, run, bucket):
    stem = "k" * 469
    keys = [stem + "a" * 31, stem + "k" * 32, stem + "z" * 31, stem + "a" * 40, stem + "z" * 40]
    _fill(store, run, bucket, keys)
    listed = [e.key for e in run(store.list_objects(bucket)).entries]
    assert listed == sorted(keys)


def test_long_keys_sharing_a_long_prefix_keep_s3_order(store, run, bucket):
    stem = "p" * 480
    keys = [stem + f"{i:04d}" + "q" * 100 for i in range(12)]
    _fill(store, run, bucket, keys)
    listed = [e.key for e in run(store.list_objects(bucket)).entries]
    assert listed == sorted(keys)


def test_long_keys_sharing_a_long_prefix_page_completely(store, run, bucket):
    stem = "p" * 480
    keys = [stem + f"{i:04d}" + "q" * 100 for i in range(12)]
    _fill(store, run, bucket, keys)
    pages = _walk(store, run, bucket, max_keys=1)
    assert sorted(e.key for p in pages for e in p.entries) == sorted(keys)


def test_prefix_longer_than_the_stored_key_form(store, run, bucket):
    stem = "d" * 490
    keys = [stem + "/one" + "x" * 100, stem + "/two" + "y" * 100, stem + "+other" + "z" * 100]
    _fill(store, run, bucket, keys)
    page = run(store.list_objects(bucket, stem + "/"))
    assert sorted(e.key for e in page.entries) == sorted(keys[:2])


def test_common_prefix_longer_than_469_bytes_is_reported_once(store, run, bucket):
    common = "c" * 480 + "/"
    keys = [common + f"{i:03d}" + "v" * 60 for i in range(20)]
    _fill(store, run, bucket, keys)
    page = run(store.list_objects(bucket, "", "/"))
    assert page.common_prefixes == (common,) and page.entries == ()
    assert not page.is_truncated


def test_buckets_do_not_leak_into_each_other(store, run, bucket):
    run(store.create_bucket("bucket-b", "owner-a"))
    _fill(store, run, bucket, ["k1", "k2"])
    run(put(store, "bucket-b", "k3", b""))
    assert [e.key for e in run(store.list_objects("bucket-b")).entries] == ["k3"]
    with pytest.raises(errors.NoSuchBucket):
        run(store.list_objects("missing-bucket"))


_alphabet = st.sampled_from(["a", "b", "/", "é", "\U0001f600", "-"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    keys=st.sets(st.text(_alphabet, min_size=1, max_size=6), min_size=1, max_size=25),
    prefix=st.text(_alphabet, max_size=2),
    delimiter=st.sampled_from(["", "/", "é"]),
    max_keys=st.integers(1, 7),
    after=st.text(_alphabet, max_size=3),
)
def test_listing_matches_the_model(harness, keys, prefix, delimiter, max_keys, after):
    store, run = harness.store, harness.run
    name = f"prop-{len(run(store.list_buckets())):06d}"
    run(store.create_bucket(name, "owner-a"))
    _fill(store, run, name, keys)
    pages = _walk(store, run, name, prefix, delimiter, max_keys, after)
    got = [item for page in pages for item in _page_items(page)]
    assert_same(got, _model(list(keys), prefix, delimiter, after))


_stems = st.sampled_from(["s" * 469, "s" * 495, "s" * 499, "s" * 500, "s" * 520, "s" * 600])
_tails = st.text(st.sampled_from(["a", "z", "/", "é"]), max_size=8)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    keys=st.sets(st.builds(str.__add__, _stems, _tails), min_size=1, max_size=14),
    cut=st.integers(0, 620),
    delimiter=st.sampled_from(["", "/", "a"]),
    max_keys=st.integers(1, 5),
    after=st.one_of(st.just(""), st.builds(str.__add__, _stems, _tails)),
)
def test_long_key_listing_matches_the_model(harness, keys, cut, delimiter, max_keys, after):
    store, run = harness.store, harness.run
    name = f"long-{len(run(store.list_buckets())):06d}"
    run(store.create_bucket(name, "owner-a"))
    _fill(store, run, name, keys)
    prefix = sorted(keys)[0][:cut]
    pages = _walk(store, run, name, prefix, delimiter, max_keys, after)
    got = [item for page in pages for item in _page_items(page)]
    assert got == _model(list(keys), prefix, delimiter, after)


def test_long_keys_overwrite_delete_copy(store, run, bucket):
    stem = "g" * 500
    a, b, c = stem + "a" * 20, stem + "b" * 300, stem + "c" * 524
    for k in (a, b, c):
        run(put(store, bucket, k, k[-1].encode() * 10))
    run(put(store, bucket, b, b"rewritten"))
    assert run(read(store, bucket, b)) == b"rewritten"
    run(store.copy_object(bucket, c, bucket, stem + "d"))
    assert run(store.delete_object(bucket, a)).removed is True
    assert run(store.delete_object(bucket, a)).removed is False
    assert [e.key for e in run(store.list_objects(bucket)).entries] == [b, c, stem + "d"]
    stats = run(store.stats())
    assert stats.objects == 3 and stats.logical_bytes == 9 + 10 + 10
    run(store.delete_objects(bucket, [DeleteRequest(b), DeleteRequest(c)]))
    with pytest.raises(errors.BucketNotEmpty):
        run(store.delete_bucket(bucket))
    run(store.delete_object(bucket, stem + "d"))
    run(store.delete_bucket(bucket))
