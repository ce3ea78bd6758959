"""The on-disk format: pack record headers (round trip, damage detection:
version 2's CRC32C over the stored bytes and the header, version 1's CRC32 of
the header alone, still read) and the FORMAT file (round trip, refusal of unknown formats, chunker parameters
kept across opens with another configuration)."""

from __future__ import annotations

import json
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from storetest import SMALL, content, put

from dedup import Store
from dedup.chunking import ChunkerParams
from dedup.format import (
    FORMAT_VERSION,
    HEADER_SIZE,
    FormatError,
    crc32c,
    pack_header,
    read_format,
    unpack_header,
    write_format,
)
from dedup.types import KiB, StoreConfig

_u32 = st.integers(0, 2**32 - 1)


def _v1_header(codec: int, raw: int, stored: int, digest: bytes) -> bytes:
    """A record header as formats 1 to 3 wrote it."""
    head = struct.pack(">2sBBII32s", b"FR", 1, codec, raw, stored, digest)
    return head + struct.pack(">I", zlib.crc32(head))


@given(codec=st.integers(0, 255), raw=_u32, data=st.binary(max_size=300), digest=st.binary(min_size=32, max_size=32))
def test_header_round_trip(codec, raw, data, digest):
    head = pack_header(codec, raw, len(data), digest, crc32c(data))
    assert len(head) == HEADER_SIZE == 48
    parsed = unpack_header(head)
    assert parsed is not None
    assert (parsed.codec, parsed.raw_length, parsed.stored_length, parsed.digest) == (codec, raw, len(data), digest)
    assert parsed.total == HEADER_SIZE + len(data)
    assert parsed.version == 2 and parsed.intact(data) is True
    assert parsed.encode() == head
    assert unpack_header(head + b"trailing data") == parsed


def test_crc32c_is_the_castagnoli_crc():
    assert crc32c(b"123456789") == 0xE3069283  # the check value of CRC-32C
    assert crc32c(b"6789", crc32c(b"12345")) == 0xE3069283


@given(pos=st.integers(0, HEADER_SIZE + 99), bit=st.integers(0, 7))
def test_any_flipped_bit_of_a_record_is_detected(pos, bit):
    data = bytes(range(100))
    record = bytearray(pack_header(0, 100, 100, b"\x07" * 32, crc32c(data)) + data)
    record[pos] ^= 1 << bit
    parsed = unpack_header(bytes(record))
    assert parsed is None or not parsed.intact(record[HEADER_SIZE:])


@given(pos=st.integers(0, HEADER_SIZE - 1), bit=st.integers(0, 7))
def test_version1_headers_are_read_and_any_flipped_bit_is_detected(pos, bit):
    head = bytearray(_v1_header(0, 1000, 1000, b"\x07" * 32))
    parsed = unpack_header(bytes(head))
    assert parsed is not None and parsed.version == 1 and parsed.raw_length == 1000
    assert parsed.intact(b"x" * 1000) is None  # no CRC of its bytes: BLAKE3 checks them
    assert parsed.encode() == bytes(head)
    head[pos] ^= 1 << bit
    assert unpack_header(bytes(head)) is None


def test_short_or_foreign_headers():
    head = pack_header(0, 1, 1, b"\x00" * 32, crc32c(b"x"))
    assert unpack_header(head[:-1]) is None
    assert unpack_header(b"") is None
    assert unpack_header(b"\x00" * HEADER_SIZE) is None
    assert unpack_header(head[:2] + b"\x03" + head[3:]) is None  # a record version this code does not know


def test_layout_is_big_endian():
    head = pack_header(3, 0x01020304, 0x0A0B0C0D, bytes(range(32)), crc32c(b"stored"))
    assert head[:2] == b"FR" and head[2] == 2 and head[3] == 3
    assert head[4:8] == b"\x01\x02\x03\x04" and head[8:12] == b"\x0a\x0b\x0c\x0d"
    assert head[12:44] == bytes(range(32))
    assert head[44:] == crc32c(head[:44], crc32c(b"stored")).to_bytes(4, "big")


def test_format_file_round_trip(tmp_path):
    assert read_format(tmp_path) is None
    params = ChunkerParams(1024, 4096, 16384)
    write_format(tmp_path, params)
    assert read_format(tmp_path) == (params, FORMAT_VERSION)
    doc = json.loads((tmp_path / "FORMAT").read_text())
    assert doc["format"] == FORMAT_VERSION and doc["hash"] == "blake3-256" and doc["chunker"] == "fastcdc-2020"
    assert not list(tmp_path.glob(".*tmp"))


@pytest.mark.parametrize("change", [{"format": FORMAT_VERSION + 1}, {"format": 0}, {"hash": "sha256"}])
def test_unknown_format_is_refused(tmp_path, loop, change):
    write_format(tmp_path, ChunkerParams(1024, 4096, 16384))
    doc = json.loads((tmp_path / "FORMAT").read_text())
    (tmp_path / "FORMAT").write_text(json.dumps({**doc, **change}))
    with pytest.raises(FormatError):
        read_format(tmp_path)
    with pytest.raises(FormatError):
        loop.run_until_complete(Store.open(tmp_path, SMALL))


def test_store_writes_format_with_its_chunker(store):
    assert read_format(store.path) == (ChunkerParams(SMALL.min_fragment, SMALL.avg_fragment, SMALL.max_fragment), FORMAT_VERSION)
    for sub in ("index", "packs", "tmp") if not store.config.index else ("packs", "tmp"):
        assert (store.path / sub).is_dir()
    assert (store.path / "index").exists() == (not store.config.index)


def test_reopening_with_other_chunker_settings_keeps_the_stored_ones(harness, run):
    data = content("keep-dedup", 400 * KiB)
    run(harness.store.create_bucket("bucket-a", "owner"))
    run(put(harness.store, "bucket-a", "k", data))
    other = StoreConfig(**{**SMALL.__dict__, "min_fragment": 4 * KiB, "avg_fragment": 16 * KiB, "max_fragment": 64 * KiB})
    store = harness.reopen(other)
    assert store.params == ChunkerParams(SMALL.min_fragment, SMALL.avg_fragment, SMALL.max_fragment)
    assert run(put(store, "bucket-a", "again", data)).new_bytes == 0
