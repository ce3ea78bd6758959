"""The writer jobs that carry out lifecycle actions, one action per job.

Each job re-checks, inside its write transaction, everything the plan saw
(dedup/lifecycle_run.py): the bucket and its configuration still hold the
rule, the version still exists and is still current or noncurrent, still
matches the rule's filter and is still due at the run's ``now``. Anything
else makes the job a no-op (None), so a job repeated, or run after a crash
that lost the run's later jobs, never acts twice and never acts on a version
that a client wrote since. The action itself is the ordinary delete
(dedup/versioning.py) or abort (dedup/multipart.py), in the same transaction.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

from dedup import locks, multipart, versioning
from dedup.index import U32, Index, ObjectRow, Txn
from dedup.lifecycle import (
    CONFIG_NAME,
    Due,
    LifecycleConfiguration,
    abort_due,
    current_expiry,
    from_json,
    marker_expiry,
    noncurrent_expiry,
)
from dedup.types import LifecycleAction
from dedup.writer import WriteTxn


def config_of(txn: Txn, index: Index, bid: int) -> LifecycleConfiguration | None:
    raw = txn.get(U32.pack(bid) + CONFIG_NAME.encode(), db=index.db["bconfig"])
    return from_json(raw) if raw is not None else None


def _bucket(w: WriteTxn, name: str) -> tuple[int, str, LifecycleConfiguration] | None:
    """(bucket id, versioning state, configuration), or None when either is gone."""
    doc = w.index.bucket(w.txn, name)
    if doc is None:
        return None
    config = config_of(w.txn, w.index, int(doc["id"]))
    return (int(doc["id"]), versioning.state_of(doc), config) if config is not None else None


def _acted(a: LifecycleAction, due: Due | None, now: float) -> LifecycleAction | None:
    """``a`` as done under the rule due first now, or None when nothing is due
    (the configuration may have changed since the plan: it is read again)."""
    return replace(a, rule_id=due.rule_id) if due is not None and due.at <= now else None


def expire_current(w: WriteTxn, a: LifecycleAction, now: float, day: float) -> LifecycleAction | None:
    """Expiration of a current version: removed (never versioned) or hidden
    under a delete marker (Enabled; Suspended: the null marker)."""
    found = _bucket(w, a.bucket)
    if found is None:
        return None
    bid, state, config = found
    head = versioning.current(w.txn, w.index, bid, a.key)
    if head is None or head.is_marker or head.version_id != a.version_id:
        return None
    done = _acted(a, current_expiry(config, a.key, head.size, head.meta.tags, head.mtime, day), now)
    if done is None:
        return None
    result = versioning.delete_current(w, bid, a.key, state)
    return replace(done, marker_version_id=result.version_id if result.delete_marker else None)


def remove_marker(w: WriteTxn, a: LifecycleAction, now: float, day: float) -> LifecycleAction | None:
    """An expired object delete marker: the current version, a marker, with no noncurrent version."""
    found = _bucket(w, a.bucket)
    if found is None:
        return None
    bid, _, config = found
    head = versioning.current(w.txn, w.index, bid, a.key)
    if head is None or not head.is_marker or head.version_id != a.version_id:
        return None
    if next(versioning.noncurrent(w.txn, w.index, head), None) is not None:
        return None
    done = _acted(a, marker_expiry(config, a.key, head.mtime, day), now)
    if done is not None:
        versioning.delete_version(w, bid, a.key, head.version_id)
    return done


def expire_noncurrent(w: WriteTxn, a: LifecycleAction, now: float, day: float) -> LifecycleAction | None:
    """NoncurrentVersionExpiration: one noncurrent version deleted for good."""
    found = _bucket(w, a.bucket)
    if found is None or a.version_id is None:
        return None
    bid, _, config = found
    head = versioning.current(w.txn, w.index, bid, a.key)
    if head is None:
        return None
    place = versioning.find(w.txn, w.index, head, versioning.parse_version_id(a.version_id))
    if place is None or place[0] is None:
        return None  # gone, or current again
    cap = max((r.noncurrent_version_expiration.newer_noncurrent_versions or 0 for r in config.rules
               if r.noncurrent_version_expiration is not None), default=0)
    since, newer = _standing(w.txn, w.index, head, place[0], cap)
    row = place[1]
    size, tags = (0, {}) if row.is_marker else (row.size, row.meta.tags)
    done = _acted(a, noncurrent_expiry(config, a.key, size, tags, since, newer, day), now)
    if done is None or locks.delete_refusal(row.meta, time.time(), False) is not None:
        return None  # Object Lock keeps it: a later run tries again once it is free
    versioning.delete_version(w, bid, a.key, a.version_id)
    return done


def _standing(txn: Txn, index: Index, head: ObjectRow, slot: bytes, cap: int) -> tuple[float, int]:
    """(when the version in ``slot`` became noncurrent: its newer neighbour's
    creation; how many noncurrent versions are newer than it, counted up to
    ``cap``, the most any rule keeps: beyond that the count decides nothing)."""
    cur = txn.cursor(db=index.db["versions"])
    since = head.mtime
    if cur.set_key(slot) and cur.prev() and cur.key()[:8] == slot[:8]:
        since = ObjectRow.decode_brief(cur.value())[1]
    newer = 0
    if cap and cur.set_range(slot[:8]):
        while newer < cap and cur.key() != slot:
            newer += 1
            cur.next()
    return since, newer


def abort_upload(w: WriteTxn, a: LifecycleAction, now: float, day: float) -> LifecycleAction | None:
    """AbortIncompleteMultipartUpload: the upload, if it is still there and still due."""
    found = _bucket(w, a.bucket)
    raw = w.txn.get((a.upload_id or "").encode(), db=w.index.db["uploads"]) if a.upload_id else None
    if found is None or raw is None:
        return None
    doc = json.loads(raw)
    if doc["bucket"] != a.bucket or doc["key"] != a.key:
        return None
    done = _acted(a, abort_due(found[2], a.key, float(doc["t"]), day), now)
    if done is not None:
        multipart.abort(w, a.bucket, a.key, str(a.upload_id))
    return done
