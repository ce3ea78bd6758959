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
    44     4     CRC32 of bytes 0..43 (header integrity)
    48     ...   stored bytes

All integers big-endian. The fragment's own hash checks its bytes after decoding.
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

from dedup.chunking import ChunkerParams
from dedup.fsutil import publish_file

# 4: delta records and the tables bases / layouts (dedup/delta.py); 3: packs may hold
# punched holes (dedup/holes.py); 2: "mrefs" (dedup/migrate.py)
FORMAT_VERSION = 4
READABLE_FORMATS = (1, 2, 3, 4)  # older formats are upgraded on open
HASH_NAME = "blake3-256"
MAGIC = b"FR"
RECORD_VERSION = 1
HEADER = struct.Struct(">2sBBII32sI")
HEADER_SIZE = HEADER.size  # 48
HASH_SIZE = 32


class FormatError(Exception):
    """The data directory was written with another format or chunker."""


@dataclass(frozen=True)
class RecordHeader:
    codec: int
    raw_length: int
    stored_length: int
    digest: bytes

    @property
    def total(self) -> int:
        return HEADER_SIZE + self.stored_length


def pack_header(codec: int, raw_length: int, stored_length: int, digest: bytes) -> bytes:
    head = struct.pack(">2sBBII32s", MAGIC, RECORD_VERSION, codec, raw_length, stored_length, digest)
    return head + struct.pack(">I", zlib.crc32(head))


def unpack_header(buf: bytes | memoryview) -> RecordHeader | None:
    """Parse a record header; None when it is not a valid one (torn or damaged)."""
    if len(buf) < HEADER_SIZE:
        return None
    magic, version, codec, raw_len, stored_len, digest, crc = HEADER.unpack_from(buf)
    if magic != MAGIC or version != RECORD_VERSION or zlib.crc32(bytes(buf[:44])) != crc:
        return None
    return RecordHeader(codec, raw_len, stored_len, digest)


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
