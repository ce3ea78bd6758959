"""Subprocess of the crash test: writes to a store until it is killed.

Usage: ``python crash_writer.py DATA_DIR SEED [--gc] [--versioned]``

Each operation is announced before it starts (``TRY ...``) and acknowledged
after its ``await`` returned (``ACK ...``), one line each, flushed at once, so
the parent knows exactly which writes the store acknowledged before SIGKILL.
Lines: ``TRY PUT <key> <content id>``, ``TRY DEL <key>``,
``TRY COPY <src> <dst> <content id>``; an ACK line repeats its TRY line and,
for PUT and COPY, adds the ETag the store returned (the body's MD5). Contents are regenerated from
their id with :func:`body` (some ids repeat, so objects dedup; one size in
eight is a bf16 safetensors checkpoint of a drifting model, so that new
fragments are stored as deltas on an older checkpoint's, bases are freed by
GC under them and deltas are in flight at the kill).
Operations on distinct keys run a few at a time (group commits).

With ``--versioned`` the bucket has versioning enabled: ACK lines of PUT, COPY
and DEL end with the version id the store returned (a DEL writes a delete
marker), and ``TRY DELVER <key> <version id>`` / ``ACK DELVER ...`` remove one
version that this process saw acknowledged or found listed when it started.
"""

from __future__ import annotations

import asyncio
import json
import random
import struct
import sys
from collections.abc import Awaitable
from functools import lru_cache

from storetest import SMALL, content, stream

from dedup import ObjectMeta, Store
from dedup.types import KiB

BUCKET = "crash"
KEYS = 16
CONTENTS = 40
SIZES = (0, 1, 100, 5 * KiB, 50 * KiB, 200 * KiB, 700 * KiB, 1500 * KiB)


CHECKPOINT = 6  # content ids of this residue (mod len(SIZES)) are checkpoints


def body(content_id: int) -> bytes:
    """The bytes of content ``content_id``: its size cycles through SIZES."""
    if content_id % len(SIZES) == CHECKPOINT:
        return checkpoint(content_id)
    return content(f"crash-{content_id}", SIZES[content_id % len(SIZES)])


@lru_cache(maxsize=8)
def checkpoint(step: int) -> bytes:
    """A bf16 safetensors file of ~700 KiB: one model's weights after ``step``
    small steps (neighbouring steps differ a little in every weight). numpy is
    imported on first use: the writer must start fast, it is killed early."""
    import numpy

    weights = numpy.random.default_rng(0).normal(0, 0.02, 350 * 1024 // 2 * 2).astype(numpy.float32)
    weights *= numpy.float32(1 + step * 1e-3)
    bf16 = (weights.view(numpy.uint32) >> 16).astype(numpy.uint16).tobytes()
    half = len(bf16) // 2
    head = json.dumps({"a": {"dtype": "BF16", "shape": [half // 2], "data_offsets": [0, half]},
                       "b": {"dtype": "BF16", "shape": [half // 2], "data_offsets": [half, 2 * half]}}).encode()
    return struct.pack("<Q", len(head)) + head + bf16


def say(*words: object) -> None:
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


def _version(info_version: str, versioned: bool) -> list[str]:
    return [info_version] if versioned else []


async def _put(store: Store, key: str, cid: int, versions: dict[str, list[str]], versioned: bool) -> None:
    data = body(cid)
    say("TRY", "PUT", key, cid)
    pieces = [data[i : i + 37 * KiB] for i in range(0, len(data), 37 * KiB)]
    result = await store.put_object(BUCKET, key, stream(pieces), ObjectMeta())
    versions.setdefault(key, []).append(result.info.version_id)
    say("ACK", "PUT", key, cid, result.info.etag, *_version(result.info.version_id, versioned))


async def _delete(store: Store, key: str, versions: dict[str, list[str]], versioned: bool) -> None:
    say("TRY", "DEL", key)
    result = await store.delete_object(BUCKET, key)
    if result.version_id is not None:
        versions.setdefault(key, []).append(result.version_id)
    say("ACK", "DEL", key, *_version(str(result.version_id), versioned))


async def _delete_version(store: Store, key: str, version_id: str) -> None:
    say("TRY", "DELVER", key, version_id)
    await store.delete_object(BUCKET, key, version_id=version_id)
    say("ACK", "DELVER", key, version_id)


async def _copy(store: Store, src: str, dst: str, cid: int, versions: dict[str, list[str]], versioned: bool) -> None:
    say("TRY", "COPY", src, dst, cid)
    _, info = await store.copy_object(BUCKET, src, BUCKET, dst)
    versions.setdefault(dst, []).append(info.version_id)
    say("ACK", "COPY", src, dst, cid, info.etag, *_version(info.version_id, versioned))


async def main(path: str, seed: int, gc: bool, versioned: bool) -> None:
    rng = random.Random(seed)
    store = await Store.open(path, SMALL)
    if not [b for b in await store.list_buckets() if b.name == BUCKET]:
        await store.create_bucket(BUCKET, "crash-owner", "Enabled" if versioned else "")
    # What this process knows it wrote (to copy only sources it is sure of).
    mine: dict[str, int] = {}
    versions: dict[str, list[str]] = {}  # version ids known to exist, per key
    for entry in (await store.list_object_versions(BUCKET, max_keys=100000)).entries if versioned else ():
        versions.setdefault(entry.key, []).append(entry.version_id)
    say("READY")
    while True:
        keys = rng.sample([f"obj/{i:02d}" for i in range(KEYS)], rng.randint(1, 4))
        jobs: list[Awaitable[None]] = []
        for key in keys:
            roll = rng.random()
            if versioned and roll < 0.12 and versions.get(key):
                known = versions[key]
                jobs.append(_delete_version(store, key, known.pop(rng.randrange(len(known)))))
                mine.pop(key, None)
            elif roll < 0.15:
                jobs.append(_delete(store, key, versions, versioned))
                mine.pop(key, None)
            elif roll < 0.25 and mine and (src := rng.choice(sorted(mine))) not in keys:
                jobs.append(_copy(store, src, key, mine[src], versions, versioned))
                mine[key] = mine[src]
            else:
                cid = rng.randrange(CONTENTS)
                jobs.append(_put(store, key, cid, versions, versioned))
                mine[key] = cid
        await asyncio.gather(*jobs)
        if gc and rng.random() < 0.2:
            say("TRY", "GC")
            await store.collect_garbage(grace_seconds=0)
            say("ACK", "GC")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), "--gc" in sys.argv[3:], "--versioned" in sys.argv[3:]))
