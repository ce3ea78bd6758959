"""What only packs in S3 have (dedup/s3packs.py, dedup/packcache.py): reads
coalesced into ranged GETs and served again from the block cache, the cache's
bound, and a process killed between a segment's PUT and its index commit
(the segment is garbage: removed on the next open, nothing acknowledged lost).

The S3 service is a second fragstore process (``pack_server`` in conftest.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from dataclasses import asdict, replace
from pathlib import Path

import pytest
from storetest import OWNER, SMALL, content, put, read

from dedup import Store, errors
from dedup.packcache import BLOCK, BlockCache
from dedup.packsopen import parse_s3_url
from dedup.s3packs import S3Packs, S3Target
from dedup.types import KiB, MiB

pytestmark = pytest.mark.packstores


@pytest.fixture(autouse=True)
def _s3_only(pack_store: str) -> None:
    if pack_store != "s3":
        pytest.skip("about packs in S3")


def gets(store: Store) -> int:
    return sum(op.count for op in store.packs.figures().ops if op.op == "get_object")


def test_reads_are_coalesced_and_cached(harness, run) -> None:
    store = harness.reopen(replace(SMALL, batch_bytes=1 * MiB, pack_size=8 * MiB))
    run(store.create_bucket("bucket-a", OWNER))
    data = content("coalesce", 3 * MiB)
    run(put(store, "bucket-a", "k", data, piece=256 * KiB))
    touched = len(store.packs.list())
    blocks = sum(-(-p.length // BLOCK) for p in store.packs.list())
    first = gets(store)
    assert run(read(store, "bucket-a", "k")) == data
    fetched = gets(store) - first
    assert 1 <= fetched <= blocks and fetched <= touched + 3, (fetched, touched, blocks)
    figures = store.packs.figures()
    assert figures.cache_misses >= fetched and figures.cache_bytes >= len(data)
    again = gets(store)
    assert run(read(store, "bucket-a", "k")) == data
    assert gets(store) == again  # all from the cache
    assert store.packs.figures().cache_hits > figures.cache_hits


def test_the_cache_stays_within_its_bound(harness, run) -> None:
    store = harness.reopen(replace(SMALL, packs_cache_bytes=2 * BLOCK))
    run(store.create_bucket("bucket-a", OWNER))
    data = content("bound", 5 * MiB)
    run(put(store, "bucket-a", "k", data))
    assert run(read(store, "bucket-a", "k")) == data
    cache = store.packs.cache
    on_disk = sum(f.stat().st_size for f in cache.directory.iterdir())
    assert cache.size <= 2 * BLOCK and on_disk <= 2 * BLOCK


def test_block_cache_drops_the_least_recently_used(tmp_path: Path) -> None:
    cache = BlockCache(tmp_path / "c", 3 * 100)
    for n in range(3):
        cache.put(1, n, bytes([n]) * 100)
    assert cache.get(1, 0) == bytes([0]) * 100  # now the most recent
    cache.put(2, 0, b"x" * 100)  # evicts (1, 1)
    assert cache.get(1, 1) is None and cache.get(1, 0) is not None and cache.get(2, 0) == b"x" * 100
    cache.forget(1)
    assert cache.get(1, 0) is None and cache.get(1, 2) is None and cache.size == 100
    assert (cache.hits, cache.misses) == (3, 3)
    cache.put(3, 0, b"y" * 1000)  # larger than the whole cache: not kept
    assert cache.get(3, 0) is None and cache.size == 100
    reopened = BlockCache(tmp_path / "c", 300)  # what a past run cached is not trusted
    assert reopened.get(2, 0) is None and not any((tmp_path / "c").iterdir())


CRASHER = textwrap.dedent("""
    import asyncio, json, os, sys
    sys.path.insert(0, sys.argv[2])
    from storetest import OWNER, content, put
    from dedup import Store
    from dedup.s3packs import S3Packs
    from dedup.types import StoreConfig

    real = S3Packs.put_segment
    armed = False

    def put_then_die(self, pack_id, body):
        real(self, pack_id, body)
        if armed:
            os._exit(9)  # the segment is in S3, its index commit never happens

    S3Packs.put_segment = put_then_die

    async def main():
        global armed
        store = await Store.open(sys.argv[1], StoreConfig(**json.loads(sys.stdin.read())))
        await store.create_bucket("bucket-a", OWNER)
        await put(store, "bucket-a", "acked", content("acked", 300 * 1024))
        armed = True
        await put(store, "bucket-a", "lost", content("lost", 200 * 1024))

    asyncio.run(main())
""")


@pytest.mark.lmdb_only("one process owns the packs: with a shared index a start removes no segment past the "
                      "counter (another live gateway may be writing it)")
def test_a_kill_between_segment_and_commit_leaves_only_garbage(harness, run) -> None:
    harness.close()
    config = asdict(harness.config)
    done = subprocess.run([sys.executable, "-c", CRASHER, str(harness.path), str(Path(__file__).parent)],
                          input=json.dumps(config), capture_output=True, text=True, timeout=120)
    assert done.returncode == 9, done.stderr
    peek = _segment_ids(harness)
    store = harness.open()
    with store.index.read() as txn:
        committed = {int.from_bytes(k, "big") for k, _ in txn.cursor(db=store.index.db["packs"])}
    strays = set(peek) - committed
    assert strays, "the killed batch left a segment in S3"
    assert not strays & {p.pack_id for p in store.packs.list()}  # removed on open
    assert run(read(store, "bucket-a", "acked")) == content("acked", 300 * KiB)
    assert [e.key for e in run(store.list_objects("bucket-a")).entries] == ["acked"]
    assert run(store.check()).ok


def _segment_ids(harness) -> list[int]:
    """The segments in S3 now, listed without opening the store (which would clean up)."""
    c = harness.config
    bucket, prefix = parse_s3_url(c.packs)
    target = S3Target(bucket, prefix, c.packs_endpoint, c.packs_access_key, c.packs_secret_key)
    packs = S3Packs(target, harness.path / "unused-cache", 0)
    try:
        return [p.pack_id for p in packs.list()]
    finally:
        packs.close()


def test_a_prefix_belongs_to_one_data_directory(harness, run, tmp_path) -> None:
    store = harness.store
    run(store.create_bucket("bucket-a", OWNER))
    run(put(store, "bucket-a", "k", content("k", 100 * KiB)))
    with pytest.raises(errors.WrongPackStore, match="another data directory"):
        run(Store.open(tmp_path / "other", harness.config))
    harness.reopen()  # its own directory opens as before
    assert run(read(harness.store, "bucket-a", "k")) == content("k", 100 * KiB)


def test_block_cache_counts_a_block_kept_by_two_threads_once(tmp_path: Path) -> None:
    cache = BlockCache(tmp_path / "c", 10 * 1000)
    block = b"z" * 1000
    threads = [threading.Thread(target=lambda: [cache.put(7, n, block) for n in range(8)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    on_disk = sum(f.stat().st_size for f in cache.directory.iterdir() if not f.name.startswith(".tmp"))
    assert cache.size == 8 * 1000 == on_disk
