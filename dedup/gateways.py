"""Many processes on one index (a PostgreSQL index, dedup/kv_postgres.py): what
each gateway owns, and the reaping of what a dead one left.

A gateway (one ``fragstore serve`` process, or one of its ``--workers``) owns:

- its open pack: every process appends only to a pack of its own, allocated
  from the index's ``next_pack`` counter. Its id is kept in ``meta`` under
  ``gateway-pack/<gateway id(4)>`` while it is open (and the pack's row stays
  unsealed), so no other process truncates it, compacts it or deletes it.
- its pending manifests: their ``pending`` row carries its id after the
  creation time (``created(8) gateway(4)``; a row of 8 bytes is LMDB's, of
  the one process there is).
- its block of manifest ids (``next_mid`` is moved past a block at a time).

When a gateway is found dead (dedup/kv.py ``alive``: its session ended),
whoever looks (a start, or the GC under the lease) abandons its pending
manifests (their fragments are reclaimed like any failed PUT's) and seals its
open pack at the committed length (the bytes past it were never acknowledged),
so compaction may then take it. A live gateway's rows are never touched.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from dedup.index import U32, U64, Index, Txn

if TYPE_CHECKING:  # the writer imports this module
    from dedup.writer import Writer

OPEN_PACK = b"gateway-pack/"
MID_BLOCK = 4096  # manifest ids a gateway takes from the index at once
PENDING = struct.Struct(">QI")


def pending_value(created_ns: int, gateway: int) -> bytes:
    return PENDING.pack(created_ns, gateway) if gateway else U64.pack(created_ns)


def pending_gateway(value: bytes) -> int:
    return PENDING.unpack(value)[1] if len(value) == PENDING.size else 0


def open_pack_key(gateway: int) -> bytes:
    return OPEN_PACK + U32.pack(gateway)


def note_open_pack(index: Index, txn: Txn, gateway: int, pack_id: int) -> None:
    """``pack_id`` is ``gateway``'s open pack now."""
    txn.put(open_pack_key(gateway), U32.pack(pack_id), db=index.db["meta"])


def seal_open_pack(index: Index, txn: Txn, gateway: int) -> int | None:
    """Seal what the index says is ``gateway``'s open pack, at its committed length; its id."""
    raw = txn.get(open_pack_key(gateway), db=index.db["meta"])
    if raw is None:
        return None
    pack_id = U32.unpack(raw)[0]
    row = index.pack(txn, pack_id)
    if row is not None and row[2] == 0:
        index.put_pack(txn, pack_id, row[0], row[1], 1)
    txn.delete(open_pack_key(gateway), db=index.db["meta"])
    return pack_id


def reserve_mids(index: Index, txn: Txn, count: int) -> int:
    """The first of ``count`` manifest ids no other process will use."""
    start = max(index.counter(txn, "next_mid"), 1)
    txn.put(b"next_mid", U64.pack(start + count), db=index.db["meta"])
    return start


def _owned(index: Index) -> tuple[list[tuple[int, int]], list[int]]:
    """(pending manifest, its gateway) of every pending row that names one, and
    the gateways with an open pack."""
    with index.read() as txn:
        pending = [(U64.unpack(k)[0], g) for k, v in txn.cursor(db=index.db["pending"])
                   if (g := pending_gateway(v))]
        cur = txn.cursor(db=index.db["meta"])
        packs = []
        if cur.set_range(OPEN_PACK):
            for key, _ in cur:
                if not key.startswith(OPEN_PACK):
                    break
                packs.append(U32.unpack(key[len(OPEN_PACK):])[0])
    return pending, packs


async def reap_dead(writer: Writer) -> tuple[int, int]:
    """Abandon the pending manifests and seal the open packs of every dead
    gateway; (manifests abandoned, packs sealed)."""
    # (the manifests module imports the writer, which imports this one)
    from dedup.manifests import abandon_pending

    index = writer.index
    if not index.kv.shared:
        return 0, 0
    pending, packs = _owned(index)
    gateways = {g for _, g in pending} | set(packs)
    dead = {g for g in gateways if not index.kv.alive(g)}
    abandoned = sealed = 0
    for mid, gateway in pending:
        if gateway in dead:
            await writer.run(lambda w, m=mid: abandon_pending(w, m))  # type: ignore[misc]
            abandoned += 1
    for gateway in packs:
        if gateway in dead:
            await writer.run(lambda w, g=gateway: seal_open_pack(w.index, w.txn, g))  # type: ignore[misc]
            sealed += 1
    return abandoned, sealed
