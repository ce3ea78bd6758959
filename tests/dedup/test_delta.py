"""Delta fragments (dedup/delta.py, dedup/bases.py): the codec's round trips,
checkpoints stored as deltas on the previous one, bases that outlive their
objects exactly as long as a delta needs them, bounded chains, and check."""

from __future__ import annotations

import json
import struct

import numpy
import pytest
from storetest import SMALL, put, read

from dedup.codecs import decode, encode
from dedup.delta import HEAD, OPS, difference, undo
from dedup.errors import CorruptFragment
from dedup.index import U8_HASH
from dedup.types import StoreConfig


def weights(n: int, seed: int) -> numpy.ndarray:
    return numpy.random.default_rng(seed).normal(0, 0.02, n).astype(numpy.float32)


def bf16(a: numpy.ndarray) -> bytes:
    return (a.view(numpy.uint32) >> 16).astype(numpy.uint16).tobytes()


def safetensors(tensors: dict[str, bytes], dtype: str = "BF16") -> bytes:
    doc: dict = {}
    pos = 0
    for name, data in tensors.items():
        doc[name] = {"dtype": dtype, "shape": [len(data) // 2], "data_offsets": [pos, pos + len(data)]}
        pos += len(data)
    head = json.dumps(doc).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(tensors.values())


def checkpoint(step: int, n: int = 60_000, lr: float = 1e-4) -> bytes:
    """A bf16 model fine-tuned ``step`` steps at a low rate: every weight moves a little."""
    w = weights(n, 1)
    bias = weights(500, 2)
    for s in range(step):
        w = w + numpy.random.default_rng(100 + s).normal(0, lr, n).astype(numpy.float32)
    return safetensors({"layer.weight": bf16(w), "layer.bias": bf16(bias), "head": bf16(weights(9000, 3))})


def kinds() -> list[tuple[str, bytes, bytes, int]]:
    rng = numpy.random.default_rng(7)
    f32 = weights(20_000, 4)
    f16 = f32.astype(numpy.float16)
    return [
        ("random", rng.bytes(50_000), rng.bytes(50_000), 0),
        ("float32", f32.tobytes(), (f32 + rng.normal(0, 1e-4, f32.size).astype(numpy.float32)).tobytes(), 0),
        ("bf16", bf16(f32), bf16(f32 * 1.001), 0),
        ("fp16", f16.tobytes(), (f16 * numpy.float16(1.01)).tobytes(), 0),
        ("misaligned", f32.tobytes()[3:40_004], f32.tobytes()[1:40_002], 3),
        ("odd length", bf16(f32)[:9_999], bf16(f32 * 0.99)[:9_999], 1),
    ]


@pytest.mark.parametrize("label,new,base,offset", kinds(), ids=[k[0] for k in kinds()])
@pytest.mark.parametrize("op", OPS)
def test_the_codec_round_trips(label: str, new: bytes, base: bytes, offset: int, op: int) -> None:
    diff = difference(new, base, op)
    for policy in ("fast", "max"):
        codec, stored = encode(policy, diff, offset)
        out = memoryview(bytearray(len(new)))
        undo(decode(codec, memoryview(stored)), base, op, out)
        assert bytes(out) == new


def bases_rows(store) -> list[tuple[bytes, int]]:
    with store.index.read() as txn:
        return [U8_HASH.unpack(v) for _, v in txn.cursor(db=store.index.db["bases"])]


def test_a_checkpoint_is_stored_as_a_delta_on_the_previous_one(store, run, bucket) -> None:
    one, two = checkpoint(0), checkpoint(1)
    run(put(store, bucket, "run/ckpt-1.safetensors", one))
    alone = run(store.stats()).stored_bytes
    run(put(store, bucket, "run/ckpt-2.safetensors", two))
    stats = run(store.stats())
    assert stats.delta_fragments > 0
    assert stats.stored_bytes - alone < 0.8 * alone  # the second costs far less than the first
    assert run(read(store, bucket, "run/ckpt-1.safetensors")) == one
    assert run(read(store, bucket, "run/ckpt-2.safetensors")) == two
    assert run(store.check()).ok


def test_without_deltas_nothing_is_a_delta(harness, run) -> None:
    store = harness.reopen(StoreConfig(**{**SMALL.__dict__, "delta_depth": 0}))
    run(store.create_bucket("bkt", "o"))
    run(put(store, "bkt", "k1", checkpoint(0)))
    run(put(store, "bkt", "k2", checkpoint(1)))
    assert run(store.stats()).delta_fragments == 0


def test_a_deleted_base_keeps_its_bytes_until_no_delta_needs_them(store, run, bucket) -> None:
    one, two = checkpoint(0), checkpoint(1)
    run(put(store, bucket, "k", one))
    run(put(store, bucket, "k", two))  # overwrites: the first becomes garbage, but a base
    run(store.collect_garbage(grace_seconds=0))
    stats = run(store.stats())
    assert stats.delta_fragments > 0
    assert run(read(store, bucket, "k")) == two
    assert run(store.check()).ok
    run(store.delete_object(bucket, "k"))
    run(store.collect_garbage(grace_seconds=0))
    stats = run(store.stats())
    assert stats.fragments == 0 and stats.unique_bytes == 0 and stats.delta_fragments == 0
    assert bases_rows(store) == []
    assert run(store.check()).ok


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_chains_never_exceed_the_bound(harness, run, depth: int) -> None:
    store = harness.reopen(StoreConfig(**{**SMALL.__dict__, "delta_depth": depth}))
    run(store.create_bucket("bkt", "o"))
    run(store.put_bucket_versioning("bkt", "Enabled"))
    bodies = [checkpoint(i) for i in range(6)]
    for body in bodies:
        run(put(store, "bkt", "model.safetensors", body))
    rows = bases_rows(store)
    assert rows and max(d for _, d in rows) <= depth
    assert max(d for _, d in rows) == depth  # the bound is reached, not just respected
    assert run(store.stats(exact=True)).delta_depths[depth - 1] > 0
    versions = run(store.list_object_versions("bkt")).entries
    got = {run(read(store, "bkt", "model.safetensors", version_id=v.version_id)) for v in versions}
    assert got == set(bodies)
    assert run(store.check()).ok


def test_check_finds_a_delta_whose_base_is_damaged(store, run, bucket, harness) -> None:
    run(put(store, bucket, "a", checkpoint(0)))
    run(put(store, bucket, "b", checkpoint(1)))
    base, _ = bases_rows(store)[0]
    with store.index.read() as txn:
        row = store.index.fragment(txn, base)
    assert row is not None
    path = next((harness.path / "packs").glob(f"{row.pack:08x}.pack"))
    with open(path, "r+b") as f:
        f.seek(row.offset + 48 + row.stored // 2)
        f.write(b"\xff" * 8)
    report = run(store.check())
    assert len(report.corrupt_fragments) >= 2  # the base and every delta on it
    with pytest.raises(CorruptFragment):  # a GET of the delta fails cleanly, serves nothing wrong
        run(read(store, bucket, "b"))


def test_delta_record_names_its_base(store, run, bucket) -> None:
    run(put(store, bucket, "a", checkpoint(0)))
    run(put(store, bucket, "b", checkpoint(1)))
    digest_base = {b for b, _ in bases_rows(store)}
    with store.index.read() as txn:
        deltas = [(k, store.index.fragment(txn, k)) for k, _ in txn.cursor(db=store.index.db["bases"])]
    for _, row in deltas:
        record = store.packs.read(row.pack, row.offset + 48, HEAD.size)
        assert HEAD.unpack(record)[0] in digest_base


def test_the_base_is_found_in_the_previous_checkpoints_directory(store, run, bucket) -> None:
    """One directory per checkpoint, other files beside: the newest checkpoint
    of the same format one level up is the base."""
    run(put(store, bucket, "run/step-1/model.safetensors", checkpoint(0)))
    run(put(store, bucket, "run/step-1/notes.txt", b"not a checkpoint" * 100))
    run(put(store, bucket, "other/step-1/model.safetensors", checkpoint(5)))
    run(put(store, bucket, "run/step-2/model.safetensors", checkpoint(1)))
    with store.index.read() as txn:
        row = store.index.fragment(txn, bases_rows(store)[0][0])
    assert row is not None
    assert run(store.stats()).delta_fragments > 0
    assert run(read(store, bucket, "run/step-2/model.safetensors")) == checkpoint(1)


def test_a_fine_tune_finds_the_model_it_started_from_one_level_further_up(store, run, bucket) -> None:
    run(put(store, bucket, "lm/base/model.safetensors", checkpoint(0)))
    run(put(store, bucket, "lm/finetune/step-1/model.safetensors", checkpoint(1)))
    assert run(store.stats()).delta_fragments > 0


def test_scan_back_walks_keys_before_one_nearest_first(store, run, bucket) -> None:
    from dedup import keys as keymod

    run(store.create_bucket("a-later-bucket", "o"))  # keys of another bucket after this one's
    run(put(store, "a-later-bucket", "0", b"other"))
    names = ["a", "b/1", "b/2", "b/" + "x" * 600, "b/" + "x" * 600 + "y", "c"]
    for name in names:
        run(put(store, bucket, name, name.encode()))
    with store.index.read() as txn:
        bid = int(store.index.bucket(txn, bucket)["id"])
        for i, name in enumerate([*names, "zzz"]):
            got = [k.decode() for k, _ in keymod.scan_back(txn, store.index.db["objects"], bid, name.encode())]
            assert got == names[:i][::-1]


def test_stats_separate_deltas_per_bucket(store, run, bucket) -> None:
    run(store.create_bucket("plain-bucket", "o"))
    run(put(store, "plain-bucket", "x", checkpoint(0)))
    run(put(store, bucket, "a", checkpoint(0)))
    run(put(store, bucket, "b", checkpoint(1)))
    run(put(store, bucket, "c", checkpoint(2)))
    stats = run(store.stats(exact=True))
    by_name = {b.name: b for b in stats.buckets}
    mine, plain = by_name[bucket], by_name["plain-bucket"]
    assert mine.delta_objects == 2 and plain.delta_objects == 0
    assert mine.delta_fragments == stats.delta_fragments > 0
    assert mine.delta_raw_bytes == stats.delta_raw_bytes and mine.delta_stored_bytes == stats.delta_stored_bytes
    assert stats.delta_stored_bytes < stats.delta_raw_bytes / 2
    assert sum(stats.delta_depths) == stats.delta_fragments


def training_state(step: int) -> bytes:
    """A torch.save-like zip of fp32 weights and two optimizer moments in
    tensors of 60 kB, ~720 kB."""
    from test_tensors import torch_like_zip

    w = weights(60_000, 1) + numpy.float32(step * 1e-5)
    records = {"archive/data.pkl": b"\x80\x02pickle" * 40}
    for i, scale in enumerate((1.0, 0.1, 0.01)):
        for j in range(4):
            records[f"archive/data/{i * 4 + j}"] = (w[j * 15_000 : (j + 1) * 15_000] * numpy.float32(scale)).tobytes()
    return torch_like_zip(records)


def test_multipart_checkpoints_are_stored_as_deltas_part_by_part(store, run, bucket) -> None:
    """A training state uploaded in parts (as boto3 does above 8 MiB): each
    part finds its tensors from the first record header in it, and aligns
    them with the base's, whichever of its parts they were in."""
    from storetest import start_upload, upload_part

    def upload(key: str, data: bytes, part: int = 200 * 1024) -> None:
        upload_id = start_upload(store, run, bucket, key)
        parts = []
        for n, at in enumerate(range(0, len(data), part), start=1):
            info, _ = run(upload_part(store, bucket, key, upload_id, n, data[at : at + part]))
            parts.append((n, info.etag))
        run(store.complete_multipart_upload(bucket, key, upload_id, parts))

    one, two = training_state(0), training_state(1)
    upload("run/step-1/state.pt", one)
    alone = run(store.stats()).stored_bytes
    upload("run/step-2/state.pt", two)
    stats = run(store.stats())
    assert stats.delta_fragments > 0
    assert stats.stored_bytes - alone < 0.8 * alone
    assert run(read(store, bucket, "run/step-1/state.pt")) == one
    assert run(read(store, bucket, "run/step-2/state.pt")) == two
    assert run(store.check()).ok
