"""Reference counting of manifests and fragments (write jobs' building blocks).

A manifest (id ``mid``) is the ordered fragment list of one stored body (one PUT
or one part): rows (mid, offset) -> (fragment, length). Invariants kept here:

3. A fragment's refcount equals the number of manifest rows naming it, plus
   the number of delta fragments whose base it is (dedup/delta.py).
5. A manifest's refcount equals the number of object and part rows naming it;
   a manifest being written is in ``pending`` instead. At zero it is queued in
   ``dead`` and its rows are reclaimed after a grace period, so GETs already
   streaming it finish (with a single writer, a new upload of the same bytes
   cannot race the freeing of a fragment: both happen in writer order).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from dedup.delta import DELTA
from dedup.encryption import SEALED, record_key_id
from dedup.errors import EngineError
from dedup.format import HEADER_SIZE
from dedup.gateways import pending_value
from dedup.index import (
    ROW_ENTRIES,
    U8_HASH,
    U64,
    U64X2,
    FragmentRow,
    manifest_entries,
    manifest_key,
    manifest_value,
)
from dedup.writer import NewRecord, WriteTxn


class IncompleteManifest(EngineError):
    """A batch of the manifest failed; the error that made it fail is the one to report."""


@dataclass(frozen=True)
class Fragment:
    """A fragment ready to be written: its name, raw length and stored form;
    a delta (codec DELTA) names its ``base`` and its chain ``depth``, and
    keeps its ``raw`` bytes, stored as they are if the base is gone by the
    time the writer gets to it."""

    digest: bytes
    raw_length: int
    codec: int
    data: bytes | memoryview
    base: bytes | None = None
    depth: int = 0
    raw: bytes | memoryview | None = None
    crc: int | None = None  # crc32c(data) when computed beside its hash (new fragments)


def note_mid(w: WriteTxn, mid: int) -> None:
    if w.index.counter(w.txn, "next_mid") <= mid:
        w.txn.put(b"next_mid", U64.pack(mid + 1), db=w.index.db["meta"])


def add_fragments(w: WriteTxn, mid: int, offset: int, frags: Sequence[Fragment]) -> int:
    """Append manifest rows for ``frags`` starting at ``offset`` in manifest
    ``mid`` (pending), incref known fragments, write new ones. Returns the
    number of raw bytes that were new to the store."""
    idx, txn = w.index, w.txn
    pending = idx.db["pending"]
    vkey = U64.pack(mid)
    if txn.get(vkey, db=pending) is None:
        txn.put(vkey, pending_value(time.time_ns(), w.writer.gateway), db=pending)
        note_mid(w, mid)
    new: dict[bytes, Fragment] = {}
    counts: dict[bytes, int] = {}
    rows: dict[bytes, bytes] = {}
    for i in range(0, len(frags), ROW_ENTRIES):
        entries = [(f.digest, f.raw_length) for f in frags[i : i + ROW_ENTRIES]]
        rows[manifest_key(mid, offset)] = manifest_value(entries)
        offset += sum(n for _, n in entries)
    idx.kv.put_many(txn, rows, idx.db["manifests"])
    first: dict[bytes, Fragment] = {}
    for f in frags:
        counts[f.digest] = counts.get(f.digest, 0) + 1
        first.setdefault(f.digest, f)
    fragments = idx.db["fragments"]
    known = idx.kv.get_many(txn, list(counts), fragments)  # (one query with a PostgreSQL index)
    changed: dict[bytes, bytes] = {}
    for digest, n in counts.items():
        raw = known.get(digest)
        if raw is not None:
            row = FragmentRow.decode(raw)
            changed[digest] = FragmentRow(row.pack, row.offset, row.stored, row.raw, row.codec, row.refcount + n).encode()
        else:
            new[digest] = first[digest]
    if not new:
        idx.kv.put_many(txn, changed, fragments)
        return 0
    for digest, f in new.items():
        if f.base is not None:
            new[digest] = _take_base(w, f)
    records = [NewRecord(f.digest, f.codec, f.raw_length, f.data, f.crc) for f in new.values()]
    places = w.append(records)
    new_raw = stored = 0
    for f, (pid, pos) in zip(new.values(), places, strict=True):
        changed[f.digest] = FragmentRow(pid, pos, len(f.data), f.raw_length, f.codec, counts[f.digest]).encode()
        new_raw += f.raw_length
        stored += HEADER_SIZE + len(f.data)
    idx.kv.put_many(txn, changed, fragments)
    idx.add(txn, "fragments", len(new))
    idx.add(txn, "unique", new_raw)
    idx.add(txn, "stored", stored)
    sealed: dict[int, int] = {}  # records sealed per data key: a key is replaced before its nonces run out
    for f in new.values():
        if f.codec & SEALED:
            key_id = record_key_id(f.data)
            sealed[key_id] = sealed.get(key_id, 0) + 1
    for key_id, n in sealed.items():
        idx.add(txn, sealed_counter(key_id), n)
    return new_raw


def sealed_counter(key_id: int) -> str:
    """The ``meta`` counter of the records sealed with data key ``key_id``."""
    return f"sealed:{key_id}"


def _take_base(w: WriteTxn, f: Fragment) -> Fragment:
    """A new delta fragment takes a reference on its base (in this
    transaction, so the base cannot be freed first); a base freed since the
    fragment was encoded leaves it stored whole, raw."""
    idx, txn = w.index, w.txn
    assert f.base is not None
    row = idx.fragment(txn, f.base)
    if row is None:
        assert f.raw is not None
        return Fragment(f.digest, f.raw_length, 0, f.raw)
    idx.put_fragment(txn, f.base, FragmentRow(row.pack, row.offset, row.stored, row.raw, row.codec, row.refcount + 1))
    txn.put(f.digest, U8_HASH.pack(f.base, f.depth), db=idx.db["bases"])
    idx.add(txn, "delta_fragments", 1)
    idx.add(txn, "delta_raw", f.raw_length)
    idx.add(txn, "delta_stored", HEADER_SIZE + len(f.data))
    return f


def incref_manifest(w: WriteTxn, mid: int, length: int) -> None:
    """Take a reference on ``mid``; a pending manifest becomes a live one."""
    idx, txn = w.index, w.txn
    row = idx.manifest_ref(txn, mid)
    if row is None:
        txn.delete(U64.pack(mid), db=idx.db["pending"])
        idx.put_manifest_ref(txn, mid, 1, length)
        note_mid(w, mid)  # an empty manifest never went through add_fragments
    else:
        idx.put_manifest_ref(txn, mid, row[0] + 1, row[1])


def decref_manifest(w: WriteTxn, mid: int) -> None:
    """Drop a reference; at zero the manifest is queued for reclaiming."""
    idx, txn = w.index, w.txn
    row = idx.manifest_ref(txn, mid)
    if row is None:
        return
    refs, length = row
    idx.put_manifest_ref(txn, mid, max(0, refs - 1), length)
    if refs <= 1:
        txn.put(U64X2.pack(time.time_ns(), mid), b"", db=idx.db["dead"])


def abandon_pending(w: WriteTxn, mid: int) -> None:
    """A put or part failed: its pending manifest is reclaimable at once."""
    idx, txn = w.index, w.txn
    if txn.delete(U64.pack(mid), db=idx.db["pending"]):
        idx.put_manifest_ref(txn, mid, 0, 0)
        txn.put(U64X2.pack(0, mid), b"", db=idx.db["dead"])


def reclaim_rows(w: WriteTxn, mid: int, limit: int) -> tuple[int, int, int]:
    """Delete up to ``limit`` manifest rows of ``mid`` and decref the
    fragments they name, freeing those that reach zero. Returns (rows,
    fragments freed, raw bytes freed); fewer rows than ``limit`` means the
    manifest is gone."""
    idx, txn = w.index, w.txn
    cur = txn.cursor(db=idx.db["manifests"])
    prefix = U64.pack(mid)
    rows = freed = freed_bytes = 0
    if cur.set_range(prefix):
        while rows < limit and cur.key()[:8] == prefix:
            entries = manifest_entries(cur.value())
            cur.delete()
            rows += 1
            for digest, _length in entries:
                n, b = decref_fragment(w, digest)
                freed += n
                freed_bytes += b
            if not cur.key():
                break
    if rows < limit:
        txn.delete(prefix, db=idx.db["mrefs"])
        txn.delete(prefix, db=idx.db["layouts"])
    return rows, freed, freed_bytes


def decref_fragment(w: WriteTxn, digest: bytes) -> tuple[int, int]:
    """Drop a reference; at zero the fragment is freed, and a delta drops
    the reference it held on its base (which may free the base in turn)."""
    freed = freed_bytes = 0
    next_digest: bytes | None = digest
    while next_digest is not None:  # a loop, not recursion: chains are short, but bounded by data
        n, b, next_digest = _decref_one(w, next_digest)
        freed += n
        freed_bytes += b
    return freed, freed_bytes


def _decref_one(w: WriteTxn, digest: bytes) -> tuple[int, int, bytes | None]:
    idx, txn = w.index, w.txn
    row = idx.fragment(txn, digest)
    if row is None:
        return 0, 0, None
    if row.refcount > 1:
        idx.put_fragment(txn, digest, FragmentRow(row.pack, row.offset, row.stored, row.raw, row.codec, row.refcount - 1))
        return 0, 0, None
    txn.delete(digest, db=idx.db["fragments"])
    w.free(row.pack, row.offset, HEADER_SIZE + row.stored)
    idx.add(txn, "fragments", -1)
    idx.add(txn, "unique", -row.raw)
    idx.add(txn, "stored", -(HEADER_SIZE + row.stored))
    base: bytes | None = None
    if row.codec == DELTA:
        chain = txn.get(digest, db=idx.db["bases"])
        if chain is not None:
            txn.delete(digest, db=idx.db["bases"])
            base = U8_HASH.unpack(chain)[0]
            idx.add(txn, "delta_fragments", -1)
            idx.add(txn, "delta_raw", -row.raw)
            idx.add(txn, "delta_stored", -(HEADER_SIZE + row.stored))
    return 1, row.raw, base


def manifest_length(w: WriteTxn, mid: int) -> int:
    """Bytes the manifest rows of ``mid`` cover (its last row's end)."""
    cur = w.txn.cursor(db=w.index.db["manifests"])
    found = cur.set_range(U64.pack(mid + 1))
    if not (cur.prev() if found else cur.last()):
        return 0
    row_mid, offset = U64X2.unpack(cur.key())
    if row_mid != mid:
        return 0
    return int(offset + sum(n for _, n in manifest_entries(cur.value())))


def require_complete(w: WriteTxn, mid: int, size: int) -> None:
    """Invariant 4: publish only a complete manifest."""
    if manifest_length(w, mid) != size:
        raise IncompleteManifest(f"manifest {mid} covers {manifest_length(w, mid)} of {size} bytes")
