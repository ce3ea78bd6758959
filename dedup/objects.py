"""Write jobs on buckets and object keys: create/delete buckets, publish,
delete and copy objects. Each function runs inside one writer transaction, so
each is atomic (invariant 4: a key points only at a complete manifest)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

from dedup import errors, keys
from dedup.index import U32, ObjectRow
from dedup.manifests import decref_manifest, incref_manifest
from dedup.names import encode_key
from dedup.types import BucketInfo, Expectation, ObjectInfo
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


def load_row(w: WriteTxn, bid: int, key: str) -> ObjectRow | None:
    raw = keys.get(w.txn, w.index.db["objects"], bid, encode_key(key))
    return ObjectRow.decode(key, raw) if raw is not None else None


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
    """Refuse while objects remain; open multipart uploads are aborted with
    the bucket, as AWS does."""
    bid = bucket_id(w, name)
    if not keys.bucket_is_empty(w.txn, w.index.db["objects"], bid):
        raise errors.BucketNotEmpty(name)
    abort_uploads(w, name)
    w.txn.delete(name.encode(), db=w.index.db["buckets"])
    w.txn.delete(U32.pack(bid), db=w.index.db["bstats"])


def publish(
    w: WriteTxn, bucket: str, row: ObjectRow, expect: Expectation | None, take_refs: bool = True
) -> ObjectInfo:
    """Point ``bucket/key`` at ``row``: take a reference on each of its
    manifests (pending ones become live), release the replaced object's."""
    bid = bucket_id(w, bucket)
    old = load_row(w, bid, row.key)
    if expect is not None:
        expect(object_info(bucket, old) if old else None)
    if take_refs:
        for mid, length in row.segments:
            incref_manifest(w, mid, length)
    keys.put(w.txn, w.index.db["objects"], bid, row.key.encode(), row.encode())
    if old is not None:
        for mid, _ in old.segments:
            decref_manifest(w, mid)
    w.index.add_bucket_stats(w.txn, bid, 0 if old else 1, row.size - (old.size if old else 0))
    return object_info(bucket, row)


def delete_objects(w: WriteTxn, bucket: str, names: Sequence[str]) -> list[tuple[str, bool]]:
    bid = bucket_id(w, bucket)
    out = []
    for key in names:
        try:
            old = load_row(w, bid, key)
        except errors.InvalidObjectKey:
            old = None
        if old is None:
            out.append((key, False))
            continue
        keys.delete(w.txn, w.index.db["objects"], bid, key.encode())
        for mid, _ in old.segments:
            decref_manifest(w, mid)
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
    """Zero-copy: the new key names the same manifests (refcounts taken)."""
    src_row = load_row(w, bucket_id(w, src[0]), src[1])
    if src_row is None:
        raise errors.NoSuchKey(src[1])
    if expect_source is not None:
        expect_source(object_info(src[0], src_row))
    new_row = meta_row(src_row)
    return publish(w, dst[0], new_row, expect)
