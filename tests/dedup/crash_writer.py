"""Subprocess of the crash test: writes to a store until it is killed.

Usage: ``python crash_writer.py DATA_DIR SEED [--gc]``

Each operation is announced before it starts (``TRY ...``) and acknowledged
after its ``await`` returned (``ACK ...``), one line each, flushed at once, so
the parent knows exactly which writes the store acknowledged before SIGKILL.
Lines: ``TRY PUT <key> <content id>``, ``TRY DEL <key>``,
``TRY COPY <src> <dst> <content id>``; an ACK line repeats its TRY line and,
for PUT and COPY, adds the ETag the store returned (the body's MD5). Contents are regenerated from
their id with :func:`body` (some ids repeat, so objects dedup).
Operations on distinct keys run a few at a time (group commits).
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Awaitable

from storetest import SMALL, content, stream

from dedup import ObjectMeta, Store
from dedup.types import KiB

BUCKET = "crash"
KEYS = 16
CONTENTS = 40
SIZES = (0, 1, 100, 5 * KiB, 50 * KiB, 200 * KiB, 700 * KiB, 1500 * KiB)


def body(content_id: int) -> bytes:
    """The bytes of content ``content_id``: its size cycles through SIZES."""
    return content(f"crash-{content_id}", SIZES[content_id % len(SIZES)])


def say(*words: object) -> None:
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


async def _put(store: Store, key: str, cid: int) -> None:
    data = body(cid)
    say("TRY", "PUT", key, cid)
    pieces = [data[i : i + 37 * KiB] for i in range(0, len(data), 37 * KiB)]
    result = await store.put_object(BUCKET, key, stream(pieces), ObjectMeta())
    say("ACK", "PUT", key, cid, result.info.etag)


async def _delete(store: Store, key: str) -> None:
    say("TRY", "DEL", key)
    await store.delete_object(BUCKET, key)
    say("ACK", "DEL", key)


async def _copy(store: Store, src: str, dst: str, cid: int) -> None:
    say("TRY", "COPY", src, dst, cid)
    info = await store.copy_object(BUCKET, src, BUCKET, dst)
    say("ACK", "COPY", src, dst, cid, info.etag)


async def main(path: str, seed: int, gc: bool) -> None:
    rng = random.Random(seed)
    store = await Store.open(path, SMALL)
    if not [b for b in await store.list_buckets() if b.name == BUCKET]:
        await store.create_bucket(BUCKET, "crash-owner")
    # What this process knows it wrote (to copy only sources it is sure of).
    mine: dict[str, int] = {}
    say("READY")
    while True:
        keys = rng.sample([f"obj/{i:02d}" for i in range(KEYS)], rng.randint(1, 4))
        jobs: list[Awaitable[None]] = []
        for key in keys:
            roll = rng.random()
            if roll < 0.15:
                jobs.append(_delete(store, key))
                mine.pop(key, None)
            elif roll < 0.25 and mine and (src := rng.choice(sorted(mine))) not in keys:
                jobs.append(_copy(store, src, key, mine[src]))
                mine[key] = mine[src]
            else:
                cid = rng.randrange(CONTENTS)
                jobs.append(_put(store, key, cid))
                mine[key] = cid
        await asyncio.gather(*jobs)
        if gc and rng.random() < 0.2:
            say("TRY", "GC")
            await store.collect_garbage(grace_seconds=0)
            say("ACK", "GC")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), "--gc" in sys.argv[3:]))
