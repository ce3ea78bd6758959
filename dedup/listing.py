"""ListObjects and ListObjectVersions over the ``objects`` table: walks in S3
key order.

Only rows under the bucket and prefix are visited; with a delimiter, a common
prefix is reported once and the walk jumps past every key under it (a seek,
not a scan). Object manifests are never opened. ListObjects skips keys whose
current version is a delete marker; ListObjectVersions reports each key's
current row and then its noncurrent rows (dedup/versioning.py), newest first.
"""

from __future__ import annotations

from collections.abc import Iterator

from dedup import versioning
from dedup.index import DELETE_MARKER, Index, ObjectRow, Txn
from dedup.keys import scan
from dedup.types import ListEntry, ListPage, VersionEntry, VersionsPage


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
        size, mtime, etag, flags = ObjectRow.decode_brief(value)
        if flags & DELETE_MARKER:
            continue
        if len(entries) + len(prefixes) >= max_keys:
            return ListPage(tuple(entries), tuple(prefixes), max_keys > 0, last)
        i = raw.find(delim, len(pfx)) if delim else -1
        if i >= 0:
            common = raw[: i + len(delim)]
            last = common.decode()
            prefixes.append(last)
            rows = scan(txn, db, bid, successor(common))
            continue
        last = raw.decode()
        entries.append(ListEntry(last, size, etag, mtime, ObjectRow.decode_owner(value)))
    return ListPage(tuple(entries), tuple(prefixes), False, last)


def _entry(row: ObjectRow, latest: bool) -> VersionEntry:
    return VersionEntry(row.key, row.version_id, latest, row.mtime, row.etag, row.size, row.is_marker,
                        row.meta.owner)


def _versions_from(txn: Txn, index: Index, head: ObjectRow, version_marker: str | None) -> Iterator[VersionEntry]:
    """The versions of ``head``'s key in list order, after ``version_marker`` if given."""
    if version_marker is None:
        yield _entry(head, True)
        for _, row in versioning.noncurrent(txn, index, head):
            yield _entry(row, False)
        return
    ref = versioning.parse_version_id(version_marker)
    found = versioning.find(txn, index, head, ref)
    if found is None:
        return
    for row in versioning.noncurrent_after(txn, index, head, found[1].seq):
        yield _entry(row, False)


def list_versions(
    txn: Txn, index: Index, bid: int, prefix: str, delimiter: str, key_marker: str,
    version_marker: str | None, max_keys: int,
) -> VersionsPage:
    """ListObjectVersions: keys after ``key_marker`` (or, with ``version_marker``,
    the versions of ``key_marker`` older than it first), each key's versions
    newest first; common prefixes and versions both count toward ``max_keys``."""
    db = index.db["objects"]
    pfx, delim = prefix.encode(), delimiter.encode()
    entries: list[VersionEntry] = []
    prefixes: list[str] = []
    last: tuple[str, str | None] | None = None

    def page(truncated: bool) -> VersionsPage:
        key, vid = last if truncated and last else (None, None)
        return VersionsPage(tuple(entries), tuple(prefixes), truncated, key, vid)

    marker = key_marker.encode()
    if version_marker is not None and marker.startswith(pfx):
        head = versioning.current(txn, index, bid, key_marker)
        if head is not None:
            for entry in _versions_from(txn, index, head, version_marker):
                if len(entries) >= max_keys:
                    return page(True)
                entries.append(entry)
                last = (entry.key, entry.version_id)
    rows = scan(txn, db, bid, _start(pfx, delim, marker))
    while (item := next(rows, None)) is not None:
        raw, value = item
        if not raw.startswith(pfx):
            break
        i = raw.find(delim, len(pfx)) if delim else -1
        if i >= 0:
            if len(entries) + len(prefixes) >= max_keys:
                return page(max_keys > 0)
            common = raw[: i + len(delim)]
            prefixes.append(common.decode())
            last = (common.decode(), None)
            rows = scan(txn, db, bid, successor(common))
            continue
        head = ObjectRow.decode(raw.decode(), value)
        for entry in _versions_from(txn, index, head, None):
            if len(entries) + len(prefixes) >= max_keys:
                return page(max_keys > 0)
            entries.append(entry)
            last = (entry.key, entry.version_id)
    return page(False)
