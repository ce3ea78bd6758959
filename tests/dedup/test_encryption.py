"""Encryption at rest in the engine (dedup/encryption.py): sealed records,
the keyring and its master key, rotation without rewriting packs, check of
sealed fragments, GC compaction that moves sealed records without their key,
and the `fragstore key rotate` command on a stopped data directory
(dedup/encryption.py, dedup/keyring.py)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from storetest import OWNER, SMALL

from dedup.encryption import OVERHEAD, SEALED, record_key_id
from dedup.errors import (
    CustomerKeyMismatch,
    CustomerKeyRequired,
    EncryptionKeyError,
    WrongMasterKey,
)
from dedup.index import FragmentRow
from dedup.keyring import create_master_key, read_master_key, rotate_master_key
from dedup.store import Store
from dedup.types import SSE_C, SSE_KMS, SSE_S3, ByteRange, Encryption, ObjectMeta
from tests.live_server import LiveServer

ROOT = Path(__file__).resolve().parents[2]
MARKER = b"engine-known-plaintext-51c2"
CONFIG = replace(SMALL, compression="fast")


def body_of(size: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        out += MARKER * rnd.randint(10, 200) + rnd.randbytes(rnd.randint(500, 9000))
    return bytes(out[:size])


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 50000):
        yield data[i : i + 50000]


async def put(store: Store, key: str, data: bytes, enc: Encryption | None) -> int:
    return (await store.put_object("bkt", key, chunks(data), ObjectMeta(), encryption=enc)).new_bytes


async def get(store: Store, key: str, rng: ByteRange | None = None, customer_key: bytes | None = None) -> bytes:
    reader = await store.open_object("bkt", key, rng, customer_key=customer_key)
    try:
        return b"".join([bytes(v) async for v in reader])
    finally:
        await reader.aclose()


def pack_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((data_dir / "packs").glob("*.pack")))


def on_disk(data_dir: Path, needle: bytes) -> list[str]:
    return [str(p) for p in data_dir.rglob("*") if p.is_file() and needle in p.read_bytes()]


async def _open(path: Path, key: bytes | None) -> Store:
    return await Store.open(path, CONFIG, master_key=key)


def test_sealed_records_dedup_and_read(tmp_path: Path) -> None:
    async def main() -> None:
        store = await _open(tmp_path, os.urandom(32))
        await store.create_bucket("bkt", OWNER)
        data = body_of(400000, 1)
        first = await put(store, "a", data, Encryption(SSE_S3))
        again = await put(store, "b", data, Encryption(SSE_S3))
        plain = await put(store, "p", data, None)
        assert first == plain == len(data) and again == 0  # dedup within a domain, none across
        assert await get(store, "a", ByteRange(12345, 300000)) == data[12345:300001]
        with store.index.read() as txn:
            codecs = [FragmentRow.decode(v).codec for _, v in txn.cursor(db=store.index.db["fragments"])]
        assert sum(1 for c in codecs if c & SEALED) == sum(1 for c in codecs if not c & SEALED)
        assert any(c & 0x7F for c in codecs if c & SEALED)  # compressed, then sealed
        report = await store.check()
        assert report.ok and report.fragments_checked == len(codecs)
        await store.close()

    asyncio.run(main())


def test_keys_are_needed_and_checked(tmp_path: Path) -> None:
    master = os.urandom(32)
    customer = os.urandom(32)

    async def main() -> None:
        store = await _open(tmp_path, master)
        await store.create_bucket("bkt", OWNER)
        await put(store, "s3", b"x" * 5000, Encryption(SSE_S3))
        await put(store, "c", b"y" * 5000, Encryption(SSE_C, customer))
        with pytest.raises(CustomerKeyRequired):
            await store.open_object("bkt", "c")
        with pytest.raises(CustomerKeyMismatch):
            await store.open_object("bkt", "c", customer_key=os.urandom(32))
        assert await get(store, "c", customer_key=customer) == b"y" * 5000
        await store.close()
        with pytest.raises(WrongMasterKey):
            await _open(tmp_path, os.urandom(32))
        store = await _open(tmp_path, None)  # opens (GC, plaintext objects), cannot read SSE-S3 ones
        with pytest.raises(EncryptionKeyError):
            await store.open_object("bkt", "s3")
        await store.close()

    asyncio.run(main())
    assert stat.S_IMODE((tmp_path / "keyring").stat().st_mode) == 0o600
    assert master.hex().encode() not in (tmp_path / "keyring").read_bytes()


def test_check_finds_a_damaged_sealed_record(tmp_path: Path) -> None:
    async def main() -> None:
        store = await _open(tmp_path, os.urandom(32))
        await store.create_bucket("bkt", OWNER)
        await put(store, "a", body_of(100000, 2), Encryption(SSE_S3))
        with store.index.read() as txn:
            digest, value = next(iter(txn.cursor(db=store.index.db["fragments"])))
        row = FragmentRow.decode(value)
        path = tmp_path / "packs" / f"{row.pack:08x}.pack"
        with open(path, "r+b") as f:  # one bit of the ciphertext, past the record's header
            f.seek(row.offset + 48 + 40)
            byte = f.read(1)
            f.seek(row.offset + 48 + 40)
            f.write(bytes([byte[0] ^ 1]))
        report = await store.check()
        assert report.corrupt_fragments == (digest.hex(),)
        await store.close()

    asyncio.run(main())


def test_compaction_moves_sealed_records_without_the_key(tmp_path: Path) -> None:
    master = os.urandom(32)
    keep, drop = body_of(300000, 3), body_of(300000, 4)

    async def main() -> None:
        store = await _open(tmp_path, master)
        await store.create_bucket("bkt", OWNER)
        await put(store, "keep", keep, Encryption(SSE_S3))
        await put(store, "drop", drop, Encryption(SSE_S3))
        await store.close()
        store = await Store.open(tmp_path, replace(CONFIG, compact_threshold=1.0), master_key=None)
        await store.delete_object("bkt", "drop")
        report = await store.collect_garbage(grace_seconds=0)
        assert report.packs_compacted > 0
        await store.close()
        store = await _open(tmp_path, master)
        assert await get(store, "keep") == keep
        assert (await store.check()).ok
        await store.close()

    asyncio.run(main())
    assert on_disk(tmp_path, MARKER) == []


def test_key_rotate_command_rewraps_without_rewriting_packs(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    old = create_master_key(data_dir / "master-key")
    data = body_of(200000, 5)

    async def write() -> None:
        store = await _open(data_dir, old)
        await store.create_bucket("bkt", OWNER)
        await put(store, "a", data, Encryption(SSE_S3))
        await store.close()

    asyncio.run(write())
    packs = hashlib.sha256(pack_bytes(data_dir)).hexdigest()
    new_file = tmp_path / "new-key"
    done = subprocess.run([sys.executable, "-m", "server", "key", "rotate", "--data", str(data_dir),
                           "--new-master-key-file", str(new_file)], cwd=ROOT, capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if not k.startswith("FRAGSTORE_")})
    assert done.returncode == 0, done.stderr
    assert "1 data key re-wrapped" in done.stdout
    new = read_master_key(new_file)
    assert stat.S_IMODE(new_file.stat().st_mode) == 0o600
    assert read_master_key(data_dir / "master-key") == new != old
    assert hashlib.sha256(pack_bytes(data_dir)).hexdigest() == packs  # no pack rewritten

    async def read_back() -> None:
        with pytest.raises(WrongMasterKey):
            await _open(data_dir, old)
        store = await _open(data_dir, new)
        assert await get(store, "a") == data
        await store.close()

    asyncio.run(read_back())


def test_kms_domains_are_wrapped_by_their_key(tmp_path: Path) -> None:
    master, team, other = os.urandom(32), os.urandom(32), os.urandom(32)
    data = body_of(150000, 6)

    async def main() -> None:
        store = await Store.open(tmp_path, CONFIG, master_key=master, kms_keys={"team": team})
        await store.create_bucket("bkt", OWNER)
        assert await put(store, "k", data, Encryption(SSE_KMS, kms_key="team")) == len(data)
        assert await put(store, "k2", data, Encryption(SSE_KMS, kms_key="team")) == 0
        assert await put(store, "s", data, Encryption(SSE_S3)) == len(data)
        with pytest.raises(EncryptionKeyError):
            await put(store, "x", data, Encryption(SSE_KMS, kms_key="unknown"))
        await store.close()
        assert rotate_master_key(tmp_path, master, other) == 1  # the SSE-S3 key; KMS keys wrap their own
        store = await Store.open(tmp_path, CONFIG, master_key=other, kms_keys={"team": team})
        assert await get(store, "k", ByteRange(100, 120000)) == data[100:120001]
        assert await get(store, "s") == data
        assert (await store.check()).ok
        await store.close()
        store = await Store.open(tmp_path, CONFIG, master_key=other)  # the KMS key withdrawn
        with pytest.raises(EncryptionKeyError):
            await store.open_object("bkt", "k")
        assert await get(store, "s") == data
        await store.close()

    asyncio.run(main())


def test_savings_with_sse_s3_equal_those_without(tmp_path: Path) -> None:
    """A small savings run: checkpoint-like versions (a base, edited in place,
    grown, shifted) stored plaintext in one store and SSE-S3 in another. The
    dedup figures are the same; only the stored bytes differ, by each sealed
    record's fixed overhead."""
    base = body_of(600000, 9)
    rnd = random.Random(9)
    versions = [base]
    for _ in range(5):
        v = bytearray(versions[-1])
        at = rnd.randrange(len(v) - 5000)
        v[at : at + 4000] = rnd.randbytes(4000)
        versions.append(bytes(v) + rnd.randbytes(20000))
    versions.append(rnd.randbytes(777) + base)  # shifted by a prefix

    async def stats_of(path: Path, enc: Encryption | None) -> tuple[int, int, int, int]:
        store = await _open(path, os.urandom(32))
        await store.create_bucket("bkt", OWNER)
        for i, body in enumerate(versions):
            await put(store, f"v{i}", body, enc)
        stats = await store.stats()
        await store.close()
        return stats.logical_bytes, stats.unique_bytes, stats.fragments, stats.stored_bytes

    plain = asyncio.run(stats_of(tmp_path / "plain", None))
    sealed = asyncio.run(stats_of(tmp_path / "sse", Encryption(SSE_S3)))
    assert plain[:3] == sealed[:3]  # logical, unique (dedup) and fragment count: identical
    assert plain[1] < plain[0] / 3  # and dedup did save
    assert sealed[3] - plain[3] == OVERHEAD * plain[2]  # stored: +32 B per fragment, compression the same


def test_check_command_needs_the_master_key(tmp_path: Path) -> None:
    """`fragstore check` on a stopped directory verifies sealed fragments with
    the master key it finds, and says so plainly when it has none."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    key_file = tmp_path / "elsewhere.key"
    key = create_master_key(key_file)

    async def write() -> None:
        store = await _open(data_dir, key)
        await store.create_bucket("bkt", OWNER)
        await put(store, "a", body_of(100000, 8), Encryption(SSE_S3))
        await store.close()

    asyncio.run(write())
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAGSTORE_")}

    def check(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "server", "check", "--data", str(data_dir), *extra],
                              cwd=ROOT, capture_output=True, text=True, env=env)

    without = check()
    assert without.returncode == 2 and "needs the master key" in without.stderr, without.stderr
    with_key = check("--master-key-file", str(key_file))
    assert with_key.returncode == 0, with_key.stdout + with_key.stderr


def test_a_domain_gets_a_new_data_key_before_its_nonces_run_out(tmp_path: Path) -> None:
    """With seal_limit records sealed under a data key, the next write gets a
    new one (published in the keyring first); names, and so dedup, do not
    change, every record still opens, and rotation re-wraps every key."""
    master, other = os.urandom(32), os.urandom(32)
    config = replace(CONFIG, seal_limit=5)
    bodies = [body_of(60000, 100 + i) for i in range(4)]

    async def main() -> None:
        store = await Store.open(tmp_path, config, master_key=master)
        await store.create_bucket("bkt", OWNER)
        for i, body in enumerate(bodies):
            assert await put(store, f"o{i}", body, Encryption(SSE_S3)) == len(body)
        keys = {e["id"] for e in json.loads((tmp_path / "keyring").read_text())["keys"]}
        assert len(keys) >= 2
        with store.index.read() as txn:
            used = {record_key_id(bytes(store.packs.read(r.pack, r.offset + 48, 4)))
                    for r in (FragmentRow.decode(v) for _, v in txn.cursor(db=store.index.db["fragments"]))}
        assert used == keys  # records under the old key and under the new one
        assert await put(store, "again", bodies[0], Encryption(SSE_S3)) == 0  # dedup across data keys
        for i, body in enumerate(bodies):
            assert await get(store, f"o{i}", ByteRange(1000, 40000)) == body[1000:40001]
        assert (await store.check()).ok
        await store.close()
        assert rotate_master_key(tmp_path, master, other) == len(keys)
        store = await Store.open(tmp_path, config, master_key=other)
        for i, body in enumerate(bodies):
            assert await get(store, f"o{i}") == body
        await store.close()

    asyncio.run(main())


@pytest.mark.parametrize("pack_store", ["s3"], indirect=True)
def test_packs_in_s3_hold_no_plaintext(tmp_path: Path, pack_settings: dict[str, Any],
                                       pack_server: LiveServer) -> None:
    """With packs in an S3 store, the segments sent there carry sealed records
    only; the same bytes stored plaintext are found there (the scan can fail)."""
    needle = MARKER + os.urandom(8).hex().encode()
    data = needle * 3000 + os.urandom(50000)
    config = replace(CONFIG, **pack_settings)
    prefix = pack_settings["packs"].split("/", 3)[3]
    s3 = pack_server.client()

    def in_segments() -> bool:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="packs", Prefix=prefix).get("Contents", [])]
        return any(needle in s3.get_object(Bucket="packs", Key=k)["Body"].read() for k in keys)

    async def main(enc: Encryption | None, key: str) -> None:
        store = await Store.open(tmp_path / "data", replace(config, compression="off"), master_key=master)
        if enc is not None:
            await store.create_bucket("bkt", OWNER)
        await put(store, key, data, enc)
        assert await get(store, key, ByteRange(10, 20000)) == data[10:20001]
        await store.close()

    master = os.urandom(32)
    asyncio.run(main(Encryption(SSE_S3), "sealed"))
    assert not in_segments() and on_disk(tmp_path / "data", needle) == []
    asyncio.run(main(None, "plain"))
    assert in_segments()


def test_no_delta_in_an_encryption_domain(tmp_path: Path) -> None:
    """Checkpoints that plaintext stores as deltas on the previous one are
    stored whole (compressed, sealed) under SSE-S3: a sealed fragment never
    stands on a base, and the same checkpoints read back."""
    from test_delta import checkpoint

    one, two = checkpoint(0), checkpoint(1)

    async def run_with(enc: Encryption | None, path: Path) -> int:
        store = await _open(path, os.urandom(32))
        await store.create_bucket("bkt", OWNER)
        await put(store, "run/ckpt-1.safetensors", one, enc)
        await put(store, "run/ckpt-2.safetensors", two, enc)
        assert await get(store, "run/ckpt-2.safetensors", ByteRange(100, 50000)) == two[100:50001]
        assert (await store.check()).ok
        deltas = (await store.stats()).delta_fragments
        await store.close()
        return deltas

    assert asyncio.run(run_with(None, tmp_path / "plain")) > 0  # the control: deltas happen here
    assert asyncio.run(run_with(Encryption(SSE_S3), tmp_path / "sse")) == 0


# -- processes sharing one data directory (gateways on one index, --workers) ------------------------
_MAKE_DOMAIN = """
import sys
from pathlib import Path
from dedup.keyring import Keyring, SSE_S3_DOMAIN
ring = Keyring(Path(sys.argv[1]), bytes.fromhex(sys.argv[2]))
sys.stdin.readline()  # every process has read the (empty) keyring: now all make the domain at once
print(ring.domain(SSE_S3_DOMAIN).key_id)
"""


def test_processes_sharing_a_directory_make_one_key_per_domain(tmp_path: Path) -> None:
    from dedup.keyring import SSE_S3_DOMAIN, Keyring

    master = os.urandom(32)
    procs = [subprocess.Popen([sys.executable, "-c", _MAKE_DOMAIN, str(tmp_path), master.hex()],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(4)]
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    ids = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert ids == {"1"}, ids  # one key, taken by all; none lost to a rewrite of the file
    assert len(json.loads((tmp_path / "keyring").read_text())["keys"]) == 1

    # a key another process adds later (a roll) is found when a record names it
    early, late = Keyring(tmp_path, master), Keyring(tmp_path, master)
    rolled = late.roll(late.domain(SSE_S3_DOMAIN))
    assert early.by_id(rolled.key_id).name_key == rolled.name_key  # same domain: same names, dedup unchanged
