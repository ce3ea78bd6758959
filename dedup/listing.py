"""ListObjects over the ``objects`` table: a cursor walk in S3 key order.

Only rows under the bucket and prefix are visited; with a delimiter, a common
prefix is reported once and the cursor jumps past every key under it (a seek,
not a scan). Object manifests are never opened.
"""

from __future__ import annotations

import lmdb

from dedup.index import U32, ObjectRow, full_key, keyform
from dedup.types import ListEntry, ListPage


def successor(prefix: bytes) -> bytes:
    """The smallest byte string greater than every string starting with ``prefix``."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\xff" * (len(prefix) + 1)
    return stripped[:-1] + bytes([stripped[-1] + 1])


def _start_key(base: bytes, prefix: str, delimiter: str, after: str) -> bytes:
    start = base + prefix.encode()
    if not after:
        return start
    after_key = base + keyform(after.encode()) + b"\x00"
    if delimiter and after.startswith(prefix):
        rest = after[len(prefix):]
        i = rest.find(delimiter)
        if i >= 0:  # after a common prefix: skip everything under it
            after_key = max(after_key, successor(base + (prefix + rest[: i + len(delimiter)]).encode()))
    return max(start, after_key)


def list_page(
    txn: lmdb.Transaction, db: object, bid: int, prefix: str, delimiter: str, after: str, max_keys: int
) -> ListPage:
    base = U32.pack(bid)
    pfx = base + prefix.encode()
    cur = txn.cursor(db=db)
    entries: list[ListEntry] = []
    prefixes: list[str] = []
    last: str | None = None
    if not cur.set_range(_start_key(base, prefix, delimiter, after)):
        return ListPage((), (), False, None)
    while cur.key().startswith(pfx):
        if len(entries) + len(prefixes) >= max_keys:
            return ListPage(tuple(entries), tuple(prefixes), max_keys > 0, last)
        kf, value = cur.key(), cur.value()
        key = full_key(kf[4:], value)
        if key <= after:  # long keys sort by hash among equal prefixes
            if not cur.next():
                break
            continue
        if delimiter:
            i = key.find(delimiter, len(prefix))
            if i >= 0:
                common = key[: i + len(delimiter)]
                prefixes.append(common)
                last = common
                if not cur.set_range(successor(base + common.encode())):
                    break
                continue
        size, mtime, etag = ObjectRow.decode_brief(value)
        entries.append(ListEntry(key, size, etag, mtime))
        last = key
        if not cur.next():
            break
    return ListPage(tuple(entries), tuple(prefixes), False, last)
