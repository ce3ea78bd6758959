"""``check``: recompute what the index claims and verify every fragment.

- fragment refcounts recomputed from the manifest rows and the delta
  fragments built on them (invariant 3);
- manifest refcounts recomputed from object version rows (current and
  noncurrent) and part rows (invariant 5);
- every manifest row's fragment exists (invariant 2);
- every fragment's stored bytes decode to bytes whose BLAKE3 is its name (a
  delta decoded on its base, dedup/delta.py; a sealed record is first
  authenticated and decrypted with its data key from the keyring, and its
  name is the keyed BLAKE3 of its domain; a record sealed under a customer
  key can only have its header and CRC32C checked: the key is never stored);
- every version under Object Lock (retention not yet over, or a legal hold)
  still has all its bytes: a lock violation otherwise.

``repair`` rewrites refcounts to the recomputed values, frees orphan
fragments and queues unreferenced manifests; damaged fragments can only be
reported (their bytes are gone), and the objects using them fail to read.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import blake3

from dedup.codecs import decode
from dedup.delta import DELTA, Fragments, decode_delta
from dedup.encryption import CODEC_MASK, CUSTOMER_KEY_ID, SEALED, record_key_id
from dedup.errors import EncryptionKeyError, UndecryptableFragment
from dedup.format import HEADER_SIZE, unpack_header
from dedup.index import SEGMENT, U8_HASH, U64, FragmentRow, Index, ObjectRow, Txn, manifest_entries
from dedup.keyring import Keyring
from dedup.keys import every_row
from dedup.manifests import decref_fragment
from dedup.packstore import PackStore
from dedup.types import CheckReport
from dedup.versioning import every_version
from dedup.writer import WriteTxn


def count_references(index: Index, txn: Txn) -> tuple[Counter[bytes], Counter[int]]:
    frag_refs: Counter[bytes] = Counter()
    for _key, value in txn.cursor(db=index.db["manifests"]):
        for digest, _length in manifest_entries(value):
            frag_refs[digest] += 1
    for _key, value in txn.cursor(db=index.db["bases"]):  # type: ignore[attr-defined]
        frag_refs[U8_HASH.unpack(value)[0]] += 1
    mid_refs: Counter[int] = Counter()
    for _bid, raw, value in every_row(txn, index.db["objects"]):
        for mid, _ in ObjectRow.decode(raw.decode(), value).segments:
            mid_refs[mid] += 1
    for _key, value in txn.cursor(db=index.db["versions"]):
        for mid, _ in ObjectRow.decode("", value).segments:
            mid_refs[mid] += 1
    for _key, value in txn.cursor(db=index.db["parts"]):
        mid_refs[int(json.loads(value)["v"])] += 1
    return frag_refs, mid_refs


def verify_fragment(files: PackStore, digest: bytes, row: FragmentRow, bases: Fragments,
                    keyring: Keyring | None = None) -> bool:
    try:
        data = files.read(row.pack, row.offset, HEADER_SIZE + row.stored)
    except OSError:
        return False
    header = unpack_header(data)
    stored = memoryview(data)[HEADER_SIZE:]
    if (header is None or header.digest != digest or header.stored_length != row.stored
            or header.intact(stored) is False):  # the CRC32C reads check too (version 2 records)
        return False
    codec = row.codec
    domain = None
    if codec & SEALED:
        codec &= CODEC_MASK
        if record_key_id(stored) == CUSTOMER_KEY_ID:
            return True  # sealed under a customer key: only its header and CRC32C can be checked
        if keyring is None:
            raise EncryptionKeyError("verifying encrypted fragments needs the master key")
        domain = keyring.by_id(record_key_id(stored))  # no key to verify with: raised, not "corrupt"
        try:
            stored = memoryview(domain.open(stored, digest, codec))
        except UndecryptableFragment:
            return False
    try:
        if codec == DELTA:  # deltas are never sealed (no delta in an encryption domain)
            out = memoryview(bytearray(row.raw))
            decode_delta(stored, bases.raw, out)
            raw: bytes | memoryview = out
        else:
            raw = decode(codec, stored)
    except Exception:
        return False
    name = blake3.blake3(raw).digest() if domain is None else domain.name(raw)
    return len(raw) == row.raw and name == digest


def run_check(index: Index, files: PackStore, verify: bool = True, keyring: Keyring | None = None) -> CheckReport:
    bases = Fragments(index, files)
    with index.read() as txn:
        frag_refs, mid_refs = count_references(index, txn)
        checked = refcount_errors = orphans = 0
        corrupt: list[str] = []
        for digest, value in txn.cursor(db=index.db["fragments"]):
            row = FragmentRow.decode(value)
            checked += 1
            expected = frag_refs.pop(digest, 0)
            if expected == 0:
                orphans += 1
            elif row.refcount != expected:
                refcount_errors += 1
            if verify and not verify_fragment(files, digest, row, bases, keyring):
                corrupt.append(digest.hex())
        missing = [d.hex() for d in frag_refs]
        for key, value in txn.cursor(db=index.db["mrefs"]):
            (mid,) = U64.unpack(key)
            refs = mid_refs.pop(mid, 0)
            if int.from_bytes(value[:4], "big") != refs:
                refcount_errors += 1
        pending = {U64.unpack(k)[0] for k, _ in txn.cursor(db=index.db["pending"])}
        refcount_errors += sum(1 for mid in mid_refs if mid not in pending)
        locked, violations = _lock_violations(index, txn, set(corrupt) | set(missing))
    return CheckReport(checked, tuple(corrupt), tuple(missing), refcount_errors, orphans, False,
                       locked, tuple(violations))


def _lock_violations(index: Index, txn: Txn, damaged: set[str]) -> tuple[int, list[str]]:
    """(versions under Object Lock, those of them whose bytes are not all there:
    a manifest gone, or a fragment missing or damaged)."""
    now = time.time()
    names = {int(json.loads(doc)["id"]): name.decode() for name, doc in txn.cursor(db=index.db["buckets"])}
    locked, violations = 0, []
    manifests = txn.cursor(db=index.db["manifests"])
    for bid, raw, value in every_row(txn, index.db["objects"]):
        for row in every_version(txn, index, ObjectRow.decode(raw.decode(), value)):
            meta = row.meta
            if not (meta.legal_hold or (meta.lock_mode and meta.lock_until > now)):
                continue
            locked += 1
            if not all(_intact(index, txn, manifests, mid, damaged) for mid, _ in row.segments):
                violations.append(f"{names.get(bid, bid)}/{row.key} {row.version_id}")
    return locked, violations


def _intact(index: Index, txn: Txn, manifests: object, mid: int, damaged: set[str]) -> bool:
    if txn.get(U64.pack(mid), db=index.db["mrefs"]) is None:
        return False
    prefix = U64.pack(mid)
    if not manifests.set_range(prefix):  # type: ignore[attr-defined]
        return False
    for key, value in manifests:  # type: ignore[attr-defined]
        if key[:8] != prefix:
            break
        if any(digest.hex() in damaged for digest, _ in manifest_entries(value)):
            return False
    return True


def repair(w: WriteTxn) -> None:
    """Make refcounts match the rows (inside one write transaction)."""
    idx, txn = w.index, w.txn
    frag_refs, mid_refs = count_references(idx, txn)
    for digest, value in list(txn.cursor(db=idx.db["fragments"])):
        row = FragmentRow.decode(value)
        want = frag_refs.get(digest, 0)
        if want == 0:
            idx.put_fragment(txn, digest, FragmentRow(row.pack, row.offset, row.stored, row.raw, row.codec, 1))
            decref_fragment(w, digest)
        elif row.refcount != want:
            idx.put_fragment(txn, digest, FragmentRow(row.pack, row.offset, row.stored, row.raw, row.codec, want))
    for key, value in list(txn.cursor(db=idx.db["mrefs"])):
        (mid,) = U64.unpack(key)
        refs = mid_refs.get(mid, 0)
        if int.from_bytes(value[:4], "big") != refs:
            idx.put_manifest_ref(txn, mid, refs, int.from_bytes(value[4:12], "big"))
            if refs == 0:
                txn.put(SEGMENT.pack(0, mid), b"", db=idx.db["dead"])

