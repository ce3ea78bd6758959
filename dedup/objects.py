"""Write jobs on buckets and object keys: create/delete buckets and their
configurations, publish, delete and copy object versions. Each function runs
inside one writer transaction, so each is atomic (invariant 4: a key points
only at a complete manifest). How versions are kept: dedup/versioning.py."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from dedup import errors, keys, locks, versioning
from dedup.index import NULL_VERSION, U32, Index, ObjectRow, Txn
from dedup.types import BucketInfo, DeleteRequest, DeleteResult, Expectation, ObjectInfo
from dedup.writer import WriteTxn


def object_info(bucket: str, row: ObjectRow, versioned: bool = False) -> ObjectInfo:
    return ObjectInfo(
        bucket=bucket, key=row.key, size=row.size, etag=row.etag, last_modified=row.mtime,
        meta=row.meta, part_sizes=tuple(n for _, n in row.segments),
        version_id=row.version_id, delete_marker=row.is_marker, versioned=versioned,
    )


def bucket_doc(w: WriteTxn, bucket: str) -> dict:
    doc = w.index.bucket(w.txn, bucket)
    if doc is None:
        raise errors.NoSuchBucket(bucket)
    return doc


def bucket_id(w: WriteTxn, bucket: str) -> int:
    return int(bucket_doc(w, bucket)["id"])


def create_bucket(w: WriteTxn, name: str, owner: str, versioning: str = "",
                  configs: Mapping[str, bytes] | None = None, lock: bool = False) -> BucketInfo:
    """A new bucket; with ``lock`` (Object Lock) its versioning is Enabled for good."""
    doc = w.index.bucket(w.txn, name)
    if doc is not None:
        if doc["owner"] == owner:
            raise errors.BucketAlreadyOwnedByYou(name)
        raise errors.BucketAlreadyExists(name)
    bid = w.index.allocate(w.txn, "next_bucket")
    created = time.time()
    doc = {"id": bid, "owner": owner, "created": created}
    if lock:
        doc["lock"], versioning = True, "Enabled"
    if versioning:
        doc["versioning"] = versioning
    w.txn.put(name.encode(), json.dumps(doc).encode(), db=w.index.db["buckets"])
    for config, value in (configs or {}).items():
        w.txn.put(U32.pack(bid) + config.encode(), value, db=w.index.db["bconfig"])
    return BucketInfo(name, owner, created)


def delete_bucket(w: WriteTxn, name: str, abort_uploads: Callable[[WriteTxn, str], None]) -> None:
    """Refuse while any version or delete marker remains; open multipart
    uploads are aborted with the bucket, as AWS does."""
    bid = bucket_id(w, name)
    if not keys.bucket_is_empty(w.txn, w.index.db["objects"], bid):
        raise errors.BucketNotEmpty(name)
    abort_uploads(w, name)
    w.txn.delete(name.encode(), db=w.index.db["buckets"])
    w.txn.delete(U32.pack(bid), db=w.index.db["bstats"])
    for slot in [k for k, _ in config_rows(w.txn, w.index.db["bconfig"], bid)]:
        w.txn.delete(slot, db=w.index.db["bconfig"])


def set_versioning(w: WriteTxn, bucket: str, state: str) -> None:
    if state not in versioning.STATES:
        raise ValueError(state)
    doc = bucket_doc(w, bucket)
    if doc.get("lock") and state != versioning.ENABLED:
        raise errors.InvalidBucketState("versioning cannot be suspended on a bucket with Object Lock")
    doc["versioning"] = state
    w.txn.put(bucket.encode(), json.dumps(doc).encode(), db=w.index.db["buckets"])


# -- bucket configurations ------------------------------------------------------------
def config_rows(txn: Txn, db: object, bid: int) -> list[tuple[bytes, bytes]]:
    prefix = U32.pack(bid)
    cur = txn.cursor(db=db)
    out = []
    if cur.set_range(prefix):
        for slot, value in cur:
            if slot[:4] != prefix:
                break
            out.append((slot, value))
    return out


LOCK_CONFIG = "object-lock"  # the bucket's default retention (dedup/locks.py)


def set_object_lock(w: WriteTxn, bucket: str, default: Mapping[str, object] | None) -> None:
    """Turn Object Lock on (for good; versioning must be Enabled) and set or
    clear the default retention."""
    doc = bucket_doc(w, bucket)
    if not doc.get("lock"):
        if versioning.state_of(doc) != versioning.ENABLED:
            raise errors.InvalidBucketState("Object Lock needs versioning Enabled on the bucket")
        doc["lock"] = True
        w.txn.put(bucket.encode(), json.dumps(doc).encode(), db=w.index.db["buckets"])
    put_config(w, bucket, LOCK_CONFIG, json.dumps(dict(default)).encode() if default else None)


def lock_default(w: WriteTxn, doc: dict) -> Mapping[str, object] | None:
    raw = w.txn.get(U32.pack(int(doc["id"])) + LOCK_CONFIG.encode(), db=w.index.db["bconfig"])
    return json.loads(raw) if raw else None  # type: ignore[no-any-return]


def put_config(w: WriteTxn, bucket: str, name: str, value: bytes | None) -> None:
    slot = U32.pack(bucket_id(w, bucket)) + name.encode()
    if value is None:
        w.txn.delete(slot, db=w.index.db["bconfig"])
    else:
        w.txn.put(slot, value, db=w.index.db["bconfig"])


# -- object versions ----------------------------------------------------------------------
def _existing(bucket: str, row: ObjectRow | None) -> ObjectInfo | None:
    """What a conditional write compares with: the current version, unless it
    is a delete marker (then the object does not exist)."""
    return object_info(bucket, row) if row is not None and not row.is_marker else None


def publish(w: WriteTxn, bucket: str, row: ObjectRow, expect: Expectation | None) -> ObjectInfo:
    """Make ``row`` the current version of ``bucket/key``: take a reference on
    each of its manifests (pending ones become live); the version it
    displaces is kept (versioning) or released."""
    doc = bucket_doc(w, bucket)
    bid, state = int(doc["id"]), versioning.state_of(doc)
    if doc.get("lock"):
        row = replace(row, meta=locks.with_default(row.meta, lock_default(w, doc), row.mtime))
    elif row.meta.lock_mode or row.meta.legal_hold:
        raise errors.ObjectLockNotEnabled(bucket)
    old = versioning.current(w.txn, w.index, bid, row.key)
    if expect is not None:
        expect(_existing(bucket, old))
    stored = versioning.publish(w, bid, row, state, old)
    return object_info(bucket, stored, bool(state))


def delete_objects(w: WriteTxn, bucket: str, requests: Sequence[DeleteRequest]) -> list[DeleteResult | errors.EngineError]:
    """DeleteObject / DeleteObjects: per key, a version removed or a delete
    marker written (or, in a bucket never versioned, the object removed). A
    request whose condition fails gets its error and changes nothing."""
    doc = bucket_doc(w, bucket)
    bid, state = int(doc["id"]), versioning.state_of(doc)
    out: list[DeleteResult | errors.EngineError] = []
    for req in requests:
        try:
            out.append(_delete_one(w, bucket, bid, state, req))
        except (errors.InvalidVersionId, errors.PreconditionFailed, errors.NoSuchKey, errors.ObjectLocked) as exc:
            out.append(exc)
    return out


def _delete_one(w: WriteTxn, bucket: str, bid: int, state: str, req: DeleteRequest) -> DeleteResult:
    if req.expect is not None:
        head = versioning.current(w.txn, w.index, bid, req.key)
        if req.version_id is not None and head is not None:
            found = versioning.find(w.txn, w.index, head, versioning.parse_version_id(req.version_id))
            head = found[1] if found is not None else None
        req.expect(_existing(bucket, head))
    if req.version_id is not None:
        return versioning.delete_version(w, bid, req.key, req.version_id, req.bypass_governance)
    return versioning.delete_current(w, bid, req.key, state)


def locate(txn: Txn, index: Index, bid: int, key: str, version_id: str | None) -> tuple[bytes | None, ObjectRow]:
    """The row of ``key`` (its current version, or ``version_id``) and where it
    is kept; NoSuchKey / NoSuchVersion / a delete marker's errors as S3 answers them."""
    head = versioning.current(txn, index, bid, key)
    if version_id is None:
        if head is None:
            raise errors.NoSuchKey(key)
        if head.is_marker:
            raise errors.NoSuchKey(key, marker_version=head.version_id)
        return None, head
    ref = versioning.parse_version_id(version_id)
    found = versioning.find(txn, index, head, ref) if head is not None else None
    if found is None:
        raise errors.NoSuchVersion(key, version_id)
    if found[1].is_marker:
        raise errors.DeleteMarkerVersion(key, version_id, found[1].mtime)
    return found


def copy_object(
    w: WriteTxn,
    src: tuple[str, str, str | None],
    dst: tuple[str, str],
    new_row: Callable[[ObjectRow], ObjectRow],
    expect_source: Callable[[ObjectInfo], None] | None,
    expect: Expectation | None,
) -> tuple[ObjectInfo, ObjectInfo]:
    """Zero-copy: the new version names the same manifests (refcounts taken).
    Returns (source version, new version)."""
    src_doc = bucket_doc(w, src[0])
    try:
        _, src_row = locate(w.txn, w.index, int(src_doc["id"]), src[1], src[2])
    except errors.DeleteMarkerVersion as exc:
        raise errors.CopyFromDeleteMarker(src[1]) from exc
    source = object_info(src[0], src_row, bool(versioning.state_of(src_doc)))
    if expect_source is not None:
        expect_source(source)
    row = replace(new_row(src_row), seq=0, stamp=0, flags=NULL_VERSION, kid=0)
    return source, publish(w, dst[0], row, expect)


def rewrite_meta(
    w: WriteTxn, bucket: str, key: str, version_id: str | None, change: Callable[[ObjectRow], ObjectRow],
    lock: bool = False,
) -> ObjectInfo:
    """Change one version's metadata in place (tags; with ``lock``, its Object
    Lock settings, which need a bucket with Object Lock): same bytes, same id."""
    doc = bucket_doc(w, bucket)
    if lock and not doc.get("lock"):
        raise errors.ObjectLockNotEnabled(bucket)
    bid = int(doc["id"])
    slot, row = locate(w.txn, w.index, bid, key, version_id)
    new = change(row)
    versioning.rewrite(w, bid, slot, new)
    return object_info(bucket, new, bool(versioning.state_of(doc)))
