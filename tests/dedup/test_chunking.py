"""FastCDC cut points: fragments cover the input, respect min/max, and are
the same whether the stream is chunked whole or buffer by buffer (the ingest
carry-over), so the same bytes dedup whatever the piece or batch sizes."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storetest import SMALL, assert_same, content, put, read

from dedup.chunking import ChunkerParams, cut_points
from dedup.types import KiB, StoreConfig

P = ChunkerParams(SMALL.min_fragment, SMALL.avg_fragment, SMALL.max_fragment)
_data = st.builds(content, st.integers(0, 1 << 30), st.integers(0, 400 * KiB))


def whole(data: bytes) -> list[int]:
    ends, consumed = cut_points(memoryview(data), P, final=True)
    assert consumed == (ends[-1] if ends else 0)
    return ends


def streamed(data: bytes, buffer: int) -> list[int]:
    """Cut points when the data arrives ``buffer`` bytes at a time and the
    unfinished tail is carried into the next buffer, as ingest does."""
    out: list[int] = []
    base = 0  # stream offset of carry[0]
    carry = b""
    for pos in range(0, len(data), buffer):
        piece = data[pos : pos + buffer]
        final = pos + buffer >= len(data)
        view = carry + piece
        ends, consumed = cut_points(memoryview(view), P, final)
        out += [base + e for e in ends]
        carry = view[consumed:]
        base += consumed
        assert len(carry) <= P.max_size
    if not data:
        return []
    return out


@settings(max_examples=60, deadline=None)
@given(data=_data)
def test_fragments_cover_the_input_within_bounds(data):
    ends = whole(data)
    if not data:
        assert ends == []
        return
    assert ends[-1] == len(data)
    sizes = [b - a for a, b in zip([0, *ends], ends, strict=False)]
    assert all(0 < s <= P.max_size for s in sizes)
    assert all(s >= P.min_size for s in sizes[:-1])


@settings(max_examples=60, deadline=None)
@given(data=_data, buffer=st.integers(P.max_size // 2, 200 * KiB))
def test_streaming_gives_the_same_cuts(data, buffer):
    assert streamed(data, buffer) == whole(data)


def test_average_fragment_size_is_near_the_target():
    ends = whole(content("avg", 4 * 1024 * KiB))
    mean = ends[-1] / len(ends)
    assert P.avg_size / 2 <= mean <= P.avg_size * 2


def test_non_final_buffer_keeps_its_last_fragment():
    data = content("tail", 100 * KiB)
    ends, consumed = cut_points(memoryview(data), P, final=False)
    assert consumed < len(data) and ends[-1] == consumed
    assert cut_points(memoryview(b""), P, final=True) == ([], 0)


def test_params_to_json():
    assert P.to_json() == {"min": 2 * KiB, "avg": 8 * KiB, "max": 32 * KiB}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.integers(SMALL.max_fragment, 200 * KiB), piece=st.integers(1, 100 * KiB))
def test_same_bytes_dedup_whatever_the_batch_and_piece_sizes(harness, batch, piece):
    data = content("batches", 500 * KiB)
    store = harness.reopen(StoreConfig(**{**SMALL.__dict__, "batch_bytes": batch}))
    run = harness.run
    if not run(store.list_buckets()):
        run(store.create_bucket("bucket-a", "owner"))
        run(put(store, "bucket-a", "first", data, piece=64 * KiB))
    result = run(put(store, "bucket-a", f"b{batch}-p{piece}", data, piece=piece))
    assert result.new_bytes == 0
    assert_same(run(read(store, "bucket-a", f"b{batch}-p{piece}")), data)
