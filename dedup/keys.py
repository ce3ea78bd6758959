"""Object keys in the ``objects`` table, in exact S3 order despite LMDB's
511-byte key limit.

A key of at most 500 bytes is stored under ``bucket id + key``. Keys longer
than that (S3 allows 1,024 bytes) share one *group* row per 500-byte prefix,
stored under ``bucket id + prefix + NUL`` (no key contains NUL, so that slot
sorts right after the prefix itself and before every other key): its value
holds the group's keys and their rows, sorted. A cursor walk that expands
groups therefore visits keys in UTF-8 byte order, which is S3's list order.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from dedup.index import U32, Txn

LONG = 500
_ENTRY = struct.Struct(">HI")


def _slot(bid: int, raw: bytes) -> bytes:
    return U32.pack(bid) + (raw if len(raw) <= LONG else raw[:LONG] + b"\x00")


def is_group(slot: bytes) -> bool:
    return len(slot) == 4 + LONG + 1


def decode_group(value: bytes) -> list[tuple[bytes, bytes]]:
    out = []
    pos = 0
    while pos < len(value):
        klen, rlen = _ENTRY.unpack_from(value, pos)
        pos += _ENTRY.size
        out.append((value[pos : pos + klen], value[pos + klen : pos + klen + rlen]))
        pos += klen + rlen
    return out


def encode_group(entries: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(_ENTRY.pack(len(k), len(r)) + k + r for k, r in sorted(entries))


def get(txn: Txn, db: object, bid: int, raw: bytes) -> bytes | None:
    value = txn.get(_slot(bid, raw), db=db)
    if value is None or len(raw) <= LONG:
        return value  # type: ignore[no-any-return]
    return next((r for k, r in decode_group(value) if k == raw), None)


def put(txn: Txn, db: object, bid: int, raw: bytes, row: bytes) -> None:
    slot = _slot(bid, raw)
    if len(raw) <= LONG:
        txn.put(slot, row, db=db)
        return
    value = txn.get(slot, db=db)
    entries = [(k, r) for k, r in decode_group(value or b"") if k != raw]
    txn.put(slot, encode_group([*entries, (raw, row)]), db=db)


def delete(txn: Txn, db: object, bid: int, raw: bytes) -> None:
    slot = _slot(bid, raw)
    if len(raw) <= LONG:
        txn.delete(slot, db=db)
        return
    value = txn.get(slot, db=db)
    entries = [(k, r) for k, r in decode_group(value or b"") if k != raw]
    if entries:
        txn.put(slot, encode_group(entries), db=db)
    else:
        txn.delete(slot, db=db)


def scan(txn: Txn, db: object, bid: int, start: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
    """(key, row) for the keys of bucket ``bid`` from ``start`` on, in S3 order."""
    base = U32.pack(bid)
    cur = txn.cursor(db=db)
    if not cur.set_range(base + start[:LONG]):
        return
    for slot, value in cur:
        if not slot.startswith(base):
            return
        if is_group(slot):
            for raw, row in decode_group(value):
                if raw >= start:
                    yield raw, row
        elif slot[4:] >= start:
            yield slot[4:], value


def scan_back(txn: Txn, db: object, bid: int, before: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(key, row) for the keys of bucket ``bid`` before ``before``, nearest first."""
    base = U32.pack(bid)
    cur = txn.cursor(db=db)
    if not (cur.set_range(base + before[:LONG]) or cur.last()):
        return
    while True:
        slot, value = cur.key(), cur.value()
        if slot < base:  # past the bucket's first key
            return
        if not slot.startswith(base):
            pass  # landed on the next bucket's first key: step back into this one
        elif is_group(slot):
            for raw, row in reversed(decode_group(value)):
                if raw < before:
                    yield raw, row
        elif slot[4:] < before:
            yield slot[4:], value
        if not cur.prev():
            return


def every_row(txn: Txn, db: object) -> Iterator[tuple[int, bytes, bytes]]:
    """(bucket id, key, row) of every object of every bucket."""
    for slot, value in txn.cursor(db=db):
        bid = U32.unpack(slot[:4])[0]
        if is_group(slot):
            for raw, row in decode_group(value):
                yield bid, raw, row
        else:
            yield bid, slot[4:], value


def bucket_is_empty(txn: Txn, db: object, bid: int) -> bool:
    return next(scan(txn, db, bid), None) is None
