"""Running out of space: ENOSPC on a pack append and a full LMDB map both
surface as StorageFull and publish nothing; a store with room again works on.
(A full index refuses deletes too: LMDB needs free pages to delete.)"""

from __future__ import annotations

import errno
import os

import pytest
from storetest import SMALL, assert_same, content, put, read

from dedup import errors
from dedup.types import DeleteRequest, KiB, StoreConfig


def test_enospc_on_append(store, run, bucket, monkeypatch):
    kept = content("kept", 100 * KiB)
    run(put(store, bucket, "kept", kept))
    real = os.pwritev

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwritev", full)
    with pytest.raises(errors.StorageFull):
        run(put(store, bucket, "new", content("new", 300 * KiB)))
    monkeypatch.setattr(os, "pwritev", real)
    with pytest.raises(errors.NoSuchKey):
        run(store.head_object(bucket, "new"))
    assert run(store.check()).ok
    data = content("new", 300 * KiB)
    run(put(store, bucket, "new", data))
    assert_same(run(read(store, bucket, "new")), data)
    assert_same(run(read(store, bucket, "kept")), kept)
    run(store.collect_garbage(grace_seconds=0))
    assert run(store.stats()).unique_bytes == len(kept) + len(data)
    assert run(store.check()).ok


@pytest.mark.lmdb_only  # LMDB's map size; PostgreSQL full is its disk
def test_full_index_map(harness, run):
    store = harness.reopen(StoreConfig(**{**SMALL.__dict__, "map_size": 512 * KiB}))
    run(store.create_bucket("bucket-a", "owner"))
    acked: dict[str, bytes] = {}
    with pytest.raises(errors.StorageFull):
        for i in range(2000):
            data = content(f"m{i}", 200 * KiB)
            run(put(store, "bucket-a", f"k{i:04d}", data))
            acked[f"k{i:04d}"] = data
    assert acked, "the map filled before the first object"
    for key in list(acked)[-3:]:
        assert_same(run(read(store, "bucket-a", key)), acked[key])
    # Nothing acknowledged is lost; with a larger map the store goes on.
    store = harness.reopen(SMALL)
    for key, data in acked.items():
        assert run(store.head_object("bucket-a", key)).size == len(data)
    assert_same(run(read(store, "bucket-a", key)), data)
    run(store.delete_objects("bucket-a", [DeleteRequest(k) for k in list(acked)[: len(acked) // 2]]))
    run(put(store, "bucket-a", "after", b"more"))
    assert run(store.check()).ok
