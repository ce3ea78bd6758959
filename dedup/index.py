"""The LMDB index: tables, key encodings and row codecs. No pack-file I/O.

Tables (named sub-databases; integers big-endian so byte order is numeric order)::

    meta       name -> value          counters and id allocators
    buckets    name -> JSON           {id, owner, created}
    bstats     bucket id(4) -> objects(8) logical bytes(8)
    objects    bucket id(4) + keyform -> object row (see ObjectRow)
    versions   vid(8) -> refcount(4) length(8)
    pending    vid(8) -> created(8 ns)       versions being written, not yet referenced
    dead       time(8 ns) + vid(8) -> ""     versions at refcount 0, reclaimed after a grace period
    manifests  vid(8) + offset(8) -> fragment hash(32) raw length(4)
    fragments  hash(32) -> pack(4) offset(8) stored(4) raw(4) codec(1) refcount(4)
    packs      pack id(4) -> committed length(8) live bytes(8) sealed(1)
    uploads    upload id -> JSON          {bucket, bid, key, initiated, meta}
    parts      upload id + "/" + part number(4) -> JSON {vid, size, etag, t, c}

A keyform is the key's UTF-8 bytes, so a cursor walk is S3 list order. LMDB
keys hold at most 511 bytes: keys over 500 bytes are stored as their first 469
bytes plus their BLAKE3 (501 bytes, a length no plain keyform has) with the
full key in the row; such keys sort correctly except among themselves when
their first 469 bytes are equal.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import blake3
import lmdb

from dedup.types import ObjectMeta

U32 = struct.Struct(">I")
U64 = struct.Struct(">Q")
U64X2 = struct.Struct(">QQ")
FRAGMENT = struct.Struct(">IQIIBI")
VERSION = struct.Struct(">IQ")
PACK = struct.Struct(">QQB")
MANIFEST_ROW = struct.Struct(">32sI")
OBJECT_HEAD = struct.Struct(">QdI")
SEGMENT = struct.Struct(">QQ")

LONG_KEY = 500
LONG_PREFIX = 469

TABLES = (
    "meta", "buckets", "bstats", "objects", "versions", "pending", "dead",
    "manifests", "fragments", "packs", "uploads", "parts",
)


def keyform(raw_key: bytes) -> bytes:
    if len(raw_key) <= LONG_KEY:
        return raw_key
    return raw_key[:LONG_PREFIX] + blake3.blake3(raw_key).digest()


def manifest_key(vid: int, offset: int) -> bytes:
    return U64X2.pack(vid, offset)


@dataclass(frozen=True)
class FragmentRow:
    pack: int
    offset: int
    stored: int
    raw: int
    codec: int
    refcount: int

    def encode(self) -> bytes:
        return FRAGMENT.pack(self.pack, self.offset, self.stored, self.raw, self.codec, self.refcount)

    @classmethod
    def decode(cls, buf: bytes) -> FragmentRow:
        return cls(*FRAGMENT.unpack(buf))


@dataclass(frozen=True)
class ObjectRow:
    """An object key's row: size, mtime, the versions it is made of (one per
    part), its ETag and its metadata. Listing decodes only the head and ETag."""

    key: str
    size: int
    mtime: float
    segments: tuple[tuple[int, int], ...]  # (vid, length)
    etag: str
    meta: ObjectMeta

    def encode(self) -> bytes:
        doc = self.meta.to_json()
        raw_key = self.key.encode()
        if len(raw_key) > LONG_KEY:
            doc["k"] = self.key
        etag = self.etag.encode()
        return b"".join(
            [
                OBJECT_HEAD.pack(self.size, self.mtime, len(self.segments)),
                b"".join(SEGMENT.pack(v, n) for v, n in self.segments),
                bytes([len(etag)]),
                etag,
                json.dumps(doc, separators=(",", ":")).encode(),
            ]
        )

    @staticmethod
    def _etag_at(buf: bytes) -> tuple[int, int, str, int]:
        size, mtime, nseg = OBJECT_HEAD.unpack_from(buf)
        pos = OBJECT_HEAD.size + SEGMENT.size * nseg
        n = buf[pos]
        return size, mtime, buf[pos + 1 : pos + 1 + n].decode(), pos + 1 + n

    @classmethod
    def decode_brief(cls, buf: bytes) -> tuple[int, float, str]:
        size, mtime, etag, _ = cls._etag_at(buf)
        return size, mtime, etag

    @classmethod
    def decode(cls, key: str | None, buf: bytes) -> ObjectRow:
        size, mtime, etag, pos = cls._etag_at(buf)
        _, _, nseg = OBJECT_HEAD.unpack_from(buf)
        segs = tuple(
            SEGMENT.unpack_from(buf, OBJECT_HEAD.size + SEGMENT.size * i) for i in range(nseg)
        )
        doc = json.loads(buf[pos:])
        return cls(doc.get("k", key), size, mtime, segs, etag, ObjectMeta.from_json(doc))


def full_key(kf: bytes, value: bytes) -> str:
    """The object key of a row, reading the row only for long keys."""
    if len(kf) <= LONG_KEY:
        return kf.decode()
    return str(ObjectRow.decode(None, value).key)


class Index:
    """The LMDB environment and its tables."""

    def __init__(self, path: Path, map_size: int) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(
            str(path), map_size=map_size, max_dbs=len(TABLES) + 2, max_readers=1024,
            readahead=False, sync=True, metasync=True,
        )
        self.db = {name: self.env.open_db(name.encode()) for name in TABLES}

    def read(self) -> lmdb.Transaction:
        return self.env.begin(buffers=False)

    def write(self, parent: lmdb.Transaction | None = None) -> lmdb.Transaction:
        return self.env.begin(write=True, parent=parent)

    def close(self) -> None:
        self.env.close()

    # counters ---------------------------------------------------------------
    def counter(self, txn: lmdb.Transaction, name: str) -> int:
        raw = txn.get(name.encode(), db=self.db["meta"])
        return U64.unpack(raw)[0] if raw else 0

    def add(self, txn: lmdb.Transaction, name: str, delta: int) -> None:
        if delta:
            value = max(0, self.counter(txn, name) + delta)
            txn.put(name.encode(), U64.pack(value), db=self.db["meta"])

    def allocate(self, txn: lmdb.Transaction, name: str) -> int:
        value = self.counter(txn, name) + 1
        txn.put(name.encode(), U64.pack(value), db=self.db["meta"])
        return value

    # rows -------------------------------------------------------------------
    def fragment(self, txn: lmdb.Transaction, digest: bytes) -> FragmentRow | None:
        raw = txn.get(digest, db=self.db["fragments"])
        return FragmentRow.decode(raw) if raw else None

    def put_fragment(self, txn: lmdb.Transaction, digest: bytes, row: FragmentRow) -> None:
        txn.put(digest, row.encode(), db=self.db["fragments"])

    def version(self, txn: lmdb.Transaction, vid: int) -> tuple[int, int] | None:
        raw = txn.get(U64.pack(vid), db=self.db["versions"])
        return VERSION.unpack(raw) if raw else None  # type: ignore[return-value]

    def put_version(self, txn: lmdb.Transaction, vid: int, refcount: int, length: int) -> None:
        txn.put(U64.pack(vid), VERSION.pack(refcount, length), db=self.db["versions"])

    def pack(self, txn: lmdb.Transaction, pack_id: int) -> tuple[int, int, int] | None:
        raw = txn.get(U32.pack(pack_id), db=self.db["packs"])
        return PACK.unpack(raw) if raw else None  # type: ignore[return-value]

    def put_pack(self, txn: lmdb.Transaction, pack_id: int, committed: int, live: int, sealed: int) -> None:
        txn.put(U32.pack(pack_id), PACK.pack(committed, live, sealed), db=self.db["packs"])

    def add_live(self, txn: lmdb.Transaction, pack_id: int, delta: int) -> None:
        row = self.pack(txn, pack_id)
        if row is not None:
            self.put_pack(txn, pack_id, row[0], max(0, row[1] + delta), row[2])

    def bucket(self, txn: lmdb.Transaction, name: str) -> dict | None:
        raw = txn.get(name.encode(), db=self.db["buckets"])
        return json.loads(raw) if raw else None

    def add_bucket_stats(self, txn: lmdb.Transaction, bid: int, objects: int, logical: int) -> None:
        key = U32.pack(bid)
        raw = txn.get(key, db=self.db["bstats"])
        n, size = U64X2.unpack(raw) if raw else (0, 0)
        txn.put(key, U64X2.pack(max(0, n + objects), max(0, size + logical)), db=self.db["bstats"])
        self.add(txn, "objects", objects)
        self.add(txn, "logical", logical)

    def index_bytes(self) -> int:
        info = self.env.info()
        stat = self.env.stat()
        return int((info["last_pgno"] + 1) * stat["psize"])
