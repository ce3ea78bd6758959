"""Finding a base for a new checkpoint, without hints from the client.

When a PUT's body turns out to be a checkpoint (dedup/tensors.py), the
object it most likely resembles is, in order:

1. the current version of the same key (an overwrite, or a new S3 version);
2. else the newest object stored in the same format among the keys next to
   it (``SCAN_ROWS`` before it and as many after it, in key order) under the
   same prefix, taken one level up from the key's own (``run/ft/step-5/model``
   looks among ``run/ft/...``: a run that writes a directory per checkpoint
   keeps its checkpoints there), and if none is found there, one more level
   up (``run/...``: the model a fine-tune started from).

Objects whose manifests recorded a layout qualify; a multipart upload's parts
each recorded their own (dedup/tensors.py finds the layout of a torch zip
from the first record header in a part), so a part aligns with the base's
tensors wherever they lie in its parts. The lookup reads index rows only (2 x
``SCAN_ROWS`` object rows and their first layout row per level, then the
chosen base's layout rows), never the candidate's bytes.

A checkpoint's layout is kept beside its manifest (table ``layouts``: mid(8)
-> format(1), then per tensor its name hash(8), start(8), length(8)) and goes
with the manifest's rows when GC reclaims them. A new fragment that lies in a
tensor whose namesake in the base has the same length is aligned with the
base fragment at the same distance from that tensor's start; that fragment
must start exactly there and be exactly as long (both bodies were cut the
same way), else the fragment has no base.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from dedup import keys
from dedup.delta import MAX_DEPTH, chain_row
from dedup.index import U64, U64X2, Index, ObjectRow, Txn, manifest_entries
from dedup.tensors import UNKNOWN, Cutter, Tensor
from dedup.versioning import current
from dedup.writer import WriteTxn

ENTRY = struct.Struct(">8sQQ")
SCAN_ROWS = 128
LEVELS = 2  # prefixes tried: one level up from the key's own, then one more
MAX_LAYOUT = 1 << 16  # tensors recorded per checkpoint at most
MAX_PARTS = 1000  # parts of a base object whose layouts are read


def layout_value(fmt: int, tensors: list[Tensor]) -> bytes:
    return bytes([fmt]) + b"".join(ENTRY.pack(t.name, t.start, t.end - t.start) for t in tensors[:MAX_LAYOUT])


def put_layout(w: WriteTxn, mid: int, value: bytes) -> None:
    w.txn.put(U64.pack(mid), value, db=w.index.db["layouts"])


def drop_layout(w: WriteTxn, mid: int) -> None:
    w.txn.delete(U64.pack(mid), db=w.index.db["layouts"])


def layout_of(txn: Txn, index: Index, mid: int) -> tuple[int, dict[bytes, tuple[int, int]]] | None:
    raw = txn.get(U64.pack(mid), db=index.db["layouts"])
    if not raw:
        return None
    return raw[0], {name: (start, length) for name, start, length in ENTRY.iter_unpack(raw[1:])}


@dataclass(frozen=True)
class Target:
    """Where to look for bases: the PUT's (or the upload's) bucket id and key,
    the depth bound, and whether the body is a part of a multipart upload."""

    bid: int
    key: str
    depth: int
    part: bool = False


@dataclass(frozen=True)
class Base:
    """The base of one new fragment: its name and the depth the delta will have."""

    digest: bytes
    depth: int


class BaseFinder:
    """The base object of one PUT (looked up once, when the format is known)
    and the aligned base fragment of each new fragment."""

    def __init__(self, index: Index, target: Target) -> None:
        self.index = index
        self.target = target
        self._looked = False
        self.layout: dict[bytes, tuple[int, int, int]] = {}  # tensor name -> manifest, start, length

    def base_for(self, txn: Txn, cutter: Cutter, offset: int, length: int) -> Base | None:
        """The base of the new fragment [offset, offset + length) of the body."""
        if cutter.format == UNKNOWN or self.target.depth < 1:
            return None
        if not self._looked:
            self._looked = True
            self._find_object(txn, cutter.format)
        if not self.layout:
            return None
        tensor = cutter.tensor_at(offset)
        if tensor is None or offset + length > tensor.end:
            return None
        there = self.layout.get(tensor.name)
        if there is None or there[2] != tensor.end - tensor.start:
            return None
        digest = _fragment_at(txn, self.index, there[0], there[1] + offset - tensor.start, length)
        if digest is None:
            return None
        return self._bounded(txn, digest)

    def _bounded(self, txn: Txn, digest: bytes) -> Base | None:
        """``digest`` as a base; if the chain through it is at the bound, the
        root of that chain instead (a plain fragment: the new delta starts a
        new chain of depth 1 on it, and is kept only if it still pays)."""
        chain = chain_row(txn, self.index, digest)
        depth = chain[1] if chain else 0
        if depth < self.target.depth:
            return Base(digest, depth + 1)
        for _ in range(MAX_DEPTH + 1):
            if chain is None:
                return Base(digest, 1)
            digest = chain[0]
            chain = chain_row(txn, self.index, digest)
        return None

    def _find_object(self, txn: Txn, fmt: int) -> None:
        target = self.target
        head = current(txn, self.index, target.bid, target.key)
        if head is not None and self._use(txn, head, fmt):
            return
        prefix = _parent(_parent(target.key))
        for _ in range(LEVELS):
            newest = self._newest_near(txn, prefix.encode(), fmt)
            if newest is not None:
                self._use(txn, newest, fmt)
                return
            if not prefix:
                return
            prefix = _parent(prefix)

    def _newest_near(self, txn: Txn, prefix: bytes, fmt: int) -> ObjectRow | None:
        """The newest checkpoint of format ``fmt`` among the keys next to the
        target's under ``prefix``."""
        newest: ObjectRow | None = None
        db = self.index.db["objects"]
        me = self.target.key.encode()
        around = [*_take(keys.scan(txn, db, self.target.bid, me), prefix),
                  *_take(keys.scan_back(txn, db, self.target.bid, me), prefix)]
        for raw, value in around:
            if raw == me:
                continue
            row = ObjectRow.decode(raw.decode(), value)
            if row.segments and not row.is_marker and (newest is None or row.mtime > newest.mtime):
                layout = layout_of(txn, self.index, row.segments[0][0])
                if layout is not None and layout[0] == fmt:
                    newest = row
        return newest

    def _use(self, txn: Txn, row: ObjectRow, fmt: int) -> bool:
        """Take ``row`` as the base object if its manifests (one per part)
        recorded layouts of format ``fmt``: its tensors by name."""
        if row.is_marker:
            return False
        found: dict[bytes, tuple[int, int, int]] = {}
        for mid, _ in row.segments[:MAX_PARTS]:
            layout = layout_of(txn, self.index, mid)
            if layout is not None and layout[0] == fmt:
                for name, (start, length) in layout[1].items():
                    found.setdefault(name, (mid, start, length))
        self.layout = found
        return bool(found)


def _parent(key: str) -> str:
    """``key`` up to (and with) its last ``/`` but the trailing one; "" at the top."""
    return key[: key.rstrip("/").rfind("/") + 1]


def _take(rows: Iterator[tuple[bytes, bytes]], prefix: bytes) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    for raw, value in rows:
        if len(out) >= SCAN_ROWS or not raw.startswith(prefix):
            break
        out.append((raw, value))
    return out


def _fragment_at(txn: Txn, index: Index, mid: int, offset: int, length: int) -> bytes | None:
    """The fragment of manifest ``mid`` that starts at ``offset`` and is
    ``length`` bytes long; None if no fragment starts there."""
    cur = txn.cursor(db=index.db["manifests"])
    found = cur.set_range(U64X2.pack(mid, offset))
    if found and U64X2.unpack(cur.key()) == (mid, offset):
        entries = manifest_entries(cur.value())
        return entries[0][0] if entries and entries[0][1] == length else None
    if not (cur.prev() if found else cur.last()):
        return None
    row_mid, at = U64X2.unpack(cur.key())
    if row_mid != mid:
        return None
    for digest, raw in manifest_entries(cur.value()):
        if at == offset:
            return digest if raw == length else None
        if at > offset:
            return None
        at += raw
    return None
