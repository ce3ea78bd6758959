"""dedup.ingest: the PUT pipeline's edges. Bodies that check themselves
(CheckedBody) get every byte, in order, in the engine's hashing pass, and a
failed check stores nothing; piece sizes, from empty to larger than a buffer,
never change what is stored."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence

import pytest
from storetest import META, content, md5, put, read, split, stream

from dedup import errors
from dedup.types import BodyDigest, CheckedBody, KiB, MiB

pytestmark = pytest.mark.packstores  # every test once per pack store (conftest.py)


class Refused(Exception):
    pass


class SelfChecking:
    """A body that wants its SHA-256 computed by the engine and compared after the last byte."""

    def __init__(self, pieces: list[bytes], expected: bytes) -> None:
        self.pieces = pieces
        self.expected = expected
        self.sha = hashlib.sha256()
        self.calls: list[str] = []

    def __aiter__(self) -> AsyncIterator[bytes]:
        self.calls.append("iterate")
        return stream(self.pieces)

    def take_digests(self) -> Sequence[BodyDigest]:
        self.calls.append("take")
        return [self.sha]

    def verify(self) -> None:
        self.calls.append("verify")
        if self.sha.digest() != self.expected:
            raise Refused("body digest mismatch")


PIECES = [[40 * KiB], [1, 7, 0, 70_000, 3], [300 * KiB]]  # the last is larger than a SMALL buffer


def test_the_protocol_matches_by_shape():
    assert isinstance(SelfChecking([], b""), CheckedBody)
    assert not isinstance(stream([]), CheckedBody)


@pytest.mark.parametrize("sizes", PIECES)
def test_checked_body_sees_every_byte_in_order(store, run, bucket, sizes):
    data = content("checked", 1 * MiB + 123)
    body = SelfChecking(split(data, sizes), hashlib.sha256(data).digest())
    result = run(store.put_object(bucket, "k", body, META))  # type: ignore[arg-type]
    assert body.calls == ["take", "iterate", "verify"]
    assert result.info.etag == md5(data)
    assert run(read(store, bucket, "k")) == data


def test_failed_check_stores_nothing(store, run, bucket):
    data = content("refused", 700 * KiB)
    body = SelfChecking(split(data, [50 * KiB]), hashlib.sha256(b"other").digest())
    with pytest.raises(Refused):
        run(store.put_object(bucket, "k", body, META))  # type: ignore[arg-type]
    with pytest.raises(errors.NoSuchKey):
        run(store.head_object(bucket, "k"))
    run(store.collect_garbage(grace_seconds=0))
    stats = run(store.stats())
    assert (stats.objects, stats.unique_bytes, stats.fragments) == (0, 0, 0)
    assert run(store.check()).ok


def test_piece_sizes_do_not_change_the_fragments(store, run, bucket):
    data = content("pieces", 2 * MiB + 5)
    first = run(put(store, bucket, "a", data, piece=1 * MiB))
    assert first.new_bytes == len(data)
    for i, sizes in enumerate(PIECES):
        again = run(store.put_object(bucket, f"b{i}", stream(split(data, sizes)), META))
        assert again.new_bytes == 0 and again.info.etag == first.info.etag


class BrokenDigest:
    """A digest whose second update fails, as a worker-thread step may."""

    def __init__(self) -> None:
        self.updates = 0

    def update(self, data: memoryview, /) -> None:
        self.updates += 1
        if self.updates == 2:
            raise Refused("digest broke")


class BrokenBody(SelfChecking):
    def take_digests(self) -> Sequence[BodyDigest]:
        return [BrokenDigest()]


def test_a_failing_worker_step_gives_its_buffer_back(store, run, bucket):
    """Every buffer returns to the pool after a batch fails in a worker thread:
    otherwise a few such failures would leave later PUTs waiting for ever."""
    pool = store.ingest.pool
    for attempt in range(pool._count + 2):  # more failures than the pool has buffers
        data = content(f"broken-{attempt}", 900 * KiB)
        body = BrokenBody(split(data, [64 * KiB]), b"")
        with pytest.raises(Refused):
            run(store.put_object(bucket, f"k{attempt}", body, META))  # type: ignore[arg-type]
        assert pool._free is not None and pool._free.qsize() == pool._made, attempt
    data = content("after", 900 * KiB)
    run(put(store, bucket, "after", data))
    assert run(read(store, bucket, "after")) == data


@pytest.mark.parametrize("size", [1, 20 * KiB])
def test_a_body_of_one_batch_is_written_and_published_in_one_commit(store, run, bucket, size):
    """A small PUT's fragments and its key share one group commit: one round
    of flushes, not two."""
    data = content(f"one-batch-{size}", size)
    jobs, commits = store.writer.jobs, store.writer.commits
    first = run(put(store, bucket, "k", data))
    assert (store.writer.jobs, store.writer.commits) == (jobs + 1, commits + 1)
    again = run(put(store, bucket, "k2", data))
    assert (first.new_bytes, again.new_bytes) == (size, 0)
    assert run(read(store, bucket, "k")) == run(read(store, bucket, "k2")) == data


def test_a_longer_body_commits_its_batches_before_the_key(store, run, bucket):
    data = content("batches", 300 * KiB)  # several 64 KiB batches in the test store
    jobs = store.writer.jobs
    run(put(store, bucket, "k", data))
    assert store.writer.jobs >= jobs + 2
    assert run(read(store, bucket, "k")) == data


def test_a_refused_small_body_gives_its_buffer_back_and_stores_nothing(store, run, bucket):
    """The held fragments of a one-batch body are never written when the
    body fails its Content-MD5, and their buffer returns to the pool."""
    pool = store.ingest.pool
    for attempt in range(pool._count + 2):
        data = content(f"refused-{attempt}", 20 * KiB)
        with pytest.raises(errors.BadDigest):
            run(put(store, bucket, "k", data, content_md5=hashlib.md5(b"other").digest()))
        assert pool._free is not None and pool._free.qsize() == pool._made, attempt
    run(store.collect_garbage(grace_seconds=0))
    stats = run(store.stats())
    assert (stats.objects, stats.unique_bytes, stats.fragments) == (0, 0, 0)
