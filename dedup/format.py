"""On-disk format: the FORMAT file and the pack record.

Data directory::

    <data>/FORMAT     JSON: format version, hash name, chunker parameters
    <data>/index/     LMDB environment (see dedup/index.py for its tables)
    <data>/packs/     pack files ``<id:08x>.pack``; append-only; sealed packs read-only
    <data>/tmp/       scratch, cleared on open

Pack record (self-describing, so the index can be rebuilt from packs alone)::

    offset size  field
    0      2     magic b"FR"
    2      1     format version (1)
    3      1     codec (0 raw; others: dedup/codecs.py)
    4      4     raw length (bytes of the fragment itself)
    8      4     stored length (bytes that follow the header)
    12     32    BLAKE3-256 of the raw fragment (its name)
    44     4     record version 2: CRC32C of the stored bytes, then of bytes 0..43
                 (the whole record's integrity); version 1: CRC32 of bytes 0..43
    48     ...   stored bytes

All integers big-endian. Records are written as version 2 (from format 4): a
read checks the record's CRC32C (and that the header names the fragment it
looked for) before a byte of it is served, at ~0.06 ns/B instead of BLAKE3's
~0.15; the fragment's BLAKE3 name is verified by ``check`` (dedup/check.py).
Version 1 records (formats 1 to 3) carry no checksum of their bytes: a read
verifies them by their BLAKE3 name, as before. Neither checksum depends on
where the record lies, so compaction copies records byte for byte.
From format 3 the records of freed fragments may be punched out of a pack (they
read as zeros, dedup/holes.py): a reader of packs steps over zeros where a
header should start (dedup/packs.py ``scan_records``).
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from awscrt import checksums as _checksums

from dedup.chunking import ChunkerParams
from dedup.fsutil import publish_file

# 5: delta records and the tables bases / layouts (dedup/delta.py); 4: records carry a
# CRC32C; 3: packs may hold punched holes (dedup/holes.py); 2: "mrefs" (dedup/migrate.py)
FORMAT_VERSION = 5
READABLE_FORMATS = (1, 2, 3, 4, 5)  # older formats are upgraded on open (dedup/migrate.py)
HASH_NAME = "blake3-256"
MAGIC = b"FR"
RECORD_VERSION = 2  # the version of the records written; version 1 is still read
HEADER = struct.Struct(">2sBBII32sI")
HEADER_SIZE = HEADER.size  # 48
HASH_SIZE = 32


class FormatError(Exception):
    """The data directory was written with another format or chunker."""


def crc32c(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    """CRC32C of ``data``, continuing from ``value`` (the CRC of what came
    before). awscrt's (botocore's own library, already a dependency): the CPU's
    CRC32 instruction where it has one, and the GIL released on large buffers,
    so worker threads hash side by side."""
    return _checksums.crc32c(data, value)


@dataclass(frozen=True)
class RecordHeader:
    codec: int
    raw_length: int
    stored_length: int
    digest: bytes
    version: int = RECORD_VERSION
    check: int = 0  # version 2: the record's CRC32C (bytes 44..47)

    @property
    def total(self) -> int:
        return HEADER_SIZE + self.stored_length

    def encode(self) -> bytes:
        """The header's bytes, as they were read (compaction copies records as they are)."""
        head = struct.pack(">2sBBII32s", MAGIC, self.version, self.codec, self.raw_length,
                           self.stored_length, self.digest)
        check = zlib.crc32(head) if self.version == 1 else self.check
        return head + struct.pack(">I", check)

    def intact(self, stored: bytes | bytearray | memoryview) -> bool | None:
        """Whether ``stored`` and this header are the bytes that were written
        (version 2); None for a version 1 record, whose bytes only the
        fragment's BLAKE3 name can check."""
        if self.version == 1:
            return None
        return len(stored) == self.stored_length and record_check(self.encode()[:44], stored) == self.check


def record_check(head: bytes | bytearray | memoryview, stored: bytes | bytearray | memoryview) -> int:
    """The CRC32C of a version 2 record: of its stored bytes, then of its header's bytes 0..43."""
    return crc32c(head[:44], crc32c(stored))


def pack_header(codec: int, raw_length: int, stored_length: int, digest: bytes, stored_crc: int) -> bytes:
    """A version 2 record header; ``stored_crc`` is ``crc32c(stored bytes)``,
    computed where the bytes were hashed (a worker thread), not in the writer."""
    head = struct.pack(">2sBBII32s", MAGIC, RECORD_VERSION, codec, raw_length, stored_length, digest)
    return head + struct.pack(">I", crc32c(head, stored_crc))


def unpack_header(buf: bytes | bytearray | memoryview) -> RecordHeader | None:
    """Parse a record header; None when it is not a valid one (torn or damaged).
    A version 1 header checks itself (its CRC32 covers it alone); a version 2
    header's CRC32C covers the stored bytes too: ``RecordHeader.intact`` checks
    it once they are read."""
    if len(buf) < HEADER_SIZE:
        return None
    magic, version, codec, raw_len, stored_len, digest, crc = HEADER.unpack_from(buf)
    if magic != MAGIC:
        return None
    if version == 1:
        if zlib.crc32(bytes(buf[:44])) != crc:
            return None
    elif version != RECORD_VERSION:
        return None
    return RecordHeader(codec, raw_len, stored_len, digest, version, crc)


def write_format(data_dir: Path, params: ChunkerParams) -> None:
    doc = {"format": FORMAT_VERSION, "hash": HASH_NAME, "chunker": "fastcdc-2020", **params.to_json()}
    publish_file(data_dir / "FORMAT", (json.dumps(doc, indent=2) + "\n").encode())


def read_format(data_dir: Path) -> tuple[ChunkerParams, int] | None:
    """(chunker parameters, format version) of a data directory; None if it has
    no FORMAT yet. A format this code cannot read raises FormatError."""
    path = data_dir / "FORMAT"
    if not path.exists():
        return None
    doc = json.loads(path.read_text())
    if doc.get("format") not in READABLE_FORMATS or doc.get("hash") != HASH_NAME:
        raise FormatError(f"unsupported data format: {doc}")
    return ChunkerParams(int(doc["min"]), int(doc["avg"]), int(doc["max"])), int(doc["format"])
