"""Pack files: append offsets, truncation to the committed length, record
scans that stop at a torn record and step over punched ones, reads from any
thread, and packs rotating at ``pack_size`` inside a store."""

from __future__ import annotations

import os

import pytest
from storetest import assert_same, can_punch, content, put, read

from dedup.format import HEADER_SIZE, crc32c, pack_header
from dedup.holes import Holes
from dedup.packs import PackFiles, PackWriter, list_pack_ids, pack_path, scan_records
from dedup.types import KiB

pytestmark = pytest.mark.packstores  # every test once per pack store (conftest.py)


def _record(data: bytes, tag: int) -> list[bytes]:
    return [pack_header(0, len(data), len(data), bytes([tag]) * 32, crc32c(data)), data]


def test_append_returns_offsets_and_scan_reads_them_back(tmp_path):
    w = PackWriter(tmp_path, 1, 0)
    bodies = [b"alpha", b"", b"gamma" * 1000]
    offsets = [w.append(_record(b, i)) for i, b in enumerate(bodies)]
    w.sync()
    assert offsets[0] == 0 and offsets[1] == HEADER_SIZE + 5
    assert w.end == sum(HEADER_SIZE + len(b) for b in bodies) == os.path.getsize(pack_path(tmp_path, 1))
    records = list(scan_records(pack_path(tmp_path, 1)))
    assert [(pos, h.digest[0], data) for pos, h, data in records] == [
        (o, i, b) for i, (o, b) in enumerate(zip(offsets, bodies, strict=True))
    ]
    w.close()


def test_many_buffers_in_one_append(tmp_path):
    w = PackWriter(tmp_path, 2, 0)
    buffers = [bytes([i % 256]) * 3 for i in range(2500)]  # more than IOV_MAX
    assert w.append(buffers) == 0
    assert w.end == 7500
    w.close()
    assert PackFiles(tmp_path).read(2, 0, 7500) == b"".join(buffers)


def test_open_truncates_to_the_committed_length(tmp_path):
    w = PackWriter(tmp_path, 1, 0)
    w.append(_record(b"committed", 1))
    committed = w.end
    w.append(_record(b"not committed", 2))
    w.close()
    w = PackWriter(tmp_path, 1, committed)
    assert os.path.getsize(pack_path(tmp_path, 1)) == committed == w.end
    w.close()


def test_scan_stops_at_a_torn_record(tmp_path):
    w = PackWriter(tmp_path, 1, 0)
    w.append(_record(b"whole", 1))
    w.append(_record(b"torn" * 100, 2))
    w.close()
    path = pack_path(tmp_path, 1)
    os.truncate(path, os.path.getsize(path) - 10)
    assert [h.digest[0] for _, h, _ in scan_records(path)] == [1]
    with open(path, "r+b") as f:  # a damaged first header ends the scan at once
        f.write(b"XX")
    assert list(scan_records(path)) == []


def test_reads_and_short_reads(tmp_path):
    w = PackWriter(tmp_path, 5, 0)
    w.append([b"0123456789"])
    w.close()
    files = PackFiles(tmp_path)
    assert files.read(5, 2, 3) == b"234"
    buf = bytearray(4)
    files.readinto(5, 6, memoryview(buf))
    assert buf == b"6789"
    with pytest.raises(OSError):
        files.read(5, 8, 5)
    with pytest.raises(OSError):
        files.readinto(5, 8, memoryview(bytearray(5)))
    with pytest.raises(FileNotFoundError):
        files.read(6, 0, 1)
    files.forget(5)
    files.forget(6)


def test_list_pack_ids_ignores_other_files(tmp_path):
    for name in ("00000002.pack", "0000000a.pack", "junk.pack", "00000003.pack.tmp", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert list_pack_ids(tmp_path) == [2, 10]
    assert pack_path(tmp_path, 255).name == "000000ff.pack"


def test_store_rotates_packs(store, run, bucket, local_only):
    data = content("rotate", 1200 * KiB)
    run(put(store, bucket, "k", data))
    ids = list_pack_ids(store.packs_dir)
    assert len(ids) >= 4 and run(store.stats()).packs == len(ids)
    sealed = [os.path.getsize(pack_path(store.packs_dir, i)) for i in ids[:-1]]
    assert all(size >= store.config.pack_size for size in sealed)
    assert_same(run(read(store, bucket, "k")), data)
    # Every record of every pack is intact and named by a fragment.
    names = {h.digest for i in ids for _, h, _ in scan_records(pack_path(store.packs_dir, i))}
    assert len(names) == run(store.stats()).fragments


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_reading_a_missing_pack_fails_cleanly(tmp_path):
    files = PackFiles(tmp_path)
    with pytest.raises(FileNotFoundError):
        files.read(7, 0, 1)
    import gc

    gc.collect()


# -- punched records ----------------------------------------------------------


def _pack_of(tmp_path, sizes: list[int]) -> tuple[list[int], list[bytes]]:
    """Pack 1 with one record per size (tag i); (offsets, bodies)."""
    w = PackWriter(tmp_path, 1, 0)
    bodies = [content(f"scan{i}", n) for i, n in enumerate(sizes)]
    offsets = [w.append(_record(b, i)) for i, b in enumerate(bodies)]
    w.sync()
    w.close()
    return offsets, bodies


def _zero(path, spans: list[tuple[int, int]]) -> None:
    """Punch the (offset, length) spans where the filesystem can, else write zeros."""
    if can_punch(path.parent):
        Holes(path.parent).punch(path, spans)
    else:
        fd = os.open(path, os.O_WRONLY)
        for offset, length in spans:
            os.pwrite(fd, bytes(length), offset)
        os.close(fd)


SIZES = [5000, 300, 40 * KiB, 0, 9000, 70 * KiB, 100, 12 * KiB]


@pytest.mark.parametrize("dead", [[1, 2], [0], [7], [0, 1, 2, 3, 4, 5, 6], [1, 3, 5, 7], [2, 5]])
def test_scan_steps_over_punched_records(tmp_path, dead):
    offsets, bodies = _pack_of(tmp_path, SIZES)
    path = pack_path(tmp_path, 1)
    _zero(path, [(offsets[i], HEADER_SIZE + len(bodies[i])) for i in dead])
    got = [(pos, h.digest[0], data) for pos, h, data in scan_records(path)]
    assert got == [(offsets[i], i, bodies[i]) for i in range(len(SIZES)) if i not in dead]


def test_scan_steps_over_a_hole_and_stops_at_a_torn_or_garbage_tail(tmp_path):
    offsets, bodies = _pack_of(tmp_path, SIZES)
    path = pack_path(tmp_path, 1)
    _zero(path, [(offsets[5], HEADER_SIZE + len(bodies[5]))])
    size = os.path.getsize(path)
    os.truncate(path, size - 10)  # the last record torn
    assert [h.digest[0] for _, h, _ in scan_records(path)] == [0, 1, 2, 3, 4, 6]
    os.truncate(path, offsets[6])  # the hole is the tail: nothing past it
    assert [h.digest[0] for _, h, _ in scan_records(path)] == [0, 1, 2, 3, 4]
    with open(path, "ab") as f:  # garbage after the hole ends the scan
        f.write(b"\x00" * 100 + b"garbage, not a record header" * 10)
    assert [h.digest[0] for _, h, _ in scan_records(path)] == [0, 1, 2, 3, 4]
    with open(path, "r+b") as f:  # zeros over the first magic: the damaged header still ends it
        f.write(b"\x00\x00")
    assert list(scan_records(path)) == []


def test_punching_merges_neighbours_and_widens_over_zeros(tmp_path):
    """Records freed one at a time come back whole: the partial blocks a punch
    leaves are widened over by the next one when the rest of the block is zeros."""
    if not can_punch(tmp_path):
        pytest.skip("the filesystem of the test directory cannot punch holes")
    offsets, bodies = _pack_of(tmp_path, [3000] * 40)
    path = pack_path(tmp_path, 1)
    before = path.stat().st_blocks * 512
    punch = Holes(tmp_path)
    returned = sum(punch.punch(path, [(offsets[i], HEADER_SIZE + 3000)]) for i in range(1, 39))
    after = path.stat().st_blocks * 512
    assert returned == before - after
    dead = 38 * (HEADER_SIZE + 3000)
    assert dead - 2 * 4096 <= returned <= dead
    assert [h.digest[0] for _, h, _ in scan_records(path)] == [0, 39]
    files = PackFiles(tmp_path)
    assert files.read(1, offsets[1], dead) == bytes(dead)
    assert files.read(1, offsets[0] + HEADER_SIZE, 3000) == bodies[0]
    assert files.read(1, offsets[39] + HEADER_SIZE, 3000) == bodies[39]
