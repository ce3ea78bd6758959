"""Fragment codecs (dedup/codecs.py) and the guess that picks one
(dedup/predict.py): round trips of every codec on random, zero, float32, bf16
and misaligned data, with and without numpy; the guess on each kind of data;
the bound on stored size; decoding of damaged records; records written by
earlier code (golden bytes) and under every policy staying readable; use from
many threads at once."""

from __future__ import annotations

import random
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import codecs, predict
from dedup.codecs import PLANES2, PLANES4, POLICIES, RAW, ZSTD, CodecError, UnknownCodec
from dedup.errors import CorruptFragment
from dedup.predict import MIN_GAIN

CODECS = (RAW, ZSTD, PLANES4, PLANES2)
PLANE_HEADER = {PLANES4: 6 + 4 * 3, PLANES2: 6 + 4 * 1}
ZSTD_FRAME_OVERHEAD = 32  # frame header and one raw block header, with room


# -- data ------------------------------------------------------------------------
def float32_weights(count: int, seed: int = 0) -> bytes:
    """Little-endian float32 like a trained layer's weights."""
    rng = random.Random(seed)
    return struct.pack(f"<{count}f", *(rng.gauss(0.0, 0.05) for _ in range(count)))


def bf16_weights(count: int, seed: int = 0) -> bytes:
    """The high halves of float32 weights: bf16, little-endian."""
    f32 = float32_weights(count, seed)
    out = bytearray(2 * count)
    out[0::2] = f32[2::4]
    out[1::2] = f32[3::4]
    return bytes(out)


def random_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def png_like(size: int, seed: int = 0) -> bytes:
    """Deflate output over noisy pixels: what a PNG's IDAT holds."""
    rng = random.Random(seed)
    pixels = bytes(rng.randrange(256) if rng.random() < 0.6 else 128 for _ in range(2 * size))
    return zlib.compress(pixels, 6)[:size]


def text(size: int) -> bytes:
    line = b"epoch 12 step 4096 loss 0.6931 lr 0.0002 beta1 0.5 generator ok\n"
    return (line * (size // len(line) + 1))[:size]


KINDS = {
    "random": lambda n: random_bytes(n),
    "zeros": lambda n: bytes(n),
    "float32": lambda n: float32_weights(n // 4)[:n],
    "bf16": lambda n: bf16_weights(n // 2)[:n],
    "misaligned": lambda n: float32_weights(n // 4 + 1)[3 : n + 3],
}


@pytest.fixture(params=["numpy", "slicing"])
def shuffle(request, monkeypatch):
    """Run a test with numpy's plane shuffle and with pure slicing."""
    if request.param == "slicing":
        monkeypatch.setattr(predict, "numpy", None)
    elif predict.numpy is None:
        pytest.skip("numpy is not installed")
    return request.param


# -- round trips -----------------------------------------------------------------
@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("size", [0, 5, 4097, 40001])
@pytest.mark.parametrize("offset", [0, 1, 3, 130])
def test_every_codec_round_trips(shuffle, codec, kind, size, offset):
    raw = KINDS[kind](size)
    stored = codecs.encode_as(codec, memoryview(raw), offset)
    assert bytes(codecs.decode(codec, memoryview(bytes(stored)))) == raw


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("size", [5, 4097, 40001])
def test_decode_into_fills_exactly_its_slice(shuffle, codec, kind, size):
    """A GET decodes a whole fragment straight into its send buffer: the
    bytes land in the slice and nowhere else."""
    raw = KINDS[kind](size)
    size = len(raw)
    stored = memoryview(bytes(codecs.encode_as(codec, memoryview(raw), 3)))
    buf = bytearray(b"\xee" * (size + 20))
    codecs.decode_into(codec, stored, memoryview(buf)[7 : 7 + size])
    assert buf[7 : 7 + size] == raw
    assert buf[:7] == b"\xee" * 7 and buf[7 + size :] == b"\xee" * 13


@pytest.mark.parametrize("codec", CODECS)
def test_decode_into_refuses_a_buffer_of_another_length(codec):
    raw = float32_weights(2000)
    stored = memoryview(bytes(codecs.encode_as(codec, memoryview(raw), 0)))
    for wrong in (len(raw) - 1, len(raw) + 1):
        with pytest.raises(CodecError):
            codecs.decode_into(codec, stored, memoryview(bytearray(wrong)))


@settings(max_examples=60, deadline=None)
@given(size=st.integers(predict.WORDS_FROM - 5, 3 * predict.WORDS_FROM), offset=st.integers(0, 2**40),
       width=st.sampled_from([2, 4]), shift=st.integers(0, 3), seed=st.integers(0, 2**32))
def test_interleave_by_words_at_any_size_rotation_and_alignment(size, offset, width, shift, seed):
    """From WORDS_FROM bytes on, interleave_into builds 16/32-bit words; the
    output may start anywhere in its buffer (the reader fills batches so)."""
    data = random.Random(seed).randbytes(size)
    parts = predict.planes(data, offset, width)
    buf = bytearray(size + 3)
    out = memoryview(buf)[shift : shift + size]
    predict.interleave_into(parts, out, offset % width)
    assert bytes(out) == data


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), offset=st.integers(0, 2**40), width=st.sampled_from([2, 4]),
       squeeze=st.lists(st.booleans(), min_size=4, max_size=4), slicing=st.booleans())
def test_planes_round_trip_any_bytes(data, offset, width, squeeze, slicing):
    saved = predict.numpy
    if slicing:
        predict.numpy = None
    try:
        parts = predict.planes(data, offset, width)
        assert bytes(predict.interleave(parts, len(data), offset % width)) == data
        stored = codecs.pack_planes(data, offset, width, squeeze, codecs._ctx.plane.compress)
        codec = PLANES4 if width == 4 else PLANES2
        assert bytes(codecs.decode(codec, memoryview(stored))) == data
    finally:
        predict.numpy = saved


@pytest.mark.parametrize("offset", range(8))
def test_plane_k_holds_the_bytes_at_absolute_offsets_k_mod_width(shuffle, offset):
    size = 9000
    data = bytes((offset + i) % 4 for i in range(size))  # each byte names its residue
    for k, plane in enumerate(predict.planes(data, offset, 4)):
        assert plane == bytes([k]) * len(plane)
    assert sum(len(p) for p in predict.planes(data, offset, 4)) == size


def test_numpy_and_slicing_give_the_same_planes(monkeypatch):
    if predict.numpy is None:
        pytest.skip("numpy is not installed")
    data = random_bytes(10001)
    fast = [predict.planes(data, off, w) for off in range(5) for w in (2, 4)]
    monkeypatch.setattr(predict, "numpy", None)
    assert [predict.planes(data, off, w) for off in range(5) for w in (2, 4)] == fast


# -- size bounds -----------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(data=st.one_of(st.binary(max_size=5000), st.builds(lambda n: bytes(n), st.integers(0, 5000))),
       offset=st.integers(0, 2**40), policy=st.sampled_from(POLICIES))
def test_encode_never_stores_more_than_raw(data, offset, policy):
    codec, stored = codecs.encode(policy, memoryview(data), offset)
    if codec == RAW:
        assert bytes(stored) == data
    else:
        assert len(stored) <= len(data) * (1 - MIN_GAIN)
    assert bytes(codecs.decode(codec, memoryview(bytes(stored)))) == data


@pytest.mark.parametrize("policy", ["fast", "max"])
def test_a_misleading_sample_costs_nothing(policy):
    """Floats in the middle window, random bytes around them: the guess says
    planes, the planes do not pay, the fragment is stored raw."""
    raw = random_bytes(SIZE // 2 - 512, 1) + float32_weights(256) + random_bytes(SIZE // 2 - 512, 2)
    codec, stored = codecs.encode(policy, memoryview(raw), 0)
    assert codec == RAW and bytes(stored) == raw


@pytest.mark.parametrize("kind", ["random", "misaligned"])
@pytest.mark.parametrize("size", [64, 4096, 131072])
def test_a_forced_codec_costs_at_most_its_header(kind, size):
    raw = memoryview(KINDS[kind](size))
    for codec, header in PLANE_HEADER.items():
        assert len(codecs.encode_as(codec, raw, 1)) <= size + header
    assert len(codecs.encode_as(ZSTD, raw, 1)) <= size + ZSTD_FRAME_OVERHEAD


# -- the choice ------------------------------------------------------------------
SIZE = 32768


@pytest.mark.parametrize("policy", ["fast", "max"])
@pytest.mark.parametrize(("kind", "expected"), [
    ("random", RAW), ("png", RAW), ("float32", PLANES4), ("bf16", PLANES2),
    ("text", ZSTD), ("zeros", ZSTD),
])
def test_policy_picks_the_codec_that_fits(policy, kind, expected):
    makers = {**KINDS, "png": png_like, "text": text}
    raw = memoryview(makers[kind](SIZE))
    codec, stored = codecs.encode(policy, raw, 0)
    assert codec == expected
    if kind == "float32":  # the exponent plane alone makes ~1.2x
        assert len(raw) / len(stored) > 1.12
    if kind == "bf16":
        assert len(raw) / len(stored) > 1.3


def test_off_stores_everything_raw():
    for maker in (*KINDS.values(), text):
        raw = memoryview(maker(SIZE))
        codec, stored = codecs.encode("off", raw, 0)
        assert codec == RAW and stored is raw


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError):
        codecs.encode("best", memoryview(b"x" * 1000), 0)


@pytest.mark.parametrize("start", [0, 1, 2, 3, 4097, 8190])
def test_misaligned_fragment_squeezes_the_exponent_plane(start):
    """A float32 tensor aligned at absolute offset 0, cut anywhere: plane 3
    (the sign-and-exponent bytes) is the compressed one whatever the start."""
    tensor = float32_weights(20000)
    raw = memoryview(tensor)[start : start + SIZE]
    codec, stored = codecs.encode("fast", raw, start)
    assert codec == PLANES4
    rotation, flags = stored[0], stored[1]
    assert rotation == start % 4
    assert flags == 0b1000
    assert bytes(codecs.decode(codec, memoryview(stored))) == bytes(raw)


def test_repeat_counts_by_absolute_residue():
    sample = bytes([7, 1, 2, 3]) * 3 + bytes([9, 9, 9, 9])  # 16 bytes
    # residue 0 (value 7 then 9): pairs (0,4) (4,8) equal, (8,12) not: 2
    # residues 1-3: (i, i+4) equal twice, then 1/2/3 vs 9: 2 each
    assert predict.repeats(sample, 0) == [2, 2, 2, 2]
    sample = bytes([5, 0, 0, 0]) * 8  # residue 0 repeats 5, the zeros everywhere else
    assert predict.repeats(sample, 0) == [7, 7, 7, 7]
    # equal at sample positions 1 and 3, absolute offsets 2 and 4: residues 2 and 0
    assert predict.repeats(bytes([5, 6, 7, 8]) + bytes([1, 6, 2, 8]), 1) == [1, 0, 1, 0]
    assert predict.repeats(b"abab", 0, lag=2) == [1, 1, 0, 0]


# -- decoding damage -------------------------------------------------------------
def _planes4_record() -> bytes:
    return bytes(codecs.encode_as(PLANES4, memoryview(float32_weights(4096)), 0))


@pytest.mark.parametrize("damage", [
    lambda r: r[:10],                       # shorter than its header
    lambda r: bytes([4]) + r[1:],           # rotation out of range
    lambda r: r[:1] + bytes([r[1] | 0x30]) + r[2:],  # flags for planes that do not exist
    lambda r: r[:2] + struct.pack(">I", 99999) + r[6:],  # raw length disagrees with planes
    lambda r: r[:6] + struct.pack(">I", 2**31) + r[10:],  # plane sizes past the end
    lambda r: r[:-1],                       # a byte short
    lambda r: r[:-40] + bytes(40),          # zstd frame body damaged
])
def test_damaged_planes_record_is_a_codec_error(damage):
    record = _planes4_record()
    assert record[1] & 0b1000  # the exponent plane is a zstd frame
    with pytest.raises(CodecError):
        codecs.decode(PLANES4, memoryview(damage(record)))


def test_damaged_zstd_record_is_a_codec_error():
    frame = bytes(codecs.encode_as(ZSTD, memoryview(text(5000)), 0))
    for bad in (frame[:5], b"not zstd at all", frame[:-3]):
        with pytest.raises(CodecError):
            codecs.decode(ZSTD, memoryview(bad))


def test_unknown_codec_is_corruption():
    with pytest.raises(UnknownCodec) as info:
        codecs.decode(200, memoryview(b"abc"))
    assert isinstance(info.value, CorruptFragment)


# -- stability -------------------------------------------------------------------
GOLDEN_F32 = struct.pack("<32f", *[1.0 + i / 256 for i in range(32)])
GOLDEN = [  # (codec, stored hex, raw): records as this code first wrote them
    (ZSTD, "28b52ffd20c88d0000506672616773746f7265200100bb520509", b"fragstore " * 20),
    (PLANES4,
     "01070000008000000011000000110000001128b52ffd2020450000103f3f010022c00228b52ffd20204500"
     "00100000010022c00228b52ffd20204500001000800100890e0b80808181828283838484858586868787"
     "888889898a8a8b8b8c8c8d8d8e8e8f8f", GOLDEN_F32),
    (PLANES2,
     "0101000000400000001128b52ffd2020450000103f3f010022c00280808181828283838484858586868787"
     "888889898a8a8b8b8c8c8d8d8e8e8f8f", bytes(b for i in range(0, 128, 4) for b in GOLDEN_F32[i + 2 : i + 4])),
]


def test_codec_ids_are_part_of_the_format():
    assert (RAW, ZSTD, PLANES4, PLANES2) == (0, 1, 2, 3)


@pytest.mark.parametrize(("codec", "stored", "raw"), GOLDEN)
def test_records_written_earlier_still_decode(shuffle, codec, stored, raw):
    assert bytes(codecs.decode(codec, memoryview(bytes.fromhex(stored)))) == raw


def test_fragments_stored_under_every_policy_stay_readable():
    """A store whose policy changed holds a mix of codecs: each decodes on its
    own, and decoding never depends on the policy now in force."""
    pieces = [(maker(SIZE), off) for maker in (*KINDS.values(), text) for off in (0, 3)]
    stored = [(raw, codecs.encode(policy, memoryview(raw), off)) for raw, off in pieces for policy in POLICIES]
    assert {codec for _, (codec, _) in stored} == set(CODECS)
    for raw, (codec, data) in stored:
        assert bytes(codecs.decode(codec, memoryview(bytes(data)))) == raw


# -- threads ---------------------------------------------------------------------
def test_many_threads_encode_and_decode_at_once():
    makers = [*KINDS.values(), text]
    jobs = [(makers[i % len(makers)](20000 + 7 * i), i) for i in range(120)]

    def round_trip(job: tuple[bytes, int]) -> bool:
        raw, off = job
        codec, data = codecs.encode("fast", memoryview(raw), off)
        return bytes(codecs.decode(codec, memoryview(bytes(data)))) == raw

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(round_trip, jobs))
