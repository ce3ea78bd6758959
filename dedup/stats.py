"""Where the bytes are: counters kept by the write jobs, plus the filesystem.

Totals come from counters maintained in the same transactions that change
them, and table sizes (O(1)); ``exact`` adds, per bucket, the distinct
fragment bytes its objects reference, with the delta bases those need (a scan
of its manifests), and the delta fragments by chain depth; ``dead``
adds what the dead manifests hold that nothing else uses (a scan of those
manifests: GC's own dry run, whatever their age).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from dedup.format import HEADER_SIZE
from dedup.gc import due_manifests, simulate_reclaim
from dedup.index import U8_HASH, U32, U64, U64X2, Index, ObjectRow, Txn, manifest_entries
from dedup.keys import scan
from dedup.packstore import PackStore
from dedup.types import BucketStats, StoreStats
from dedup.versioning import every_version


@dataclass
class _BucketScan:
    unique: int = 0
    delta_objects: int = 0
    delta_fragments: int = 0
    delta_raw: int = 0
    delta_stored: int = 0


def _scan_bucket(index: Index, txn: Txn, bid: int) -> _BucketScan:
    """The exact figures of one bucket: a walk of its objects' manifests."""
    seen: set[bytes] = set()
    out = _BucketScan()
    manifests = txn.cursor(db=index.db["manifests"])
    bases = index.db["bases"]
    rows = (row for raw, value in scan(txn, index.db["objects"], bid)
            for row in every_version(txn, index, ObjectRow.decode(raw.decode(), value)))
    for row in rows:
        found_base = False
        for mid, _ in row.segments:
            vkey = U64.pack(mid)
            if not manifests.set_range(vkey):
                continue
            for mkey, mval in manifests:
                if mkey[:8] != vkey:
                    break
                for digest, length in manifest_entries(mval):
                    delta = txn.get(digest, db=bases) is not None
                    found_base = found_base or delta
                    if digest not in seen:
                        seen.add(digest)
                        out.unique += length
                        if delta:
                            frag = index.fragment(txn, digest)
                            out.delta_fragments += 1
                            out.delta_raw += length
                            out.delta_stored += HEADER_SIZE + (frag.stored if frag else 0)
        out.delta_objects += found_base
    out.unique += _bases_bytes(index, txn, seen)
    return out


def _bases_bytes(index: Index, txn: Txn, seen: set[bytes]) -> int:
    """Raw bytes of the delta bases that the fragments in ``seen`` need and
    that are not in ``seen`` themselves (added to it)."""
    total = 0
    todo = list(seen)
    while todo:
        chain = txn.get(todo.pop(), db=index.db["bases"])
        if chain is None:
            continue
        base = U8_HASH.unpack(chain)[0]
        if base not in seen:
            seen.add(base)
            row = index.fragment(txn, base)
            total += row.raw if row is not None else 0
            todo.append(base)
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
            if exact:
                b = _scan_bucket(index, txn, bid)
                buckets.append(BucketStats(name.decode(), objects, logical, b.unique, b.delta_objects,
                                           b.delta_fragments, b.delta_raw, b.delta_stored))
            else:
                buckets.append(BucketStats(name.decode(), objects, logical))
        counters = {n: index.counter(txn, n) for n in ("objects", "logical", "fragments", "unique", "stored",
                                                       "delta_fragments", "delta_raw", "delta_stored")}
        depths = _depths(index, txn) if exact else ()
        entries = {n: int(txn.stat(index.db[n])["entries"]) for n in ("dead", "pending", "uploads")}
    count, pack_bytes = packs.usage()  # punched holes take no space
    return StoreStats(
        objects=counters["objects"], logical_bytes=counters["logical"], fragments=counters["fragments"],
        unique_bytes=counters["unique"], stored_bytes=counters["stored"], pack_bytes=pack_bytes,
        index_bytes=index.index_bytes(), packs=count, buckets=tuple(buckets),
        dead_manifests=entries["dead"], pending_manifests=entries["pending"], uploads=entries["uploads"],
        dead_unique_bytes=dead_unique, dead_stored_bytes=dead_stored,
        delta_fragments=counters["delta_fragments"], delta_raw_bytes=counters["delta_raw"],
        delta_stored_bytes=counters["delta_stored"], delta_depths=depths,
    )


def _depths(index: Index, txn: Txn) -> tuple[int, ...]:
    """Delta fragments by chain depth (index 0: depth 1)."""
    counts: list[int] = []
    for _, value in txn.cursor(db=index.db["bases"]):
        depth = U8_HASH.unpack(value)[1]
        counts.extend([0] * (depth - len(counts)))
        counts[depth - 1] += 1
    return tuple(counts)
