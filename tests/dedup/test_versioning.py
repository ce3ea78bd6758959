"""S3 object versions in the engine (dedup/versioning.py): a model of AWS's
semantics driven by hypothesis against the store, then the cases by name:
null versions across Enabled -> Suspended -> Enabled, delete markers, paging
of ListObjectVersions, reads by version id, shared fragments and the space
that deleting versions gives back."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storetest import OWNER, SMALL, content, put, read

from dedup import Store, errors
from dedup.types import DeleteRequest, KiB

pytestmark = pytest.mark.packstores  # every test once per pack store (conftest.py)

KEYS = ["a", "a/b", "b", "b\u00e9", "c"]


@dataclass
class Version:
    version_id: str
    null: bool
    marker: bool
    data: bytes = b""


@dataclass
class Model:
    """AWS's versioning rules, written as plainly as possible."""

    state: str = ""
    keys: dict[str, list[Version]] = field(default_factory=dict)  # newest first

    def _drop_null(self, key: str) -> None:
        self.keys[key] = [v for v in self.keys.get(key, []) if not v.null]

    def write(self, key: str, version: Version) -> None:
        if not self.state:
            self.keys[key] = [version]
            return
        if self.state == "Suspended":
            self._drop_null(key)
        self.keys[key] = [version, *self.keys.get(key, [])]

    def delete(self, key: str, version_id: str) -> None:
        remaining = [v for v in self.keys.get(key, []) if v.version_id != version_id]
        if remaining:
            self.keys[key] = remaining
        else:
            self.keys.pop(key, None)

    def listing(self) -> list[tuple[str, str, bool, bool]]:
        out = []
        for key in sorted(self.keys, key=lambda k: k.encode()):
            for i, v in enumerate(self.keys[key]):
                out.append((key, v.version_id, i == 0, v.marker))
        return out


op = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(KEYS), st.integers(0, 3)),
    st.tuples(st.just("delete"), st.sampled_from(KEYS), st.just(0)),
    st.tuples(st.just("delete_version"), st.sampled_from(KEYS), st.integers(0, 5)),
    st.tuples(st.just("state"), st.sampled_from(["Enabled", "Suspended"]), st.just(0)),
)


def _listing(store: Store, run, bucket: str, max_keys: int = 1000) -> list[tuple[str, str, bool, bool]]:
    out = []
    key_marker, version_marker = "", None
    while True:
        page = run(store.list_object_versions(bucket, key_marker=key_marker, version_id_marker=version_marker,
                                              max_keys=max_keys))
        out += [(e.key, e.version_id, e.is_latest, e.delete_marker) for e in page.entries]
        if not page.is_truncated:
            return out
        assert page.entries and page.next_key_marker is not None
        key_marker, version_marker = page.next_key_marker, page.next_version_id_marker


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=1, max_size=25), page=st.integers(1, 4))
def test_versions_follow_the_model(harness, ops, page):
    store = harness.store
    run = harness.run
    bucket = f"m-{abs(hash((tuple(ops), page))) % 10**12}"
    run(store.create_bucket(bucket, OWNER))
    model = Model()
    for kind, arg, n in ops:
        if kind == "state":
            run(store.put_bucket_versioning(bucket, arg))
            model.state = arg
        elif kind == "put":
            data = f"{arg}:{n}:{len(model.keys.get(arg, []))}".encode() * (n * 700 + 1)
            info = run(put(store, bucket, arg, data)).info
            model.write(arg, Version(info.version_id, info.version_id == "null", False, data))
        elif kind == "delete":
            result = run(store.delete_object(bucket, arg))
            if not model.state:
                model.keys.pop(arg, None)
                assert result.version_id is None
            else:
                assert result.delete_marker
                model.write(arg, Version(result.version_id, result.version_id == "null", True))
        else:
            versions = model.keys.get(arg, [])
            if versions:
                target = versions[n % len(versions)]
                result = run(store.delete_object(bucket, arg, version_id=target.version_id))
                assert result.removed and result.delete_marker == target.marker
                model.delete(arg, target.version_id)
        assert _listing(store, run, bucket) == model.listing()
    assert _listing(store, run, bucket, max_keys=page) == model.listing()
    for key, versions in model.keys.items():
        latest = versions[0]
        if latest.marker:
            with pytest.raises(errors.NoSuchKey) as caught:
                run(store.head_object(bucket, key))
            assert caught.value.marker_version == latest.version_id
        else:
            assert run(read(store, bucket, key)) == latest.data
        for v in versions:
            if v.marker:
                with pytest.raises(errors.DeleteMarkerVersion):
                    run(store.head_object(bucket, key, v.version_id))
            else:
                got = run(store.open_object(bucket, key, version_id=v.version_id))
                run(got.aclose())
                assert got.info.version_id == v.version_id and got.info.size == len(v.data)
    listed = {e.key for e in run(store.list_objects(bucket)).entries}
    assert listed == {k for k, vs in model.keys.items() if not vs[0].marker}
    stats = {b.name: b for b in run(store.stats()).buckets}[bucket]
    assert stats.objects == sum(1 for vs in model.keys.values() for v in vs if not v.marker)
    assert stats.logical_bytes == sum(len(v.data) for vs in model.keys.values() for v in vs)
    assert run(store.check(verify=False)).ok
    for key, versions in list(model.keys.items()):
        for v in versions:
            run(store.delete_object(bucket, key, version_id=v.version_id))
    run(store.delete_bucket(bucket))


def test_null_versions_across_enabled_suspended_enabled(store, run, bucket):
    first = run(put(store, bucket, "k", b"before versioning")).info
    assert first.version_id == "null" and not first.versioned
    run(store.put_bucket_versioning(bucket, "Enabled"))
    v1 = run(put(store, bucket, "k", b"one")).info
    assert v1.versioned and v1.version_id != "null" and len(v1.version_id) == 32
    run(store.put_bucket_versioning(bucket, "Suspended"))
    null2 = run(put(store, bucket, "k", b"suspended one")).info
    assert null2.version_id == "null"  # replaces the first null version
    null3 = run(put(store, bucket, "k", b"suspended two")).info
    assert null3.version_id == "null"
    run(store.put_bucket_versioning(bucket, "Enabled"))
    v2 = run(put(store, bucket, "k", b"two")).info
    page = run(store.list_object_versions(bucket))
    assert [(e.version_id, e.is_latest) for e in page.entries] == [
        (v2.version_id, True), ("null", False), (v1.version_id, False)]
    assert run(read_version(store, bucket, "k", "null")) == b"suspended two"
    assert run(read_version(store, bucket, "k", v1.version_id)) == b"one"
    assert run(store.stats()).objects == 3


async def read_version(store: Store, bucket: str, key: str, version_id: str) -> bytes:
    return await read(store, bucket, key, version_id=version_id)


def test_delete_marker_hides_the_object_and_removing_it_brings_it_back(store, run, bucket):
    run(store.put_bucket_versioning(bucket, "Enabled"))
    v1 = run(put(store, bucket, "k", b"data")).info
    marker = run(store.delete_object(bucket, "k"))
    assert marker.delete_marker and marker.version_id not in (None, "null")
    with pytest.raises(errors.NoSuchKey) as caught:
        run(store.head_object(bucket, "k"))
    assert caught.value.marker_version == marker.version_id
    assert [e.key for e in run(store.list_objects(bucket)).entries] == []
    with pytest.raises(errors.BucketNotEmpty):
        run(store.delete_bucket(bucket))
    gone = run(store.delete_object(bucket, "k", version_id=marker.version_id))
    assert gone.removed and gone.delete_marker
    assert run(read(store, bucket, "k")) == b"data"
    assert run(store.head_object(bucket, "k")).version_id == v1.version_id


def test_delete_of_a_missing_key_in_a_versioned_bucket_writes_a_marker(store, run, bucket):
    run(store.put_bucket_versioning(bucket, "Enabled"))
    result = run(store.delete_object(bucket, "never-written"))
    assert result.delete_marker and result.removed
    entries = run(store.list_object_versions(bucket)).entries
    assert [(e.key, e.delete_marker, e.is_latest) for e in entries] == [("never-written", True, True)]


def test_unknown_and_malformed_version_ids(store, run, bucket):
    run(store.put_bucket_versioning(bucket, "Enabled"))
    run(put(store, bucket, "k", b"x"))
    with pytest.raises(errors.NoSuchVersion):
        run(store.head_object(bucket, "k", "0" * 32))
    with pytest.raises(errors.NoSuchVersion):
        run(store.head_object(bucket, "k", "null"))
    for bad in ("nope", "g" * 32, "1" * 31):
        with pytest.raises(errors.InvalidVersionId):
            run(store.head_object(bucket, "k", bad))
    assert not run(store.delete_object(bucket, "k", version_id="0" * 32)).removed
    with pytest.raises(errors.InvalidVersionId):
        run(store.delete_object(bucket, "k", version_id="bad"))


def test_version_ids_are_not_guessable_from_each_other(store, run, bucket):
    run(store.put_bucket_versioning(bucket, "Enabled"))
    ids = [run(put(store, bucket, "k", b"%d" % i)).info.version_id for i in range(5)]
    assert len({i[16:] for i in ids}) == 5
    assert sorted(ids, key=lambda i: int(i[:16], 16)) == ids


def test_copy_from_an_old_version(store, run, bucket):
    run(store.put_bucket_versioning(bucket, "Enabled"))
    old = run(put(store, bucket, "k", b"old bytes")).info
    run(put(store, bucket, "k", b"new bytes"))
    source, copied = run(store.copy_object(bucket, "k", bucket, "k", src_version_id=old.version_id))
    assert source.version_id == old.version_id
    assert run(read(store, bucket, "k")) == b"old bytes"  # restored as a new version
    assert copied.version_id not in (old.version_id, "null")
    assert len(run(store.list_object_versions(bucket)).entries) == 3
    marker = run(store.delete_object(bucket, "k"))
    with pytest.raises(errors.CopyFromDeleteMarker):
        run(store.copy_object(bucket, "k", bucket, "x", src_version_id=marker.version_id))
    with pytest.raises(errors.NoSuchKey):
        run(store.copy_object(bucket, "k", bucket, "x"))


def test_versions_share_fragments_and_deleting_them_gives_space_back(store, run, bucket):
    """Five checkpoints of 1 MiB that differ in 32 KiB each cost about one
    checkpoint plus the changes; deleting all but the newest frees the rest."""
    run(store.put_bucket_versioning(bucket, "Enabled"))
    base = bytearray(content("ckpt", 1024 * KiB))
    ids = []
    for i in range(5):
        base[i * 200 * KiB: i * 200 * KiB + 32 * KiB] = content(f"change{i}", 32 * KiB)
        ids.append(run(put(store, bucket, "ckpt", bytes(base))).info.version_id)
    stats = run(store.stats())
    assert stats.logical_bytes == 5 * 1024 * KiB
    assert stats.unique_bytes < 1024 * KiB + 5 * 3 * SMALL.max_fragment + 5 * 32 * KiB
    for old in ids[:-1]:
        run(store.delete_object(bucket, "ckpt", version_id=old))
    run(store.collect_garbage(grace_seconds=0))
    after = run(store.stats())
    assert after.logical_bytes == after.unique_bytes == 1024 * KiB
    assert run(read(store, bucket, "ckpt")) == bytes(base)
    assert run(store.check()).ok


def test_delete_objects_mixes_versions_markers_and_conditions(store, run, bucket):
    run(store.put_bucket_versioning(bucket, "Enabled"))
    v = run(put(store, bucket, "a", b"a")).info
    run(put(store, bucket, "b", b"b"))

    def refuse(_info: object) -> None:
        raise errors.PreconditionFailed("If-Match")

    results = run(store.delete_objects(bucket, [
        DeleteRequest("a", v.version_id), DeleteRequest("b"), DeleteRequest("c", None, refuse),
        DeleteRequest("d", "zz"),
    ]))
    assert results[0].removed and not results[0].delete_marker
    assert results[1].delete_marker
    assert isinstance(results[2], errors.PreconditionFailed)
    assert isinstance(results[3], errors.InvalidVersionId)
    assert [e.key for e in run(store.list_object_versions(bucket)).entries] == ["b", "b"]


def test_listing_versions_with_a_delimiter(store, run, bucket):
    run(store.put_bucket_versioning(bucket, "Enabled"))
    for key in ("dir/a", "dir/b", "top", "zed/x"):
        run(put(store, bucket, key, key.encode()))
        run(put(store, bucket, key, key.encode() * 2))
    page = run(store.list_object_versions(bucket, delimiter="/"))
    assert page.common_prefixes == ("dir/", "zed/")
    assert [(e.key, e.is_latest) for e in page.entries] == [("top", True), ("top", False)]
    first = run(store.list_object_versions(bucket, delimiter="/", max_keys=2))
    assert first.is_truncated and first.common_prefixes == ("dir/",)
    rest = run(store.list_object_versions(bucket, delimiter="/", key_marker=first.next_key_marker,
                                          version_id_marker=first.next_version_id_marker))
    assert [e.key for e in rest.entries] == ["top"] and rest.common_prefixes == ("zed/",)


def test_versions_survive_reopen(harness, run, bucket):
    store = harness.store
    run(store.put_bucket_versioning(bucket, "Enabled"))
    ids = [run(put(store, bucket, "k", b"v%d" % i)).info.version_id for i in range(3)]
    store = harness.reopen()
    assert [e.version_id for e in harness.run(store.list_object_versions(bucket)).entries] == ids[::-1]
    assert harness.run(store.get_bucket_versioning(bucket)) == "Enabled"
    assert harness.run(read_version(store, bucket, "k", ids[0])) == b"v0"
