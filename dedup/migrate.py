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
2 -> 3  Freed records are punched out of their packs (dedup/holes.py) and the
        queue of those still to punch is the table ``holes`` (created empty on
        open). Nothing to convert: the FORMAT file is rewritten so that an
        older engine refuses the directory, since its pack scan stops at the
        first hole and its compaction would then drop the live records past it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dedup.chunking import ChunkerParams
from dedup.format import FORMAT_VERSION, write_format
from dedup.index import Index

log = logging.getLogger("fragstore.migrate")


def upgrade(index: Index, root: Path, params: ChunkerParams, found: int) -> None:
    """Bring the index from format ``found`` to the current one."""
    if found >= FORMAT_VERSION:
        return
    if found < 2:
        moved = _manifest_refs(index)
        log.info("data format 1 -> 2: %d manifest reference rows moved to mrefs", moved)
    log.info("data format %d -> %d", found, FORMAT_VERSION)
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
