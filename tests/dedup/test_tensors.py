"""Tensor layouts (dedup/tensors.py): cuts at tensor boundaries for safetensors
and torch zip checkpoints, and FastCDC for anything that does not hold
together, without ever breaking the ingest pipeline's rules."""

from __future__ import annotations

import io
import json
import random
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from storetest import put, read

from dedup.chunking import ChunkerParams, cut_points
from dedup.tensors import SAFETENSORS, TORCH_ZIP, UNKNOWN, Cutter, name_hash

P = ChunkerParams(8 * 1024, 32 * 1024, 128 * 1024)
FIXTURES = Path(__file__).parent / "fixtures"


def stream(data: bytes, batch: int) -> tuple[Cutter, list[tuple[int, int]]]:
    """Cut ``data`` as the ingest pipeline does: buffers of ``batch`` new
    bytes after the previous buffer's uncut tail; check its rules on the way."""
    cutter = Cutter(P)
    out: list[tuple[int, int]] = []
    pos, tail, i = 0, b"", 0
    while True:
        chunk = data[i : i + batch]
        i += len(chunk)
        final = i >= len(data)
        assert len(tail) <= P.max_size
        view = memoryview(tail + chunk)
        ends, consumed = cutter.cut(view, pos, final)
        prev = 0
        for e in ends:
            assert 0 < e - prev <= P.max_size
            out.append((pos + prev, pos + e))
            prev = e
        assert consumed == prev
        tail = bytes(view[consumed:])
        pos += consumed
        if final:
            break
    assert tail == b"" and pos == len(data)
    return cutter, out


def safetensors(tensors: dict[str, bytes], header: dict | None = None) -> bytes:
    doc: dict = {"__metadata__": {"format": "pt"}}
    pos = 0
    for name, data in tensors.items():
        doc[name] = {"dtype": "BF16", "shape": [len(data) // 2], "data_offsets": [pos, pos + len(data)]}
        pos += len(data)
    if header is not None:
        doc = header
    head = json.dumps(doc).encode()
    return struct.pack("<Q", len(head)) + head + b"".join(tensors.values())


def torch_like_zip(records: dict[str, bytes]) -> bytes:
    """A zip as torch.save writes it: stored records, data descriptors, data aligned to 64."""
    out = bytearray()
    central = bytearray()
    for name, data in records.items():
        raw = name.encode()
        at = len(out)
        pad = (-(at + 30 + len(raw) + 4)) % 64
        extra = struct.pack("<HH", 0xB1FB, pad) + b"Z" * pad
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x808, 0, 0, 0, 0, 0, 0, len(raw), len(extra))
        out += raw + extra + data
        crc = zlib.crc32(data)
        out += struct.pack("<IIII", 0x08074B50, crc, len(data), len(data))
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0x808, 0, 0, 0, crc, len(data),
                               len(data), len(raw), 0, 0, 0, 0, 0, at) + raw
    start = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(records), len(records), len(central), start, 0)
    return bytes(out)


def floats(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return b"".join(struct.pack("<f", rng.gauss(0, 0.02)) for _ in range(n))


def zip_spans(data: bytes) -> dict[str, tuple[int, int]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        spans = {}
        for info in z.infolist():
            nlen, xlen = struct.unpack_from("<HH", data, info.header_offset + 26)
            start = info.header_offset + 30 + nlen + xlen
            spans[info.filename] = (start, start + info.file_size)
        return spans


def pieces(cuts: list[tuple[int, int]], data: bytes, start: int, end: int) -> list[bytes]:
    return [data[a:b] for a, b in cuts if start <= a and b <= end]


@pytest.mark.parametrize("name", ["ckpt-1.pt", "ckpt-2.pt"])
def test_torch_save_output_is_cut_at_its_storages(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    spans = {k: v for k, v in zip_spans(data).items() if "/data/" in k}
    for batch in (777, 20_000, 1 << 22):
        cutter, cuts = stream(data, batch)
        assert cutter.format == TORCH_ZIP
        assert {(t.name, t.start, t.end) for t in cutter.tensors} == {
            (name_hash(k), a, b) for k, (a, b) in spans.items()}
        bounds = {b for _, b in cuts} | {a for a, _ in cuts}
        for a, b in spans.values():
            assert a in bounds and b in bounds


def test_an_unchanged_storage_is_the_same_fragments() -> None:
    a, b = (FIXTURES / "ckpt-1.pt").read_bytes(), (FIXTURES / "ckpt-2.pt").read_bytes()
    (_, ca), (_, cb) = stream(a, 1 << 22), stream(b, 1 << 22)
    sa, sb = zip_spans(a), zip_spans(b)
    same = [k for k in sa if "/data/" in k and a[slice(*sa[k])] == b[slice(*sb[k])]]
    changed = [k for k in sa if "/data/" in k and k not in same]
    assert same and changed
    for k in same:
        assert pieces(ca, a, *sa[k]) == pieces(cb, b, *sb[k])


def test_large_tensors_are_pieces_counted_from_their_start() -> None:
    tensors = {"a": floats(100_000, 1), "b": floats(7, 2), "c": floats(50_000, 3)}
    for data in (safetensors(tensors), torch_like_zip({"archive/data.pkl": b"\x80pickle" * 50,
                                                       **{f"archive/data/{k}": v for k, v in tensors.items()}})):
        cuts_by_batch = []
        for batch in (5000, 70_000, 1 << 22):
            cutter, cuts = stream(data, batch)
            assert cutter.format in (SAFETENSORS, TORCH_ZIP)
            assert len(cutter.tensors) == 3
            for t in cutter.tensors:
                inside = [(a, b) for a, b in cuts if t.start <= a < t.end]
                assert inside[0][0] == t.start and inside[-1][1] == t.end
                assert all(a - t.start == i * P.max_size // 2 for i, (a, _) in enumerate(inside))
            cuts_by_batch.append(cuts)
        assert cuts_by_batch[0] == cuts_by_batch[1] == cuts_by_batch[2]


def test_a_tensor_moved_elsewhere_is_still_the_same_fragments() -> None:
    t = floats(40_000, 5)
    one = safetensors({"x": floats(3, 1), "t": t})
    two = safetensors({"longer-name-first": floats(1000, 2), "t": t})
    (c1, k1), (c2, k2) = stream(one, 1 << 22), stream(two, 1 << 22)
    t1 = next(x for x in c1.tensors if x.name == name_hash("t"))
    t2 = next(x for x in c2.tensors if x.name == name_hash("t"))
    assert t1.start != t2.start
    assert pieces(k1, one, t1.start, t1.end) == pieces(k2, two, t2.start, t2.end)


def hostile_bodies() -> list[tuple[str, bytes]]:
    good = safetensors({"a": floats(30_000, 1), "b": floats(20_000, 2)})
    zipped = torch_like_zip({"archive/data.pkl": b"p" * 300, "archive/data/0": floats(40_000, 3),
                             "archive/data/1": floats(10, 4)})
    head_len = struct.unpack_from("<Q", good)[0]
    bad = [
        ("past the end", safetensors({"a": b"xy" * 10}, {"a": {"data_offsets": [0, 10**9]}})),
        ("overlapping", safetensors({"a": b"xy" * 5000}, {"a": {"data_offsets": [0, 8000]},
                                                         "b": {"data_offsets": [4000, 10000]}})),
        ("negative", safetensors({"a": b"xy" * 50}, {"a": {"data_offsets": [-5, 10]}})),
        ("reversed", safetensors({"a": b"xy" * 50}, {"a": {"data_offsets": [50, 10]}})),
        ("not ints", safetensors({"a": b"xy" * 50}, {"a": {"data_offsets": ["0", 10]}})),
        ("not a dict", struct.pack("<Q", 4) + b"[1,2" + b"\0" * 1000),
        ("huge header length", struct.pack("<Q", 1 << 62) + b"{" + bytes(5000)),
        ("header past the body", good[:100]),
        ("bad json", struct.pack("<Q", 20) + b"{" + b"\xff" * 19 + bytes(300)),
        ("truncated data", good[: head_len + 8 + 70_000]),
        ("zip truncated in a header", zipped[:40]),
        ("zip truncated in data", zipped[:100_000]),
        ("zip, lying descriptor", zipped.replace(struct.pack("<I", 160_000), struct.pack("<I", 150_000))),
        ("zip signature then noise", b"PK\x03\x04" + random.Random(1).randbytes(300_000)),
        ("zip, huge name length", b"PK\x03\x04" + bytes(22) + b"\xff\xff\xff\xff" + bytes(200_000)),
        ("descriptor signatures in the data", torch_like_zip({"archive/data/0": b"PK\x07\x08" * 60_000})),
        ("random", random.Random(2).randbytes(500_000)),
        ("empty tensors", safetensors({"a": b"", "b": b"", "c": floats(20_000, 1)})),
    ]
    return bad


@pytest.mark.parametrize("label,data", hostile_bodies(), ids=[b[0] for b in hostile_bodies()])
def test_hostile_layouts_never_break_the_cuts(label: str, data: bytes) -> None:
    for batch in (1000, 65_536, 1 << 22):
        cutter, cuts = stream(data, batch)
        assert b"".join(data[a:b] for a, b in cuts) == data
        for t in cutter.tensors:
            assert 0 <= t.start <= t.end <= len(data)


def test_other_bodies_are_cut_by_fastcdc_unchanged() -> None:
    data = random.Random(3).randbytes(1_000_000)
    cutter, cuts = stream(data, 1 << 22)
    assert cutter.format == UNKNOWN
    ends, _ = cut_points(memoryview(data), P, True)
    assert [b for _, b in cuts] == ends


@pytest.mark.parametrize("label,data", hostile_bodies()[::3], ids=[b[0] for b in hostile_bodies()[::3]])
def test_hostile_checkpoints_are_stored_exactly(store, run, bucket, label: str, data: bytes) -> None:
    run(put(store, bucket, "k", data, piece=10_000))
    assert run(read(store, bucket, "k")) == data


def test_checkpoints_round_trip_and_share_unchanged_tensors(store, run, bucket) -> None:
    a, b = (FIXTURES / "ckpt-1.pt").read_bytes(), (FIXTURES / "ckpt-2.pt").read_bytes()
    run(put(store, bucket, "a.pt", a))
    before = run(store.stats())
    run(put(store, bucket, "b.pt", b))
    after = run(store.stats())
    assert run(read(store, bucket, "a.pt")) == a and run(read(store, bucket, "b.pt")) == b
    sa, sb = zip_spans(a), zip_spans(b)
    changed = sum(e - s for k, (s, e) in sb.items() if "/data/" in k and a[slice(*sa[k])] != b[s:e])
    # only the changed storage and the bytes around storages are new
    assert after.unique_bytes - before.unique_bytes < changed + 8 * 1024
