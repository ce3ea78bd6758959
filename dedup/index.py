"""The index: tables, key encodings and row codecs. No pack-file I/O.

The tables live in a transactional ordered key-value store behind the seam of
dedup/kv.py: LMDB in the data directory (the default) or PostgreSQL
(``--index postgresql://...``). Every module of the engine reaches them
through :class:`Index` and the ``Txn`` it opens.

Tables (named sub-databases; integers big-endian so byte order is numeric order)::

    meta       name -> value          counters and id allocators
    buckets    name -> JSON           {id, owner, created}
    bstats     bucket id(4) -> objects(8) logical bytes(8)
    objects    bucket id(4) + key -> object row (ObjectRow; long keys: dedup/keys.py)
    mrefs      mid(8) -> refcount(4) length(8)   references to a manifest, its byte count
    pending    mid(8) -> created(8 ns)       manifests being written, not yet referenced
    dead       time(8 ns) + mid(8) -> ""     manifests at refcount 0, reclaimed after a grace period
    manifests  mid(8) + offset(8) -> up to 48 x (fragment hash(32) raw length(4)),
                                      the consecutive fragments from that offset
    fragments  hash(32) -> pack(4) offset(8) stored(4) raw(4) codec(1) refcount(4)
    packs      pack id(4) -> committed length(8) live bytes(8) sealed(1)
    holes      pack id(4) + offset(8) -> length(4)   freed records whose bytes are still
                                      to be punched out of their pack (dedup/holes.py)
    uploads    upload id -> JSON          {bucket, bid, key, initiated, meta}
    parts      upload id + "/" + part number(4) -> JSON {v: mid, size, etag, t, c}
    versions   kid(8) + ~seq(8) -> object row     a key's noncurrent S3 versions, newest first
                                                   (dedup/versioning.py)
    bconfig    bucket id(4) + name -> value      bucket configurations (versioning, lifecycle, tags...)
    completed  upload id -> JSON                 completed uploads, to answer a retried completion
    bases      hash(32) -> base hash(32) depth(1) a delta fragment's base (dedup/delta.py); the
                                                   base holds one reference per delta on it
    layouts    mid(8) -> format(1) + n x (name hash(8) start(8) length(8))
                                                   the tensors of a checkpoint (dedup/bases.py)

Keys are UTF-8 bytes, so a cursor walk is S3 list order.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from dedup.kv import KV, Txn, open_kv
from dedup.types import OWNER_FIELD, ObjectMeta

U32 = struct.Struct(">I")
U64 = struct.Struct(">Q")
U64X2 = struct.Struct(">QQ")
FRAGMENT = struct.Struct(">IQIIBI")
MANIFEST_REF = struct.Struct(">IQ")
PACK = struct.Struct(">QQB")
MANIFEST_ENTRY = struct.Struct(">32sI")
ROW_ENTRIES = 48  # entries per manifest row: ~1.7 KB, kept inline in a leaf page
OBJECT_HEAD = struct.Struct(">QdI")
SEGMENT = struct.Struct(">QQ")
HOLE = struct.Struct(">IQ")
U8_HASH = struct.Struct(">32sB")
OWNER_KEY = f'"{OWNER_FIELD}":'.encode()


TABLES = (
    "meta", "buckets", "bstats", "objects", "mrefs", "pending", "dead",
    "manifests", "fragments", "packs", "uploads", "parts", "versions", "bconfig", "completed", "holes",
    "bases", "layouts",
)


def manifest_key(mid: int, offset: int) -> bytes:
    return U64X2.pack(mid, offset)


def manifest_entries(value: bytes) -> list[tuple[bytes, int]]:
    """The (fragment hash, raw length) entries of one manifest row, in order."""
    return list(MANIFEST_ENTRY.iter_unpack(value))  # type: ignore[arg-type]


def manifest_value(entries: list[tuple[bytes, int]]) -> bytes:
    return b"".join(MANIFEST_ENTRY.pack(d, n) for d, n in entries)


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


NULL_VERSION = 1  # ObjectRow.flags: S3's "null" version (unversioned or suspended writes)
DELETE_MARKER = 2  # ObjectRow.flags: a delete marker (no bytes)
VERSIONED_ROW = 0xFF  # first byte of a row that carries version fields
VERSION_HEAD = struct.Struct(">BBQQQ")  # 0xFF, flags, seq, stamp, kid


@dataclass(frozen=True)
class ObjectRow:
    """One version of an object key: size, mtime, the manifests it is made of
    (one per part), its ETag and its metadata. Listing decodes only the head.

    Version fields: ``seq`` orders the versions of every key (larger is newer,
    allocated by the writer); ``stamp`` is the random half of the version id;
    ``flags`` says null version / delete marker; ``kid`` names the key's
    noncurrent versions in the ``versions`` table (0 until it has any). A row
    of a null version with no version fields is stored without them, exactly
    as format 1 stored every row (so unversioned buckets cost no more)."""

    key: str
    size: int
    mtime: float
    segments: tuple[tuple[int, int], ...]  # (mid, length)
    etag: str
    meta: ObjectMeta
    seq: int = 0
    stamp: int = 0
    flags: int = NULL_VERSION
    kid: int = 0

    @property
    def is_null(self) -> bool:
        return bool(self.flags & NULL_VERSION)

    @property
    def is_marker(self) -> bool:
        return bool(self.flags & DELETE_MARKER)

    @property
    def version_id(self) -> str:
        return "null" if self.is_null else f"{self.seq:016x}{self.stamp:016x}"

    def encode(self) -> bytes:
        doc = self.meta.to_json()
        etag = self.etag.encode()
        plain = self.flags == NULL_VERSION and self.seq == 0 and self.kid == 0
        return b"".join(
            [
                b"" if plain else VERSION_HEAD.pack(VERSIONED_ROW, self.flags, self.seq, self.stamp, self.kid),
                OBJECT_HEAD.pack(self.size, self.mtime, len(self.segments)),
                b"".join(SEGMENT.pack(v, n) for v, n in self.segments),
                bytes([len(etag)]),
                etag,
                json.dumps(doc, separators=(",", ":")).encode() if doc else b"",
            ]
        )

    @staticmethod
    def _version_head(buf: bytes) -> tuple[int, int, int, int, int]:
        """(offset of the plain row, flags, seq, stamp, kid)."""
        if buf[0] == VERSIONED_ROW:
            _, flags, seq, stamp, kid = VERSION_HEAD.unpack_from(buf)
            return VERSION_HEAD.size, flags, seq, stamp, kid
        return 0, NULL_VERSION, 0, 0, 0

    @staticmethod
    def _etag_at(buf: bytes, base: int) -> tuple[int, int, str, int]:
        size, mtime, nseg = OBJECT_HEAD.unpack_from(buf, base)
        pos = base + OBJECT_HEAD.size + SEGMENT.size * nseg
        n = buf[pos]
        return size, mtime, buf[pos + 1 : pos + 1 + n].decode(), pos + 1 + n

    @classmethod
    def decode_brief(cls, buf: bytes) -> tuple[int, float, str, int]:
        """(size, mtime, etag, flags) without the metadata."""
        base, flags, _, _, _ = cls._version_head(buf)
        size, mtime, etag, _ = cls._etag_at(buf, base)
        return size, mtime, etag, flags

    @classmethod
    def decode_owner(cls, buf: bytes) -> str:
        """ObjectMeta.owner without decoding the metadata of a row that has none."""
        base = cls._version_head(buf)[0]
        pos = cls._etag_at(buf, base)[3]
        if OWNER_KEY not in buf[pos:]:
            return ""
        return str(json.loads(buf[pos:]).get(OWNER_FIELD, ""))

    @classmethod
    def decode(cls, key: str, buf: bytes) -> ObjectRow:
        base, flags, seq, stamp, kid = cls._version_head(buf)
        size, mtime, etag, pos = cls._etag_at(buf, base)
        _, _, nseg = OBJECT_HEAD.unpack_from(buf, base)
        segs = tuple(
            SEGMENT.unpack_from(buf, base + OBJECT_HEAD.size + SEGMENT.size * i) for i in range(nseg)
        )
        doc = json.loads(buf[pos:]) if pos < len(buf) else {}
        return cls(key, size, mtime, segs, etag, ObjectMeta.from_json(doc), seq, stamp, flags, kid)


class Index:
    """The index's tables in their store (dedup/kv.py), and the row helpers."""

    def __init__(self, path: Path, map_size: int, readonly: bool = False, *, url: str = "") -> None:
        """``url``: "" keeps the index in LMDB at ``path``; ``postgresql://...``
        in that database. ``readonly`` (LMDB): no write transaction, and LMDB's
        own lock file is not used: the caller keeps writers out (dedup/readonly.py)."""
        self.kv: KV = open_kv(url, path, map_size, TABLES, readonly)
        self.db = self.kv.db

    def read(self) -> Txn:
        return self.kv.read()

    def write(self, parent: Txn | None = None) -> Txn:
        return self.kv.write(parent)

    def close(self) -> None:
        self.kv.close()

    # counters ---------------------------------------------------------------
    def counter(self, txn: Txn, name: str) -> int:
        raw = txn.get(name.encode(), db=self.db["meta"])
        return U64.unpack(raw)[0] if raw else 0

    def add(self, txn: Txn, name: str, delta: int) -> None:
        if delta:
            value = max(0, self.counter(txn, name) + delta)
            txn.put(name.encode(), U64.pack(value), db=self.db["meta"])

    def allocate(self, txn: Txn, name: str) -> int:
        value = self.counter(txn, name) + 1
        txn.put(name.encode(), U64.pack(value), db=self.db["meta"])
        return value

    # rows -------------------------------------------------------------------
    def fragment(self, txn: Txn, digest: bytes) -> FragmentRow | None:
        raw = txn.get(digest, db=self.db["fragments"])
        return FragmentRow.decode(raw) if raw else None

    def put_fragment(self, txn: Txn, digest: bytes, row: FragmentRow) -> None:
        txn.put(digest, row.encode(), db=self.db["fragments"])

    def manifest_ref(self, txn: Txn, mid: int) -> tuple[int, int] | None:
        raw = txn.get(U64.pack(mid), db=self.db["mrefs"])
        return MANIFEST_REF.unpack(raw) if raw else None  # type: ignore[return-value]

    def put_manifest_ref(self, txn: Txn, mid: int, refcount: int, length: int) -> None:
        txn.put(U64.pack(mid), MANIFEST_REF.pack(refcount, length), db=self.db["mrefs"])

    def pack(self, txn: Txn, pack_id: int) -> tuple[int, int, int] | None:
        raw = txn.get(U32.pack(pack_id), db=self.db["packs"])
        return PACK.unpack(raw) if raw else None  # type: ignore[return-value]

    def put_pack(self, txn: Txn, pack_id: int, committed: int, live: int, sealed: int) -> None:
        txn.put(U32.pack(pack_id), PACK.pack(committed, live, sealed), db=self.db["packs"])

    def add_live(self, txn: Txn, pack_id: int, delta: int) -> None:
        row = self.pack(txn, pack_id)
        if row is not None:
            self.put_pack(txn, pack_id, row[0], max(0, row[1] + delta), row[2])

    def bucket(self, txn: Txn, name: str) -> dict | None:
        if not 0 < len(name.encode()) <= 255:  # no such bucket can exist (and LMDB refuses the key)
            return None
        raw = txn.get(name.encode(), db=self.db["buckets"])
        return json.loads(raw) if raw else None

    def add_bucket_stats(self, txn: Txn, bid: int, objects: int, logical: int) -> None:
        key = U32.pack(bid)
        raw = txn.get(key, db=self.db["bstats"])
        n, size = U64X2.unpack(raw) if raw else (0, 0)
        txn.put(key, U64X2.pack(max(0, n + objects), max(0, size + logical)), db=self.db["bstats"])
        self.add(txn, "objects", objects)
        self.add(txn, "logical", logical)

    def index_bytes(self) -> int:
        return self.kv.size_bytes()
