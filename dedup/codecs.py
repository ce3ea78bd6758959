"""Fragment codecs: how a fragment's bytes are stored in its pack record.

The codec byte lives in every record and index row, so data written under one
policy stays readable under any other. Codecs::

    0 RAW      the fragment itself
    1 ZSTD     one zstd frame (with its content size)
    2 PLANES4  byte planes of width 4 (float32, int32), each compressed alone
    3 PLANES2  byte planes of width 2 (bf16, fp16, int16)

A planes record: plane k holds the bytes at absolute object offsets ``= k
(mod w)`` (see dedup/predict.py), so the encoder needs the fragment's offset;
the decoder does not, the header carries what it needs::

    offset size   field
    0      1      rotation: the fragment's absolute offset mod w
    1      1      flags: bit k set = plane k is a zstd frame, clear = raw bytes
    2      4      raw length n of the fragment
    6      4(w-1) stored length of planes 0 .. w-2 (plane w-1 takes the rest)
    ...           planes 0 .. w-1, back to back

Plane k holds fragment bytes ``(k - rotation) mod w, + w, + 2w ...``. Integers
are big-endian. Raw mantissa planes skip zstd on both sides.

Policies (``encode``): "off" stores everything raw; "fast" lets the cheap guess
of dedup/predict.py pick one form, compressed with cheap settings; "max" tries
every form in full with strong settings and keeps the smallest. Either way a
fragment is stored raw unless its stored form saves ``MIN_GAIN`` of its size,
so nothing is ever stored larger than raw.

Compressors are per thread (zstd contexts are not thread-safe). zstd and
numpy's plane shuffle (dedup/predict.py) release the GIL, so encode and decode
scale over worker threads; without numpy the shuffle is plain slicing, ~2x
slower and holding the GIL.

Malformed stored bytes raise ``CodecError``, a ``CorruptFragment``.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Sequence

import zstandard as zstd

from dedup.errors import CorruptFragment
from dedup.predict import MIN_GAIN, Guess, guess, interleave, interleave_into, planes, worth

RAW = 0
ZSTD = 1
PLANES4 = 2
PLANES2 = 3
WIDTHS = {PLANES4: 4, PLANES2: 2}
CODEC_OF_WIDTH = {4: PLANES4, 2: PLANES2}

POLICIES = ("off", "fast", "max")
MIN_BYTES = 128  # smaller fragments are stored raw: headers would eat the gain
MAX_RAW = 1 << 26  # a decoded fragment is never larger (guards damaged headers)

FAST_LEVEL = 1  # one frame over a whole fragment, policy "fast"
MAX_LEVEL = 19  # one frame over a whole fragment, policy "max"
# A plane is a stream of bytes with a skewed histogram and few real matches:
# its gain is zstd's Huffman table. A tiny hash table and min_match 7 find
# fewer (mostly useless) short matches than level 1: on the exponent planes
# of GAN checkpoints, 3.1x instead of 2.7x, in about half the time. Policy
# "max" adds zstd's optimal parser (~1% more).
_PLANE_FAST = {"window_log": 17, "chain_log": 6, "hash_log": 6, "search_log": 1,
               "min_match": 7, "target_length": 0, "strategy": zstd.STRATEGY_FAST}
_PLANE_MAX = {"window_log": 17, "chain_log": 6, "hash_log": 6, "search_log": 1,
              "min_match": 7, "target_length": 8, "strategy": zstd.STRATEGY_BTULTRA}

_PLANE_HEAD = struct.Struct(">BBI")


class CodecError(CorruptFragment):
    """Stored bytes that do not decode under their codec."""


class UnknownCodec(CodecError):
    pass


class _Contexts(threading.local):
    """One set of zstd contexts per thread (created on first use)."""

    def __init__(self) -> None:
        self.plane = _params(_PLANE_FAST)
        self.whole = zstd.ZstdCompressor(level=FAST_LEVEL)
        self.plane_max = _params(_PLANE_MAX)
        self.whole_max = zstd.ZstdCompressor(level=MAX_LEVEL)
        self.unzstd = zstd.ZstdDecompressor()


def _params(params: dict[str, int]) -> zstd.ZstdCompressor:
    return zstd.ZstdCompressor(compression_params=zstd.ZstdCompressionParameters(
        write_content_size=True, write_checksum=False, **params))


_ctx = _Contexts()


# -- encode ----------------------------------------------------------------------
def encode(policy: str, raw: memoryview, offset: int) -> tuple[int, bytes | memoryview]:
    """(codec, stored bytes) for one fragment starting at absolute object
    offset ``offset``; (RAW, raw) unless a form saves ``MIN_GAIN``."""
    if policy not in POLICIES:
        raise ValueError(f"unknown compression policy {policy!r}; one of {POLICIES}")
    if policy == "off" or len(raw) < MIN_BYTES:
        return RAW, raw
    ctx = _ctx
    if policy == "fast":
        found = _encode_fast(raw, offset, ctx)
    else:
        found = _encode_max(raw, offset, ctx)
    if found is None or not worth(len(found[1]), len(raw)):
        return RAW, raw
    return found


def _encode_fast(raw: memoryview, offset: int, ctx: _Contexts) -> tuple[int, bytes] | None:
    g: Guess = guess(raw, offset, lambda b: len(ctx.whole.compress(b)))
    if g.width == 0:
        return None
    if g.width == 1:
        return ZSTD, ctx.whole.compress(raw)
    return CODEC_OF_WIDTH[g.width], pack_planes(raw, offset, g.width, g.squeeze,
                                                ctx.plane.compress)


def _encode_max(raw: memoryview, offset: int, ctx: _Contexts) -> tuple[int, bytes] | None:
    """Every form in full with the cheap settings; then the best one again
    with the strong settings (they gain ~1% on planes, more on text, and cost
    10-100x the time, so they run once)."""
    data = bytes(raw)
    found = [(ZSTD, ctx.whole.compress(data))]
    for width, codec in CODEC_OF_WIDTH.items():
        found.append((codec, pack_planes(data, offset, width, (True,) * width, ctx.plane.compress)))
    codec, best = min(found, key=lambda c: len(c[1]))
    if not worth(len(best), len(data)):
        return None
    if codec == ZSTD:
        return codec, min(best, ctx.whole_max.compress(data), key=len)
    width = WIDTHS[codec]
    squeezed = tuple(bool(best[1] >> k & 1) for k in range(width))

    def smallest(plane: bytes) -> bytes:
        return min(ctx.plane.compress(plane), ctx.plane_max.compress(plane), key=len)

    return codec, min(best, pack_planes(data, offset, width, squeezed, smallest), key=len)


def width_of(raw: memoryview, offset: int) -> int:
    """The element width the cheap guess sees in ``raw``: 4 or 2 for numbers,
    1 for other compressible bytes, 0 for incompressible ones."""
    ctx = _ctx
    return guess(raw, offset, lambda b: len(ctx.whole.compress(b))).width


def encode_as(codec: int, raw: memoryview, offset: int) -> bytes | memoryview:
    """``raw`` stored under ``codec`` with the cheap settings, whatever the
    gain (planes compress every plane that shrinks). For tests and tools."""
    if codec == RAW:
        return raw
    if codec == ZSTD:
        return _ctx.whole.compress(raw)
    if codec not in WIDTHS:
        raise UnknownCodec(codec)
    width = WIDTHS[codec]
    return pack_planes(raw, offset, width, (True,) * width, _ctx.plane.compress)


def pack_planes(data: bytes | memoryview, offset: int, width: int, squeeze: Sequence[bool],
                compress: Callable[[bytes], bytes]) -> bytes:
    """The planes record of ``data``; plane k is compressed when
    ``squeeze[k]`` and the frame saves ``MIN_GAIN`` of it, else stored raw."""
    body: list[bytes] = []
    flags = 0
    for k, plane in enumerate(planes(data, offset, width)):
        if squeeze[k] and len(plane):
            frame = compress(plane)
            if worth(len(frame), len(plane), MIN_GAIN):
                flags |= 1 << k
                body.append(frame)
                continue
        body.append(plane)
    head = _PLANE_HEAD.pack(offset % width, flags, len(data))
    sizes = struct.pack(f">{width - 1}I", *(len(b) for b in body[:-1]))
    return b"".join((head, sizes, *body))


# -- decode ----------------------------------------------------------------------
def decode(codec: int, stored: memoryview) -> memoryview | bytes:
    """The raw fragment from its stored form."""
    if codec == RAW:
        return stored
    if codec == ZSTD:
        return _unzstd(stored, None)
    width = WIDTHS.get(codec)
    if width is None:
        raise UnknownCodec(codec)
    rot, n, parts = _planes_of(stored, width)
    return interleave(parts, n, rot)


def decode_into(codec: int, stored: memoryview, out: memoryview) -> None:
    """Decode into ``out``, which must be as long as the raw fragment: a GET
    fills its send buffer without another copy (raises CodecError when the
    stored form holds another length)."""
    if codec in WIDTHS:
        rot, n, parts = _planes_of(stored, WIDTHS[codec])
        if n != len(out):
            raise CodecError(f"planes record of {n} bytes, not {len(out)}")
        interleave_into(parts, out, rot)
        return
    raw = decode(codec, stored)
    if len(raw) != len(out):
        raise CodecError(f"fragment decodes to {len(raw)} bytes, not {len(out)}")
    out[:] = raw


def split_planes(codec: int, stored: memoryview) -> tuple[int, int, list[bytes | memoryview]]:
    """(rotation, raw length, planes) of a planes record under ``codec``,
    checked: a reader interleaves the planes of many records at once."""
    return _planes_of(stored, WIDTHS[codec])


_PLANE_HEADS = {w: struct.Struct(f">BBI{w - 1}I") for w in WIDTHS.values()}


def _planes_of(stored: memoryview, width: int) -> tuple[int, int, list[bytes | memoryview]]:
    """(rotation, raw length, planes) of a planes record, checked."""
    head = _PLANE_HEADS[width]
    if len(stored) < head.size:
        raise CodecError("planes record shorter than its header")
    rot, flags, n, *sizes = head.unpack_from(stored)
    last = len(stored) - head.size - sum(sizes)
    if rot >= width or n > MAX_RAW or last < 0 or flags >> width:
        raise CodecError("damaged planes header")
    sizes.append(last)
    parts: list[bytes | memoryview] = []
    pos = head.size
    for k, size in enumerate(sizes):
        count = (n - (k - rot) % width + width - 1) // width  # bytes of plane k
        part = stored[pos : pos + size]
        pos += size
        plane = _unzstd(part, count) if flags >> k & 1 else part
        if len(plane) != count:
            raise CodecError(f"plane {k} holds {len(plane)} bytes, not {count}")
        parts.append(plane)
    return rot, n, parts


def _unzstd(frame: memoryview, expect: int | None) -> bytes:
    """One zstd frame, checked against the size it should have."""
    try:
        size = zstd.frame_content_size(frame)
        if size < 0 or size > MAX_RAW or (expect is not None and size != expect):
            raise CodecError(f"zstd frame of content size {size}")
        out: bytes = _ctx.unzstd.decompress(frame)
    except zstd.ZstdError as exc:
        raise CodecError(f"zstd frame does not decode: {exc}") from exc
    if len(out) != size:
        raise CodecError("zstd frame shorter than its content size")
    return out
