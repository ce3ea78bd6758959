"""Reading objects: round trips of arbitrary bytes streamed in arbitrary
pieces, ranges (a-b, a-, -n) against Python slices, InvalidRange, part_number
reads, objects spanning many reader batches, and consumers that stop early or
hold on to old chunks."""

from __future__ import annotations

import random
import struct
from itertools import count

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storetest import META, assert_same, content, md5, put, read, split, stream

from dedup import errors
from dedup.codecs import PLANES2, PLANES4
from dedup.index import FragmentRow
from dedup.types import ByteRange, KiB, MiB

pytestmark = pytest.mark.packstores  # every test once per pack store (conftest.py)

PROPS = settings(
    max_examples=40, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_keys = count()


def _bytes() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=4 * KiB),
        st.builds(content, st.integers(0, 1 << 30), st.integers(0, 300 * KiB)),
    )


@PROPS
@given(data=_bytes(), pieces=st.lists(st.integers(0, 70 * KiB), min_size=1, max_size=5))
def test_round_trip_in_arbitrary_pieces(store, run, bucket, data, pieces):
    key = f"rt/{next(_keys)}"
    sizes = [p or 1 for p in pieces]
    body = split(data, sizes)
    body.insert(len(body) // 2, b"")  # an empty piece in the middle is harmless
    result = run(store.put_object(bucket, key, stream(body), META))
    assert result.info.size == len(data)
    assert result.info.etag == md5(data)
    assert_same(run(read(store, bucket, key)), data)
    head = run(store.head_object(bucket, key))
    assert (head.size, head.etag, head.part_sizes) == (len(data), md5(data), (len(data),) if data else ())


@PROPS
@given(data=st.builds(content, st.integers(0, 1 << 30), st.integers(1, 1200 * KiB)), a=st.integers(0), b=st.integers(0))
def test_ranges_match_python_slices(store, run, bucket, data, a, b):
    key = f"range/{next(_keys)}"
    run(put(store, bucket, key, data))
    size = len(data)
    a %= size + 2  # sometimes past the end
    b %= size + 2
    cases = [(ByteRange(a, b), a, b + 1), (ByteRange(a, None), a, size), (ByteRange(None, b), size - b, size)]
    for rng, lo, hi in cases:
        satisfiable = (rng.start is None and b > 0) or (rng.start is not None and a < size and (rng.end is None or b >= a))
        if satisfiable:
            lo = max(lo, 0)
            assert_same(run(read(store, bucket, key, rng)), data[lo:hi])
        else:
            with pytest.raises(errors.InvalidRange):
                run(store.open_object(bucket, key, rng))


def test_range_edges(store, run, bucket):
    data = content("edges", 100 * KiB)
    run(put(store, bucket, "k", data))
    n = len(data)
    assert_same(run(read(store, bucket, "k", ByteRange(0, 0))), data[:1])
    assert_same(run(read(store, bucket, "k", ByteRange(n - 1, None))), data[-1:])
    assert_same(run(read(store, bucket, "k", ByteRange(10, 10 * n))), data[10:])
    assert_same(run(read(store, bucket, "k", ByteRange(None, 10 * n))), data)
    assert_same(run(read(store, bucket, "k", ByteRange(None, 1))), data[-1:])
    for bad in (ByteRange(n, None), ByteRange(n, n + 5), ByteRange(None, 0), ByteRange(5, 4)):
        with pytest.raises(errors.InvalidRange):
            run(store.open_object(bucket, "k", bad))


def test_empty_object(store, run, bucket):
    result = run(put(store, bucket, "empty", b""))
    assert result.info.size == 0 and result.info.etag == md5(b"") and result.new_bytes == 0
    assert_same(run(read(store, bucket, "empty")), b"")
    with pytest.raises(errors.InvalidRange):
        run(store.open_object(bucket, "empty", ByteRange(0, None)))
    assert_same(run(read(store, bucket, "empty", part_number=1)), b"")


def test_part_number_on_a_single_put(store, run, bucket):
    data = content("single", 50 * KiB)
    run(put(store, bucket, "k", data))
    reader = run(store.open_object(bucket, "k", part_number=1))
    assert reader.part_count == 1 and reader.length == len(data)
    run(reader.aclose())
    with pytest.raises(errors.InvalidPart):
        run(store.open_object(bucket, "k", part_number=2))


def test_large_object_read_in_many_batches(store, run, bucket):
    """Larger than several reader batches: chunks are reused between batches."""
    data = content("large", 19 * MiB + 12345)
    run(put(store, bucket, "big", data, piece=1 * MiB + 7))
    assert_same(run(read(store, bucket, "big")), data)
    tail = run(read(store, bucket, "big", ByteRange(5 * MiB + 3, None)))
    assert_same(tail, data[5 * MiB + 3 :])



def test_reader_survives_a_consumer_that_still_holds_old_chunks(store, run, bucket):
    """A consumer may still reference chunks it has already copied (a send
    still in flight, a list kept for logging): the reader must not crash."""
    # Zeros cut into equal fragments, so the first batches are exactly the
    # batch size; the random bytes after them make a later batch larger.
    data = bytes(8 * MiB) + content("held", 11 * MiB + 4321)
    run(put(store, bucket, "big", data, piece=1 * MiB))

    async def consume() -> bytes:
        reader = await store.open_object(bucket, "big")
        out, held = bytearray(), []
        async for chunk in reader:
            out += chunk
            held.append(chunk)
        return bytes(out)

    assert_same(run(consume()), data)


def test_reader_can_stop_early(store, run, bucket):
    data = content("early", 9 * MiB)
    run(put(store, bucket, "k", data))

    async def first_chunk() -> bytes:
        reader = await store.open_object(bucket, "k")
        async for chunk in reader:
            first = bytes(chunk)
            break
        await reader.aclose()
        return first

    first = run(first_chunk())
    assert first and data.startswith(first)
    assert_same(run(read(store, bucket, "k")), data)


def test_many_ranges_of_a_large_object(store, run, bucket):
    """Ranges that start and end inside fragments, manifest rows and reader
    batches of a 10 MiB object."""
    data = content("ranges", 10 * MiB + 999)
    run(put(store, bucket, "big", data, piece=256 * KiB + 1))
    rng = random.Random(11)
    for _ in range(30):
        a = rng.randrange(len(data))
        b = min(len(data) - 1, a + rng.choice([0, 1, 5000, 70 * KiB, 1 * MiB, 4 * MiB + 17, 9 * MiB]))
        assert_same(run(read(store, bucket, "big", ByteRange(a, b))), data[a : b + 1])


def test_a_batch_buffer_is_reused_only_once_no_view_of_it_is_left():
    from dedup.reader import _Buffers

    buffers = _Buffers(keep=2, unit=1000)
    first = buffers.take(1000)
    first[:] = b"a" * 1000
    second = buffers.take(1000)
    assert first.obj is not second.obj  # the first is still held
    kept = first[10:20]  # a transport may keep a slice of a sent batch
    del first
    third = buffers.take(1000)
    assert third.obj is not kept.obj and bytes(kept) == b"a" * 10
    held = id(second.obj)  # not a reference: that would hold it
    del second
    assert id(buffers.take(500).obj) == held  # nothing holds the second: reused


def _floats(count: int, width: int) -> bytes:
    """Weights like a trained layer's, float32 (width 4) or bf16 (width 2): stored as byte planes."""
    rng = random.Random(width)
    data = struct.pack(f"<{count}f", *(rng.gauss(0.0, 0.05) for _ in range(count)))
    if width == 2:
        data = b"".join(data[i + 2 : i + 4] for i in range(0, len(data), 4))
    return data


@pytest.mark.parametrize("width", [4, 2])
@pytest.mark.parametrize("shift", [0, 1, 3])
def test_planes_records_read_back_at_any_alignment(store, run, bucket, width, shift):
    """Weights stored as planes records, then the same bytes shifted by
    ``shift`` in another object: its fragments dedup against the first's,
    whose planes were cut for other offsets mod ``width``. A batch interleaves
    many records at once; whole reads and ranges of both come back exact."""
    weights = _floats(150_000, width)
    run(put(store, bucket, "w", weights))
    shifted = b"xyz"[:shift] + weights + b"tail"
    run(put(store, bucket, "s", shifted))
    with store.index.read() as txn:
        codecs = {FragmentRow.decode(v).codec for _, v in txn.cursor(db=store.index.db["fragments"])}
    assert {PLANES4 if width == 4 else PLANES2} <= codecs
    assert_same(run(read(store, bucket, "w")), weights)
    assert_same(run(read(store, bucket, "s")), shifted)
    for start, end in ((1, 70_001), (4097, None), (len(weights) - 5000, None)):
        want = shifted[start:end]
        assert_same(run(read(store, bucket, "s", ByteRange(start, None if end is None else end - 1))), want)
