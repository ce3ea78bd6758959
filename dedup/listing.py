"""ListObjects over the ``objects`` table: a walk in S3 key order.

Only rows under the bucket and prefix are visited; with a delimiter, a common
prefix is reported once and the walk jumps past every key under it (a seek,
not a scan). Object manifests are never opened.
"""

from __future__ import annotations

from dedup.index import ObjectRow, Txn
from dedup.keys import scan
from dedup.types import ListEntry, ListPage


def successor(prefix: bytes) -> bytes:
    """The smallest byte string greater than every string starting with ``prefix``."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\xff" * (len(prefix) + 1)
    return stripped[:-1] + bytes([stripped[-1] + 1])


def _start(prefix: bytes, delimiter: bytes, after: bytes) -> bytes:
    if not after:
        return prefix
    start = after + b"\x00"  # the smallest key greater than ``after``
    if delimiter and after.startswith(prefix):
        i = after.find(delimiter, len(prefix))
        if i >= 0:  # after a common prefix: skip every key under it
            start = max(start, successor(after[: i + len(delimiter)]))
    return max(prefix, start)


def list_page(
    txn: Txn, db: object, bid: int, prefix: str, delimiter: str, after: str, max_keys: int
) -> ListPage:
    pfx, delim = prefix.encode(), delimiter.encode()
    entries: list[ListEntry] = []
    prefixes: list[str] = []
    last: str | None = None
    rows = scan(txn, db, bid, _start(pfx, delim, after.encode()))
    while (item := next(rows, None)) is not None:
        raw, value = item
        if not raw.startswith(pfx):
            break
        if len(entries) + len(prefixes) >= max_keys:
            return ListPage(tuple(entries), tuple(prefixes), max_keys > 0, last)
        i = raw.find(delim, len(pfx)) if delim else -1
        if i >= 0:
            common = raw[: i + len(delim)]
            last = common.decode()
            prefixes.append(last)
            rows = scan(txn, db, bid, successor(common))
            continue
        size, mtime, etag = ObjectRow.decode_brief(value)
        last = raw.decode()
        entries.append(ListEntry(last, size, etag, mtime))
    return ListPage(tuple(entries), tuple(prefixes), False, last)
