"""Where the bytes are: counters kept by the write jobs, plus the filesystem.

Totals come from counters maintained in the same transactions that change
them, and table sizes (O(1)); ``exact`` adds, per bucket, the distinct
fragment bytes its objects reference (a scan of its manifests); ``dead``
adds what the dead manifests hold that nothing else uses (a scan of those
manifests: GC's own dry run, whatever their age).
"""

from __future__ import annotations

import json

from dedup.gc import due_manifests, simulate_reclaim
from dedup.index import U32, U64, U64X2, Index, ObjectRow, manifest_entries
from dedup.keys import scan
from dedup.packstore import PackStore
from dedup.types import BucketStats, StoreStats
from dedup.versioning import every_version


def _unique_bytes(index: Index, txn: object, bid: int) -> int:
    seen: set[bytes] = set()
    total = 0
    manifests = txn.cursor(db=index.db["manifests"])  # type: ignore[attr-defined]
    rows = (row for raw, value in scan(txn, index.db["objects"], bid)  # type: ignore[arg-type]
            for row in every_version(txn, index, ObjectRow.decode(raw.decode(), value)))
    for row in rows:
        for mid, _ in row.segments:
            vkey = U64.pack(mid)
            if not manifests.set_range(vkey):
                continue
            for mkey, mval in manifests:
                if mkey[:8] != vkey:
                    break
                for digest, length in manifest_entries(mval):
                    if digest not in seen:
                        seen.add(digest)
                        total += length
    return total


def collect_stats(index: Index, packs: PackStore, exact: bool = False, dead: bool = False) -> StoreStats:
    dead_unique = dead_stored = None
    if dead:
        _, dead_unique, per_pack = simulate_reclaim(index, [mid for _, mid in due_manifests(index, 2**64 - 1)])
        dead_stored = sum(per_pack.values())
    with index.read() as txn:
        buckets = []
        for name, doc in txn.cursor(db=index.db["buckets"]):
            bid = int(json.loads(doc)["id"])
            raw = txn.get(U32.pack(bid), db=index.db["bstats"])
            objects, logical = U64X2.unpack(raw) if raw else (0, 0)
            unique = _unique_bytes(index, txn, bid) if exact else None
            buckets.append(BucketStats(name.decode(), objects, logical, unique))
        counters = {n: index.counter(txn, n) for n in ("objects", "logical", "fragments", "unique", "stored")}
        entries = {n: int(txn.stat(index.db[n])["entries"]) for n in ("dead", "pending", "uploads")}
    count, pack_bytes = packs.usage()  # punched holes take no space
    return StoreStats(
        objects=counters["objects"], logical_bytes=counters["logical"], fragments=counters["fragments"],
        unique_bytes=counters["unique"], stored_bytes=counters["stored"], pack_bytes=pack_bytes,
        index_bytes=index.index_bytes(), packs=count, buckets=tuple(buckets),
        dead_manifests=entries["dead"], pending_manifests=entries["pending"], uploads=entries["uploads"],
        dead_unique_bytes=dead_unique, dead_stored_bytes=dead_stored,
    )
