"""Write jobs on buckets and object keys: create/delete buckets, publish,
delete and copy objects. Each function runs inside one writer transaction, so
each is atomic (invariant 4: a key points only at a complete manifest)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

from dedup import errors
from dedup.index import U32, ObjectRow, full_key, keyform
from dedup.names import encode_key
from dedup.types import BucketInfo, Expectation, ObjectInfo
from dedup.versions import decref_version, incref_version
from dedup.writer import WriteTxn


def object_info(bucket: str, row: ObjectRow) -> ObjectInfo:
    return ObjectInfo(
        bucket=bucket, key=row.key, size=row.size, etag=row.etag, last_modified=row.mtime,
        meta=row.meta, part_sizes=tuple(n for _, n in row.segments),
    )


def bucket_id(w: WriteTxn, bucket: str) -> int:
    doc = w.index.bucket(w.txn, bucket)
    if doc is None:
        raise errors.NoSuchBucket(bucket)
    return int(doc["id"])


def object_key(bid: int, key: str) -> bytes:
    return U32.pack(bid) + keyform(encode_key(key))


def load_row(w: WriteTxn, okey: bytes, key: str) -> ObjectRow | None:
    raw = w.txn.get(okey, db=w.index.db["objects"])
    if raw is None:
        return None
    row = ObjectRow.decode(key, raw)
    return row if row.key == key else None


def create_bucket(w: WriteTxn, name: str, owner: str) -> BucketInfo:
    doc = w.index.bucket(w.txn, name)
    if doc is not None:
        if doc["owner"] == owner:
            raise errors.BucketAlreadyOwnedByYou(name)
        raise errors.BucketAlreadyExists(name)
    bid = w.index.allocate(w.txn, "next_bucket")
    created = time.time()
    doc = {"id": bid, "owner": owner, "created": created}
    w.txn.put(name.encode(), json.dumps(doc).encode(), db=w.index.db["buckets"])
    return BucketInfo(name, owner, created)


def delete_bucket(w: WriteTxn, name: str, abort_uploads: Callable[[WriteTxn, str], None]) -> None:
    bid = bucket_id(w, name)
    prefix = U32.pack(bid)
    cur = w.txn.cursor(db=w.index.db["objects"])
    if cur.set_range(prefix) and cur.key().startswith(prefix):
        raise errors.BucketNotEmpty(name)
    abort_uploads(w, name)
    w.txn.delete(name.encode(), db=w.index.db["buckets"])
    w.txn.delete(prefix, db=w.index.db["bstats"])


def publish(
    w: WriteTxn, bucket: str, row: ObjectRow, expect: Expectation | None, take_refs: bool = True
) -> ObjectInfo:
    """Point ``bucket/key`` at ``row``: take a reference on each of its
    versions (pending ones become live), release the replaced object's."""
    bid = bucket_id(w, bucket)
    okey = object_key(bid, row.key)
    old = load_row(w, okey, row.key)
    if expect is not None:
        expect(object_info(bucket, old) if old else None)
    if take_refs:
        for vid, length in row.segments:
            incref_version(w, vid, length)
    w.txn.put(okey, row.encode(), db=w.index.db["objects"])
    if old is not None:
        for vid, _ in old.segments:
            decref_version(w, vid)
    w.index.add_bucket_stats(w.txn, bid, 0 if old else 1, row.size - (old.size if old else 0))
    return object_info(bucket, row)


def delete_objects(w: WriteTxn, bucket: str, keys: Sequence[str]) -> list[tuple[str, bool]]:
    bid = bucket_id(w, bucket)
    out = []
    for key in keys:
        try:
            okey = object_key(bid, key)
        except errors.InvalidObjectKey:
            out.append((key, False))
            continue
        old = load_row(w, okey, key)
        if old is None:
            out.append((key, False))
            continue
        w.txn.delete(okey, db=w.index.db["objects"])
        for vid, _ in old.segments:
            decref_version(w, vid)
        w.index.add_bucket_stats(w.txn, bid, -1, -old.size)
        out.append((key, True))
    return out


def copy_object(
    w: WriteTxn,
    src: tuple[str, str],
    dst: tuple[str, str],
    meta_row: Callable[[ObjectRow], ObjectRow],
    expect_source: Callable[[ObjectInfo], None] | None,
    expect: Expectation | None,
) -> ObjectInfo:
    """Zero-copy: the new key names the same versions (refcounts taken)."""
    src_row = load_row(w, object_key(bucket_id(w, src[0]), src[1]), src[1])
    if src_row is None:
        raise errors.NoSuchKey(src[1])
    if expect_source is not None:
        expect_source(object_info(src[0], src_row))
    new_row = meta_row(src_row)
    return publish(w, dst[0], new_row, expect)


def list_bucket_keys(w: WriteTxn, bid: int) -> list[str]:
    """Every key of a bucket (used by tests and repair tools, not by LIST)."""
    prefix = U32.pack(bid)
    cur = w.txn.cursor(db=w.index.db["objects"])
    keys = []
    if cur.set_range(prefix):
        for k, v in cur:
            if not k.startswith(prefix):
                break
            keys.append(full_key(k[4:], v))
    return keys
