"""Delta fragments: a fragment stored as its difference from a fragment of an
earlier checkpoint (its *base*), then compressed like any fragment.

Two checkpoints of one training run differ in every weight, so byte-exact
dedup finds nothing between them, but the high bytes of each number change
little: the XOR (or the integer difference) of a tensor and its namesake in
the previous checkpoint is mostly zero bits in the sign and exponent planes,
which the byte-plane codecs of dedup/codecs.py squeeze far better than the
weights themselves (benchmarks/results/delta_margin.md).

A delta record (codec ``DELTA``) carries its base's name, so packs stay
self-describing::

    offset size  field
    0      32    BLAKE3 of the base fragment (as long as this one)
    32     1     operation: 0 XOR; 2 / 4 subtraction of little-endian
                 unsigned integers of that many bytes (new - base, wrapping;
                 a tail shorter than one integer is XORed)
    33     1     codec of the difference (RAW, ZSTD, PLANES2, PLANES4)
    34     ...   the difference stored under that codec

The index keeps, per delta fragment, its base and its depth (table ``bases``:
hash(32) -> base hash(32) depth(1)): the base holds one reference for each
delta fragment built on it, so it outlives every object that named it for as
long as a delta needs its bytes; freeing the delta drops that reference
(dedup/manifests.py). Depth 1 is a delta on a plain fragment; a chain never
grows past the configured depth (``StoreConfig.delta_depth``): a fragment
whose base is at the bound is encoded against the root of that chain (a
plain fragment) and starts a new chain of depth 1, so reading one fragment
decodes at most depth + 1 records. Measured on the LM fine-tune's weights
(benchmarks/delta_speed.py, engine alone, shared machine), at depth 1 / 2 / 4:
2.31x / 2.69x / 2.93x, where storing it whole (a new root) gave 2.00x /
2.43x / 2.71x at about the same GET speed, and a delta on the base's own base
(always depth K) 2.69x at depth 4 with GETs 4x slower. A root stays needed
while deltas anchor on it; when a delta on it no longer pays (the weights
drifted), the fragment is stored whole and becomes the next root.

Subtraction or XOR: on float32 checkpoints subtracting the bit patterns as
32-bit integers stored 1-4 % less than XOR (delta_margin.md); the element
width comes from the codecs' cheap guess (byte planes of width 4 or 2), XOR
otherwise.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import blake3
import numpy

from dedup.codecs import RAW, CodecError, decode, encode
from dedup.errors import CorruptFragment
from dedup.format import HEADER_SIZE, unpack_header
from dedup.index import U8_HASH, Index, Txn
from dedup.packstore import PackStore
from dedup.predict import worth

DELTA = 4
HEAD = struct.Struct(">32sBB")
XOR = 0
OPS = (XOR, 2, 4)
GAIN = 0.05  # a delta must store this share less than the fragment's own best form
SURE = 1 / 3  # a delta this small (of the raw bytes) beats any form of weights: taken at once
MAX_DEPTH = 16  # the most any configuration allows (a damaged index cannot loop a read)
_KINDS = {2: numpy.uint16, 4: numpy.uint32}


def op_for(width: int) -> int:
    """The operation for a fragment whose bytes look like numbers of ``width`` bytes."""
    return width if width in (2, 4) else XOR


def difference(new: memoryview | bytes, base: memoryview | bytes, op: int) -> memoryview:
    """``new`` against ``base`` (same length) under ``op``."""
    a = numpy.frombuffer(new, numpy.uint8)
    b = numpy.frombuffer(base, numpy.uint8)
    out = numpy.bitwise_xor(a, b)
    if op in _KINDS:
        n = len(a) - len(a) % op
        kind = _KINDS[op]
        out[:n] = (a[:n].view(kind) - b[:n].view(kind)).view(numpy.uint8)
    return memoryview(out.data)


def undo(diff: memoryview | bytes, base: memoryview | bytes, op: int, out: memoryview) -> None:
    """``out`` = the fragment whose difference from ``base`` is ``diff``."""
    d = numpy.frombuffer(diff, numpy.uint8)
    b = numpy.frombuffer(base, numpy.uint8)
    o = numpy.frombuffer(out, numpy.uint8)
    numpy.bitwise_xor(d, b, out=o)
    if op in _KINDS:
        n = len(d) - len(d) % op
        kind = _KINDS[op]
        numpy.add(d[:n].view(kind), b[:n].view(kind), out=o[:n].view(kind))


def encode_delta(policy: str, raw: memoryview, offset: int, base_digest: bytes,
                 base: bytes | memoryview, op: int) -> bytes:
    """The stored bytes of ``raw`` as a delta on ``base`` (compressed under ``policy``)."""
    codec, stored = encode(policy, difference(raw, base, op), offset)
    return HEAD.pack(base_digest, op, codec) + bytes(stored)


def smaller(delta: int, own: int) -> bool:
    """Whether a delta of ``delta`` stored bytes beats the fragment's own ``own`` by ``GAIN``."""
    return worth(delta, own, GAIN)


def base_of(stored: memoryview | bytes) -> bytes:
    if len(stored) < HEAD.size:
        raise CodecError("delta record shorter than its header")
    return bytes(stored[:32])


def decode_delta(stored: memoryview | bytes, fetch: Callable[[bytes], bytes | memoryview],
                 out: memoryview) -> None:
    """Decode a delta record into ``out`` (as long as the fragment); ``fetch``
    gives a base fragment's raw bytes by its name."""
    if len(stored) < HEAD.size:
        raise CodecError("delta record shorter than its header")
    base_digest, op, codec = HEAD.unpack_from(stored)
    if op not in OPS or codec == DELTA:
        raise CodecError(f"delta record with operation {op}, codec {codec}")
    diff = decode(codec, memoryview(stored)[HEAD.size :])
    base = fetch(base_digest)
    if len(diff) != len(out) or len(base) != len(out):
        raise CodecError(f"delta of {len(diff)} bytes on a base of {len(base)}, not {len(out)}")
    undo(diff, base, op, out)


def chain_row(txn: Txn, index: Index, digest: bytes) -> tuple[bytes, int] | None:
    """(base, depth) of a delta fragment; None for a plain one."""
    raw = txn.get(digest, db=index.db["bases"])
    if raw is None:
        return None
    base, depth = U8_HASH.unpack(raw)
    return base, depth


class Fragments:
    """Raw bytes of stored fragments by name, deltas resolved (for reads of
    bases, ``check`` and the reader). Every record read is checked: by its
    header (it names the fragment) and its CRC32C, as a GET checks what it
    serves (a version 1 record, without one, by the BLAKE3 of its bytes);
    ``verify`` adds the BLAKE3 of every decoded fragment (``check``)."""

    def __init__(self, index: Index, files: PackStore) -> None:
        self.index = index
        self.files = files

    def raw(self, digest: bytes, depth: int = 0, verify: bool = True) -> bytes | memoryview:
        if depth > MAX_DEPTH:
            raise CorruptFragment(f"delta chain through {digest.hex()} deeper than {MAX_DEPTH}")
        try:
            return self._load(digest, depth, verify)
        except (OSError, CorruptFragment):
            # compaction may have moved it since the lookup: look again, once
            return self._load(digest, depth, verify)

    def unchecked(self, digest: bytes) -> bytes | memoryview:
        """``raw`` checked by its records' CRC32C only, not by BLAKE3 (a GET's bases)."""
        return self.raw(digest, verify=False)

    def _load(self, digest: bytes, depth: int, verify: bool) -> bytes | memoryview:
        with self.index.read() as txn:
            row = self.index.fragment(txn, digest)
        if row is None:
            raise CorruptFragment(f"fragment {digest.hex()} is missing")
        data = memoryview(self.files.read(row.pack, row.offset, HEADER_SIZE + row.stored))
        header, stored = unpack_header(data), data[HEADER_SIZE:]
        if (header is None or header.digest != digest or header.codec != row.codec
                or header.stored_length != row.stored or header.intact(stored) is False):
            raise CorruptFragment(f"fragment {digest.hex()} in pack {row.pack:08x} fails its record check")
        verify = verify or header.intact(stored) is None  # a version 1 record: only its name checks it
        raw: bytes | memoryview
        if row.codec == DELTA:
            out = memoryview(bytearray(row.raw))
            decode_delta(stored, lambda d: self.raw(d, depth + 1, verify), out)
            raw = out
        else:
            raw = decode(row.codec, stored) if row.codec != RAW else stored
        if len(raw) != row.raw or (verify and blake3.blake3(raw).digest() != digest):
            raise CorruptFragment(f"fragment {digest.hex()} in pack {row.pack:08x} fails its hash")
        return raw
