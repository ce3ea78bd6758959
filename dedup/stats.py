"""Where the bytes are: counters kept by the write jobs, plus the filesystem.

Totals come from counters maintained in the same transactions that change
them (O(1)); ``exact`` adds, per bucket, the distinct fragment bytes its
objects reference (a scan of its manifests).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dedup.index import MANIFEST_ROW, U32, U64, U64X2, Index, ObjectRow
from dedup.packs import list_pack_ids, pack_path
from dedup.types import BucketStats, StoreStats


def _unique_bytes(index: Index, txn: object, bid: int) -> int:
    seen: set[bytes] = set()
    total = 0
    prefix = U32.pack(bid)
    objects = txn.cursor(db=index.db["objects"])  # type: ignore[attr-defined]
    manifests = txn.cursor(db=index.db["manifests"])  # type: ignore[attr-defined]
    if not objects.set_range(prefix):
        return 0
    for key, value in objects:
        if not key.startswith(prefix):
            break
        for vid, _ in ObjectRow.decode(None, value).segments:
            vkey = U64.pack(vid)
            if not manifests.set_range(vkey):
                continue
            for mkey, mval in manifests:
                if mkey[:8] != vkey:
                    break
                digest, raw = MANIFEST_ROW.unpack(mval)
                if digest not in seen:
                    seen.add(digest)
                    total += raw
    return total


def collect_stats(index: Index, packs_dir: Path, exact: bool = False) -> StoreStats:
    with index.read() as txn:
        buckets = []
        for name, doc in txn.cursor(db=index.db["buckets"]):
            bid = int(json.loads(doc)["id"])
            raw = txn.get(U32.pack(bid), db=index.db["bstats"])
            objects, logical = U64X2.unpack(raw) if raw else (0, 0)
            unique = _unique_bytes(index, txn, bid) if exact else None
            buckets.append(BucketStats(name.decode(), objects, logical, unique))
        counters = {n: index.counter(txn, n) for n in ("objects", "logical", "fragments", "unique", "stored")}
    pack_bytes = 0
    ids = list_pack_ids(packs_dir)
    for pid in ids:
        try:
            pack_bytes += os.stat(pack_path(packs_dir, pid)).st_size
        except FileNotFoundError:
            continue
    return StoreStats(
        objects=counters["objects"], logical_bytes=counters["logical"], fragments=counters["fragments"],
        unique_bytes=counters["unique"], stored_bytes=counters["stored"], pack_bytes=pack_bytes,
        index_bytes=index.index_bytes(), packs=len(ids), buckets=tuple(buckets),
    )
