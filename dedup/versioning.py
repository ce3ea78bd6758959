"""S3 object versions in the index: version ids, a bucket's versioning state,
and the write jobs that create and remove versions.

Model (AWS semantics, AWS names). Every version of a key is an object row
(dedup/index.py ObjectRow); the newest is the key's *current* row in
``objects`` (so GET and ListObjects read one row, as before versioning), the
others are its *noncurrent* rows in ``versions`` under ``kid + ~seq`` (newest
first), where ``kid`` is a number the current row names. A key exists while it
has a version; its current row is always its newest (largest ``seq``).

- A bucket never versioned writes null versions without version fields: an
  overwrite replaces the row and releases the old one's manifests (as format 1).
- Enabled: each write (and each DeleteObject without a version id, as a delete
  marker) is a new version with a fresh id; the current row moves to
  ``versions``.
- Suspended: writes and delete markers are null versions; a key has at most
  one null version, so a new one releases the old, current or noncurrent.
- Deleting a version by id removes that row and releases its manifests; if it
  was current, the newest noncurrent row becomes current.

Version ids: ``"null"``, or 32 hex digits: ``seq`` (16, the order) and a random
``stamp`` (16, so ids cannot be guessed). A row's manifests are referenced
once per row (invariant 5 counts version rows as object rows).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import replace

from dedup import errors, keys, locks
from dedup.index import DELETE_MARKER, NULL_VERSION, U64, U64X2, Index, ObjectRow, Txn
from dedup.manifests import decref_manifest, incref_manifest
from dedup.names import encode_key
from dedup.types import DeleteResult, ObjectMeta
from dedup.writer import WriteTxn

ENABLED = "Enabled"
SUSPENDED = "Suspended"
STATES = (ENABLED, SUSPENDED)
_LAST = 2**64 - 1

VersionRef = tuple[int, int] | None  # (seq, stamp), or None for the null version


def parse_version_id(text: str) -> VersionRef:
    """``"null"`` -> None; 32 hex digits -> (seq, stamp); else InvalidVersionId."""
    if text == "null":
        return None
    if len(text) != 32:
        raise errors.InvalidVersionId(text)
    try:
        return int(text[:16], 16), int(text[16:], 16)
    except ValueError:
        raise errors.InvalidVersionId(text) from None


def is_version(row: ObjectRow, ref: VersionRef) -> bool:
    if ref is None:
        return row.is_null
    return not row.is_null and (row.seq, row.stamp) == ref


def versions_key(kid: int, seq: int) -> bytes:
    return U64X2.pack(kid, _LAST - seq)


def state_of(doc: dict) -> str:
    """The bucket's versioning state: "" (never configured), Enabled or Suspended."""
    return str(doc.get("versioning", ""))


# -- reads ------------------------------------------------------------------------
def current(txn: Txn, index: Index, bid: int, key: str) -> ObjectRow | None:
    try:
        raw = keys.get(txn, index.db["objects"], bid, encode_key(key))
    except errors.InvalidObjectKey:
        return None
    return ObjectRow.decode(key, raw) if raw is not None else None


def noncurrent(txn: Txn, index: Index, head: ObjectRow) -> Iterator[tuple[bytes, ObjectRow]]:
    """(row key, row) of the noncurrent versions of ``head``'s key, newest first."""
    if not head.kid:
        return
    prefix = U64.pack(head.kid)
    cur = txn.cursor(db=index.db["versions"])
    if not cur.set_range(prefix):
        return
    for slot, value in cur:
        if slot[:8] != prefix:
            return
        yield slot, replace(ObjectRow.decode(head.key, value), kid=head.kid)


def noncurrent_after(txn: Txn, index: Index, head: ObjectRow, seq: int) -> Iterator[ObjectRow]:
    """The noncurrent versions of ``head``'s key older than ``seq``, newest first."""
    if not head.kid:
        return
    prefix = U64.pack(head.kid)
    cur = txn.cursor(db=index.db["versions"])
    if not cur.set_range(versions_key(head.kid, seq) + b"\x00"):
        return
    for slot, value in cur:
        if slot[:8] != prefix:
            return
        yield replace(ObjectRow.decode(head.key, value), kid=head.kid)


def find(txn: Txn, index: Index, head: ObjectRow, ref: VersionRef) -> tuple[bytes | None, ObjectRow] | None:
    """The version ``ref`` of ``head``'s key: (its ``versions`` row key, or None
    when it is the current row; the row), or None when there is no such version."""
    if is_version(head, ref):
        return None, head
    if ref is None:
        return next(((k, r) for k, r in noncurrent(txn, index, head) if r.is_null), None)
    if not head.kid:
        return None
    slot = versions_key(head.kid, ref[0])
    raw = txn.get(slot, db=index.db["versions"])
    if raw is None:
        return None
    row = replace(ObjectRow.decode(head.key, raw), kid=head.kid)
    return (slot, row) if is_version(row, ref) else None


# -- writes (inside one writer job) -------------------------------------------------
def _put_current(w: WriteTxn, bid: int, row: ObjectRow) -> None:
    keys.put(w.txn, w.index.db["objects"], bid, row.key.encode(), row.encode())


def _count(w: WriteTxn, bid: int, row: ObjectRow, sign: int) -> None:
    """Bucket statistics count versions that hold bytes (not delete markers)."""
    if not row.is_marker:
        w.index.add_bucket_stats(w.txn, bid, sign, sign * row.size)


def release(w: WriteTxn, bid: int, row: ObjectRow) -> None:
    """A version row is gone: drop its references and its statistics."""
    for mid, _ in row.segments:
        decref_manifest(w, mid)
    _count(w, bid, row, -1)


def _retire(w: WriteTxn, old: ObjectRow) -> int:
    """Move the current row ``old`` among its key's noncurrent rows; its kid."""
    kid = old.kid or w.index.allocate(w.txn, "next_kid")
    w.txn.put(versions_key(kid, old.seq), replace(old, kid=0).encode(), db=w.index.db["versions"])
    return kid


def _drop_null(w: WriteTxn, bid: int, head: ObjectRow) -> None:
    """Remove the noncurrent null version of ``head``'s key, if there is one."""
    found = next(((k, r) for k, r in noncurrent(w.txn, w.index, head) if r.is_null), None)
    if found is not None:
        w.txn.delete(found[0], db=w.index.db["versions"])
        release(w, bid, found[1])


def write(w: WriteTxn, bid: int, row: ObjectRow, state: str, old: ObjectRow | None) -> ObjectRow:
    """Make ``row`` (its manifests already referenced) the key's current
    version under the bucket's versioning ``state``; ``old`` is the current
    row it displaces. Returns the row as stored (with its version fields)."""
    marker = row.flags & DELETE_MARKER
    if not state:
        new = replace(row, seq=0, stamp=0, flags=NULL_VERSION | marker, kid=0)
        if old is not None:
            release(w, bid, old)
    elif state == ENABLED:
        new = replace(row, seq=w.index.allocate(w.txn, "next_seq"), stamp=secrets.randbits(64) or 1,
                      flags=marker, kid=_retire(w, old) if old is not None else 0)
    else:
        new = replace(row, seq=w.index.allocate(w.txn, "next_seq"), stamp=0, flags=NULL_VERSION | marker,
                      kid=old.kid if old is not None else 0)
        if old is not None and old.is_null:
            release(w, bid, old)
        elif old is not None:
            new = replace(new, kid=_retire(w, old))
            _drop_null(w, bid, new)
    _put_current(w, bid, new)
    _count(w, bid, new, 1)
    return new


def publish(w: WriteTxn, bid: int, row: ObjectRow, state: str, old: ObjectRow | None) -> ObjectRow:
    """Take references on ``row``'s manifests (pending ones become live) and write it."""
    for mid, length in row.segments:
        incref_manifest(w, mid, length)
    return write(w, bid, row, state, old)


def delete_current(w: WriteTxn, bid: int, key: str, state: str) -> DeleteResult:
    """DeleteObject without a version id: remove the object (never versioned) or
    write a delete marker (Enabled: a new version; Suspended: the null one)."""
    old = current(w.txn, w.index, bid, key)
    if not state:
        if old is None:
            return DeleteResult(key, None, False, False)
        keys.delete(w.txn, w.index.db["objects"], bid, key.encode())
        release(w, bid, old)
        return DeleteResult(key, None, False, True)
    marker = ObjectRow(key, 0, time.time(), (), "", ObjectMeta(), flags=DELETE_MARKER)
    new = write(w, bid, marker, state, old)
    return DeleteResult(key, new.version_id, True, True)


def delete_version(w: WriteTxn, bid: int, key: str, version_id: str, bypass: bool = False) -> DeleteResult:
    """Remove one version for good; the newest remaining one becomes current.
    A version under Object Lock stays (ObjectLocked; dedup/locks.py)."""
    ref = parse_version_id(version_id)
    head = current(w.txn, w.index, bid, key)
    found = find(w.txn, w.index, head, ref) if head is not None else None
    if head is None or found is None:
        return DeleteResult(key, version_id, False, False)
    slot, row = found
    locks.check_delete(row.meta, time.time(), bypass)
    if slot is not None:
        w.txn.delete(slot, db=w.index.db["versions"])
    else:
        nxt = next(noncurrent(w.txn, w.index, head), None)
        if nxt is None:
            keys.delete(w.txn, w.index.db["objects"], bid, key.encode())
        else:
            w.txn.delete(nxt[0], db=w.index.db["versions"])
            _put_current(w, bid, nxt[1])
    release(w, bid, row)
    return DeleteResult(key, version_id, row.is_marker, True)


def rewrite(w: WriteTxn, bid: int, slot: bytes | None, row: ObjectRow) -> None:
    """Store ``row`` (same version, new metadata) where it is: current or noncurrent."""
    if slot is None:
        _put_current(w, bid, row)
    else:
        w.txn.put(slot, replace(row, kid=0).encode(), db=w.index.db["versions"])


def every_version(txn: Txn, index: Index, head: ObjectRow) -> Iterator[ObjectRow]:
    """``head`` and then its noncurrent versions, newest first."""
    yield head
    for _, row in noncurrent(txn, index, head):
        yield row
