"""Upgrades of an older data directory to the current format, run on open.

Each step is one LMDB write transaction, then the FORMAT file is rewritten
(dedup/fsutil.py's publish). A crash between the two leaves the new tables
committed under the old FORMAT: every step is written so that running it
again over its own result changes nothing.

1 -> 2  Format 1 called a manifest's reference row a "version"; from format 2
        *version* means an S3 object version only. The table ``versions``
        (mid -> refcount, length) moves to ``mrefs``, the counter ``next_vid``
        to ``next_mid``; ``versions`` is then empty and holds S3's noncurrent
        object versions. Object rows of format 1 are read as they are (an
        unversioned object is S3's ``null`` version).
2 -> 3  Freed records are punched out of their packs (dedup/holes.py), and
        the queue of those still to punch is the table ``holes``. The dead
        records an older engine left in its packs are queued once here (the
        gaps between live records, from the fragments table, walked header by
        header), so the first open punches them too. FORMAT is rewritten so
        that an older engine refuses the directory: its pack scan stops at the
        first hole, and its compaction would then drop the live records past it.
3 -> 4  Records are written as record version 2, whose CRC32C covers the
        stored bytes and the header (dedup/format.py): a read checks it
        instead of hashing the fragment with BLAKE3. Nothing is rewritten: the
        version 1 records already in the packs stay as they are and a read
        still verifies them by their BLAKE3 name (dedup/reader.py); compaction
        copies either version byte for byte. FORMAT is rewritten so that an
        older engine, which knows only version 1 records (its reads would fail
        and its pack scan stop at the first version 2 record), refuses the
        directory.
4 -> 5  Fragments may be stored as deltas on a base (dedup/delta.py, codec 4),
        and a base's refcount counts the deltas on it (table ``bases``); the
        tables ``bases`` and ``layouts`` start empty, so nothing is converted.
        FORMAT is rewritten so that an older engine refuses the directory: it
        could not decode a delta, and its ``check --repair`` would lower the
        refcount of every base to its manifest rows and free bases in use.
"""

from __future__ import annotations

import logging
import os
from array import array
from pathlib import Path

from dedup.chunking import ChunkerParams
from dedup.format import FORMAT_VERSION, HEADER_SIZE, unpack_header, write_format
from dedup.gc import RETIRED
from dedup.index import HOLE, PACK, U32, FragmentRow, Index
from dedup.packs import pack_path

log = logging.getLogger("fragstore.migrate")


def upgrade(index: Index, root: Path, params: ChunkerParams, found: int) -> None:
    """Bring the index from format ``found`` to the current one."""
    if found >= FORMAT_VERSION:
        return
    if found < 2:
        moved = _manifest_refs(index)
        log.info("data format 1 -> 2: %d manifest reference rows moved to mrefs", moved)
    if found < 3:
        records, nbytes = _queue_dead_records(index, root / "packs")
        log.info("data format 2 -> 3: %d dead records (%d bytes) queued to be punched", records, nbytes)
    if found < 4:
        log.info("data format %d -> 4: new records carry a CRC32C; older ones are verified by BLAKE3 when read",
                 max(found, 3))
    if found < 5:
        log.info("data format %d -> 5: delta fragments may be written from now on", max(found, 4))
    write_format(root, params)


def _manifest_refs(index: Index) -> int:
    old, new, meta = index.db["versions"], index.db["mrefs"], index.db["meta"]
    moved = 0
    with index.write() as txn:
        for key, value in list(txn.cursor(db=old)):
            txn.put(key, value, db=new)
            moved += 1
        txn.drop(old, delete=False)
        counter = txn.get(b"next_vid", db=meta)
        if counter is not None:
            txn.put(b"next_mid", counter, db=meta)
            txn.delete(b"next_vid", db=meta)
    return moved


def _queue_dead_records(index: Index, packs_dir: Path) -> tuple[int, int]:
    """Queue in ``holes`` every record of a pack that no fragment row points at
    (found between the live records, up to the committed length). Queuing a
    record twice writes the same row."""
    with index.write() as txn:
        packs = {U32.unpack(k)[0]: PACK.unpack(v) for k, v in txn.cursor(db=index.db["packs"])}
        live: dict[int, array[int]] = {}
        for _, value in txn.cursor(db=index.db["fragments"]):
            row = FragmentRow.decode(value)
            spans = live.setdefault(row.pack, array("Q"))
            spans.append(row.offset)
            spans.append(row.offset + HEADER_SIZE + row.stored)
        records = nbytes = 0
        for pid, (committed, _live, state) in packs.items():
            if state == RETIRED or committed == 0:
                continue
            spans = live.get(pid, array("Q"))
            pairs = sorted(zip(spans[::2], spans[1::2], strict=True))
            for offset, length in _dead_in_gaps(pack_path(packs_dir, pid), pairs, committed):
                txn.put(HOLE.pack(pid, offset), U32.pack(length), db=index.db["holes"])
                records += 1
                nbytes += length
    return records, nbytes


def _dead_in_gaps(path: Path, live: list[tuple[int, int]], committed: int) -> list[tuple[int, int]]:
    """(offset, length) of the whole records in the gaps between the ``live``
    spans of a pack, read header by header; a gap that does not parse is left
    alone from there on."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return []
    out = []
    try:
        pos = 0
        for start, end in [*live, (committed, committed)]:
            while pos < start:
                header = unpack_header(os.pread(fd, HEADER_SIZE, pos))
                if header is None or pos + header.total > start:
                    break
                out.append((pos, header.total))
                pos += header.total
            pos = max(pos, end)
    finally:
        os.close(fd)
    return out
