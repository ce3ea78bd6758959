"""Multipart uploads: write jobs and reads on the ``uploads`` and ``parts`` tables.

A part is a manifest of its own. Completing builds the object row from the
parts' manifests in order (no byte is copied or hashed again): the object takes
a reference on each listed part's manifest, then every part row lets go of
its own, so unlisted parts fall to zero and are reclaimed.

A completed upload leaves a small record in ``completed`` (the parts it was
completed with and the version it made), so that a client retrying the same
CompleteMultipartUpload gets the same answer, as from S3, instead of
NoSuchUpload; records older than the stale-upload age are dropped.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

from dedup import errors
from dedup.index import U32, Index, ObjectRow, Txn
from dedup.manifests import decref_manifest, incref_manifest
from dedup.objects import bucket_id, publish
from dedup.types import (
    Expectation,
    ObjectInfo,
    ObjectMeta,
    PartInfo,
    PartsPage,
    UploadId,
    UploadInfo,
    UploadsPage,
)
from dedup.writer import WriteTxn

MAX_PARTS = 10000


def part_key(upload_id: str, number: int) -> bytes:
    return upload_id.encode() + b"/" + U32.pack(number)


def upload_info(upload_id: str, doc: Mapping[str, object]) -> UploadInfo:
    return UploadInfo(
        UploadId(upload_id), str(doc["bucket"]), str(doc["key"]), float(doc["t"]),  # type: ignore[arg-type]
        ObjectMeta.from_json(doc["m"]),  # type: ignore[arg-type]
    )


def load_upload(txn: Txn, index: Index, bucket: str, key: str, upload_id: str) -> dict:
    raw = txn.get(upload_id.encode(), db=index.db["uploads"]) if upload_id else None
    doc = json.loads(raw) if raw else None
    if doc is None or doc["bucket"] != bucket or doc["key"] != key:
        raise errors.NoSuchUpload(upload_id)
    return doc  # type: ignore[no-any-return]


def part_rows(txn: Txn, index: Index, upload_id: str, after: int = 0) -> list[tuple[int, dict]]:
    prefix = upload_id.encode() + b"/"
    cur = txn.cursor(db=index.db["parts"])
    out = []
    if cur.set_range(prefix + U32.pack(after + 1)):
        for k, v in cur:
            if not k.startswith(prefix):
                break
            out.append((U32.unpack(k[len(prefix):])[0], json.loads(v)))
    return out


def create(w: WriteTxn, bucket: str, key: str, meta: ObjectMeta) -> UploadInfo:
    bucket_id(w, bucket)
    # time-ordered ids: sorting a key's uploads by id is sorting them by initiation
    upload_id = f"{time.time_ns():016x}" + secrets.token_urlsafe(18)
    doc = {"bucket": bucket, "key": key, "t": time.time(), "m": meta.to_json()}
    w.txn.put(upload_id.encode(), json.dumps(doc).encode(), db=w.index.db["uploads"])
    return upload_info(upload_id, doc)


def add_part(w: WriteTxn, bucket: str, key: str, upload_id: str, part: PartInfo, mid: int) -> PartInfo:
    load_upload(w.txn, w.index, bucket, key, upload_id)
    pkey = part_key(upload_id, part.part_number)
    old = w.txn.get(pkey, db=w.index.db["parts"])
    incref_manifest(w, mid, part.size)
    doc = {"v": mid, "s": part.size, "e": part.etag, "t": part.last_modified, "c": dict(part.checksums)}
    w.txn.put(pkey, json.dumps(doc).encode(), db=w.index.db["parts"])
    if old is not None:
        decref_manifest(w, json.loads(old)["v"])
    return part


def _drop(w: WriteTxn, upload_id: str) -> None:
    for number, doc in part_rows(w.txn, w.index, upload_id):
        decref_manifest(w, doc["v"])
        w.txn.delete(part_key(upload_id, number), db=w.index.db["parts"])
    w.txn.delete(upload_id.encode(), db=w.index.db["uploads"])


def abort(w: WriteTxn, bucket: str, key: str, upload_id: str) -> None:
    load_upload(w.txn, w.index, bucket, key, upload_id)
    _drop(w, upload_id)


def abort_bucket(w: WriteTxn, bucket: str) -> None:
    for upload_id, doc in list(w.txn.cursor(db=w.index.db["uploads"])):
        if json.loads(doc)["bucket"] == bucket:
            _drop(w, upload_id.decode())


def abort_stale(w: WriteTxn, older_than: float) -> int:
    stale = [k.decode() for k, v in w.txn.cursor(db=w.index.db["uploads"]) if json.loads(v)["t"] < older_than]
    for upload_id in stale:
        _drop(w, upload_id)
    forget_completed(w, older_than)
    return len(stale)


def _fingerprint(parts: Sequence[tuple[int, str]]) -> str:
    return hashlib.sha256(";".join(f"{n}:{e.strip(chr(34))}" for n, e in parts).encode()).hexdigest()


def _completed(w: WriteTxn, bucket: str, key: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> ObjectInfo:
    """The answer of an earlier completion with the same parts, or NoSuchUpload."""
    raw = w.txn.get(upload_id.encode(), db=w.index.db["completed"]) if upload_id else None
    doc = json.loads(raw) if raw else None
    if doc is None or doc["bucket"] != bucket or doc["key"] != key or doc["parts"] != _fingerprint(parts):
        raise errors.NoSuchUpload(upload_id)
    info = doc["info"]
    return ObjectInfo(bucket, key, info["size"], info["etag"], info["t"], ObjectMeta.from_json(info["m"]),
                      tuple(info["ps"]), info["v"], False, info["ver"])


def _remember(w: WriteTxn, upload_id: str, parts: Sequence[tuple[int, str]], info: ObjectInfo) -> None:
    doc = {"bucket": info.bucket, "key": info.key, "parts": _fingerprint(parts), "done": time.time(),
           "info": {"size": info.size, "etag": info.etag, "t": info.last_modified, "m": info.meta.to_json(),
                    "ps": list(info.part_sizes), "v": info.version_id, "ver": info.versioned}}
    w.txn.put(upload_id.encode(), json.dumps(doc).encode(), db=w.index.db["completed"])


def forget_completed(w: WriteTxn, older_than: float) -> int:
    old = [k for k, v in w.txn.cursor(db=w.index.db["completed"]) if json.loads(v)["done"] < older_than]
    for k in old:
        w.txn.delete(k, db=w.index.db["completed"])
    return len(old)


def complete(
    w: WriteTxn, bucket: str, key: str, upload_id: str, parts: Sequence[tuple[int, str]],
    min_part_size: int, checksums: Mapping[str, str] | None, expect: Expectation | None,
) -> ObjectInfo:
    try:
        doc = load_upload(w.txn, w.index, bucket, key, upload_id)
    except errors.NoSuchUpload:
        return _completed(w, bucket, key, upload_id, parts)
    if not parts:
        raise errors.InvalidPart("no parts")
    stored = dict(part_rows(w.txn, w.index, upload_id))
    segments = []
    md5s = b""
    prev = 0
    for i, (number, etag) in enumerate(parts):
        if number <= prev:
            raise errors.InvalidPartOrder(str(number))
        prev = number
        row = stored.get(number)
        if row is None or row["e"] != etag.strip('"'):
            raise errors.InvalidPart(str(number))
        if row["s"] < min_part_size and i < len(parts) - 1:
            raise errors.EntityTooSmall(str(number))
        segments.append((int(row["v"]), int(row["s"])))
        md5s += bytes.fromhex(row["e"])
    meta = ObjectMeta.from_json(doc["m"])
    if checksums:
        meta = replace(meta, checksums=dict(checksums))
    etag = f"{hashlib.md5(md5s).hexdigest()}-{len(parts)}"
    row_ = ObjectRow(key, sum(n for _, n in segments), time.time(), tuple(segments), etag, meta)
    info = publish(w, bucket, row_, expect)
    _drop(w, upload_id)
    _remember(w, upload_id, parts, info)
    return info


def list_parts(txn: Txn, index: Index, bucket: str, key: str, upload_id: str,
               marker: int, max_parts: int) -> PartsPage:
    doc = load_upload(txn, index, bucket, key, upload_id)
    rows = part_rows(txn, index, upload_id, marker)
    page = [PartInfo(n, d["s"], d["e"], d["t"], d.get("c", {})) for n, d in rows[:max_parts]]
    truncated = len(rows) > max_parts
    return PartsPage(upload_info(upload_id, doc), tuple(page), truncated, page[-1].part_number if page else 0)


def list_uploads(txn: Txn, index: Index, bucket: str, prefix: str, delimiter: str,
                 key_marker: str, upload_id_marker: str, max_uploads: int) -> UploadsPage:
    found = sorted(
        (upload_info(k.decode(), d) for k, d in ((k, json.loads(v)) for k, v in txn.cursor(db=index.db["uploads"]))
         if d["bucket"] == bucket and str(d["key"]).startswith(prefix)),
        key=lambda u: (u.key.encode(), u.upload_id),
    )
    out: list[UploadInfo] = []
    prefixes: list[str] = []
    for u in found:
        if key_marker and (u.key.encode() < key_marker.encode() or (u.key == key_marker and (not upload_id_marker or u.upload_id <= upload_id_marker))):
            continue
        if delimiter and (i := u.key.find(delimiter, len(prefix))) >= 0:
            common = u.key[: i + len(delimiter)]
            if common not in prefixes and (not key_marker or common > key_marker):
                if len(out) + len(prefixes) >= max_uploads:
                    return UploadsPage(tuple(out), tuple(prefixes), True, _last_key(out, prefixes), out[-1].upload_id if out else None)
                prefixes.append(common)
            continue
        if len(out) + len(prefixes) >= max_uploads:
            return UploadsPage(tuple(out), tuple(prefixes), True, _last_key(out, prefixes), out[-1].upload_id if out else None)
        out.append(u)
    return UploadsPage(tuple(out), tuple(prefixes), False, None, None)


def _last_key(out: list[UploadInfo], prefixes: list[str]) -> str | None:
    keys = [u.key for u in out] + prefixes
    return max(keys) if keys else None
