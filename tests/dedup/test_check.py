"""``check``: a healthy store is ok; a flipped byte in a pack is found, the
object using that fragment fails to read with CorruptFragment while others
still read (one flipped byte anywhere in a record, header or bytes, and after
compaction moved the damaged record); missing and orphan fragments and wrong
refcounts are reported and repaired."""

from __future__ import annotations

import random
import struct

import pytest
from storetest import OWNER, assert_same, content, put, read

from dedup import errors, gc
from dedup.codecs import PLANES4
from dedup.format import HEADER_SIZE
from dedup.index import FragmentRow
from dedup.packs import pack_path, scan_records
from dedup.types import KiB, MiB

pytestmark = pytest.mark.packstores  # every test once per pack store (conftest.py)


def _any_fragment(store):
    with store.index.read() as txn:
        digest, value = next(iter(txn.cursor(db=store.index.db["fragments"])))
    return digest, FragmentRow.decode(value)


def test_healthy_store_is_ok(store, run, bucket):
    run(store.create_bucket("bucket-b", OWNER))
    for i in range(5):
        run(put(store, bucket, f"k{i}", content(i, 150 * KiB)))
        run(put(store, "bucket-b", f"k{i}", content(i, 150 * KiB)))
    run(put(store, bucket, "k0", content("over", 10 * KiB)))
    run(store.delete_object(bucket, "k1"))
    report = run(store.check())
    assert report.ok and not report.repaired
    assert report.fragments_checked == run(store.stats()).fragments > 0
    assert run(store.check()).ok


def test_empty_store_is_ok(store, run):
    report = run(store.check())
    assert report.ok and report.fragments_checked == 0


def test_flipped_bytes_are_found_and_reading_fails(store, run, bucket, flip):
    damaged = content("damaged", 200 * KiB)
    run(put(store, bucket, "damaged", damaged))
    packs = store.packs.list()
    assert len(packs) == 1 or store.packs.segmented  # (segments: one per group commit)
    flip(store, packs[0].pack_id, HEADER_SIZE + 1000, 4)  # inside the first fragment of "damaged"
    healthy = content("healthy", 300 * KiB)
    run(put(store, bucket, "healthy", healthy))
    report = run(store.check())
    assert not report.ok and len(report.corrupt_fragments) == 1
    assert report.missing_fragments == () and report.refcount_errors == 0
    with pytest.raises(errors.CorruptFragment):
        run(read(store, bucket, "damaged"))
    # A range that avoids the damaged fragment still reads.
    from dedup.types import ByteRange

    assert_same(run(read(store, bucket, "damaged", ByteRange(150 * KiB, None))), damaged[150 * KiB :])
    assert_same(run(read(store, bucket, "healthy")), healthy)
    assert not run(store.check(verify=False)).corrupt_fragments  # verify=False skips the bytes


def test_corruption_deep_inside_a_large_object_fails_mid_stream(store, run, bucket, flip):
    big = content("big", 10 * MiB)
    run(put(store, bucket, "big", big))
    with store.index.read() as txn:
        rows = [FragmentRow.decode(v) for _, v in txn.cursor(db=store.index.db["fragments"])]
    last = max(rows, key=lambda r: (r.pack, r.offset))
    flip(store, last.pack, last.offset + HEADER_SIZE + 5, 4)
    with pytest.raises(errors.CorruptFragment):
        run(read(store, bucket, "big"))
    assert len(run(store.check()).corrupt_fragments) == 1


def test_damaged_record_header_is_reported(store, run, bucket, flip):
    run(put(store, bucket, "k", content("hdr", 50 * KiB)))
    _digest, row = _any_fragment(store)
    flip(store, row.pack, row.offset + 6, 1)
    assert len(run(store.check()).corrupt_fragments) == 1


@pytest.mark.parametrize("where", [3, 5, 9, 20, 43, 44, 47, HEADER_SIZE, HEADER_SIZE + 777, -1])
def test_one_flipped_byte_anywhere_in_a_record_is_never_served(store, run, bucket, flip, where):
    """Codec, lengths, name, CRC32C or the bytes themselves: the read checks the
    record's CRC32C and that its header names the fragment, and fails."""
    run(put(store, bucket, "k", content("bit", 50 * KiB)))
    digest, row = _any_fragment(store)
    last = HEADER_SIZE + row.stored - 1
    flip(store, row.pack, row.offset + (min(where, last) if where >= 0 else last), 1)
    with pytest.raises(errors.CorruptFragment):
        run(read(store, bucket, "k"))
    assert run(store.check()).corrupt_fragments == (digest.hex(),)


def test_compaction_moves_a_damaged_record_as_it_is(store, run, bucket, flip, local_only):
    """Compaction copies records byte for byte: a damaged one is not given a
    fresh checksum of its damaged bytes, and still fails where it lands."""
    data = content("moved", 200 * KiB)
    run(put(store, bucket, "k", data))
    digest, row = _any_fragment(store)
    flip(store, row.pack, row.offset + HEADER_SIZE + 7, 1)
    run(store.writer.run(gc._seal))
    records = list(scan_records(pack_path(store.packs_dir, row.pack)))
    run(store.writer.run(lambda w: gc._move(w, row.pack, records)))
    with store.index.read() as txn:
        moved = store.index.fragment(txn, digest)
    assert moved is not None and moved.pack != row.pack
    with pytest.raises(errors.CorruptFragment):
        run(read(store, bucket, "k"))
    assert run(store.check()).corrupt_fragments == (digest.hex(),)


def test_missing_fragment_is_reported(store, run, bucket):
    run(put(store, bucket, "k", content("missing", 50 * KiB)))
    digest, _row = _any_fragment(store)
    run(store.writer.run(lambda w: w.txn.delete(digest, db=w.index.db["fragments"])))
    report = run(store.check())
    assert report.missing_fragments == (digest.hex(),)
    with pytest.raises(errors.CorruptFragment):
        run(read(store, bucket, "k"))


def test_repair_fixes_refcounts_and_frees_orphans(store, run, bucket):
    data = content("repair", 100 * KiB)
    run(put(store, bucket, "k", data))
    digest, row = _any_fragment(store)
    orphan = b"\x01" * 32

    def damage(w):
        w.index.put_fragment(w.txn, digest, FragmentRow(row.pack, row.offset, row.stored, row.raw, row.codec, 7))
        w.index.put_fragment(w.txn, orphan, FragmentRow(row.pack, row.offset, row.stored, row.raw, row.codec, 1))

    run(store.writer.run(damage))
    report = run(store.check(verify=False))
    assert report.refcount_errors == 1 and report.orphan_fragments == 1
    assert run(store.check(repair=True)).repaired
    assert run(store.check()).ok
    assert_same(run(read(store, bucket, "k")), data)


def _weights(count: int) -> bytes:
    """float32 values like a trained layer's: stored as byte planes under policy fast."""
    rng = random.Random(7)
    return struct.pack(f"<{count}f", *(rng.gauss(0.0, 0.05) for _ in range(count)))


def test_compressed_fragments_are_checked_by_the_hash_of_their_raw_bytes(store, run, bucket, flip):
    """A flipped byte in a raw plane of a planes record still decodes: only the
    BLAKE3 of the decoded bytes can tell, and check and GET both catch it."""
    run(put(store, bucket, "weights", _weights(75_000)))
    with store.index.read() as txn:
        rows = [FragmentRow.decode(v) for _, v in txn.cursor(db=store.index.db["fragments"])]
    planes = [r for r in rows if r.codec == PLANES4]
    assert planes, [r.codec for r in rows]
    row = planes[0]
    stored = store.packs.read(row.pack, row.offset + HEADER_SIZE, row.stored)
    assert stored[1] & 1 == 0  # plane 0 (low mantissa bytes) is stored raw
    assert run(store.check()).ok
    flip(store, row.pack, row.offset + HEADER_SIZE + 18 + 10, 4)  # 18: the planes header of width 4
    report = run(store.check())
    assert not report.ok and len(report.corrupt_fragments) == 1
    with pytest.raises(errors.CorruptFragment):
        run(read(store, bucket, "weights"))
