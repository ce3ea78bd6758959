"""Subprocess of the hole-punching crash test: frees an object's fragments and
dies at the first punch, after the transaction that freed them committed.

Usage: ``python holes_crash.py DATA_DIR``. Prints ``GC`` before collecting and
``PUNCH`` when the punch is reached, then SIGKILLs itself (the test seam
``dedup.holes.punch_hole`` is replaced once the store is open: its probe ran).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from storetest import content, put
from test_holes import BIG_PACKS

from dedup import Store, holes
from dedup.types import KiB


def say(word: str) -> None:
    sys.stdout.write(word + "\n")
    sys.stdout.flush()


def crash(fd: int, offset: int, length: int) -> None:
    say("PUNCH")
    os.kill(os.getpid(), signal.SIGKILL)


async def main(path: str) -> None:
    store = await Store.open(path, BIG_PACKS)
    await store.create_bucket("crash", "crash-owner")
    await put(store, "crash", "keep", content("keep", 300 * KiB))
    await put(store, "crash", "drop", content("drop", 1500 * KiB))
    await store.delete_object("crash", "drop")
    holes.punch_hole = crash
    say("GC")
    await store.collect_garbage(grace_seconds=0)
    say("SURVIVED")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
