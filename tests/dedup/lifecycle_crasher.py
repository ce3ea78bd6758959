"""Subprocess of the lifecycle crash test: one lifecycle run, killed part way.

Usage: ``python lifecycle_crasher.py DATA_DIR NOW DAY_SECONDS [INDEX_URL]``

Prints ``ACK <action> <key> <version id>`` for each action once the store
reports it committed (flushed at once, so the parent knows what was done
before its SIGKILL), and ``DONE`` if the run finishes first.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path

from storetest import SMALL

from dedup import Store
from dedup.types import LifecycleAction


def say(action: LifecycleAction) -> None:
    sys.stdout.write(f"ACK {action.action} {action.key} {action.version_id}\n")
    sys.stdout.flush()


async def main(data: Path, now: float, day: float, index: str) -> None:
    store = await Store.open(data, replace(SMALL, lifecycle_day_seconds=day, index=index))
    try:
        await store.run_lifecycle(now=now, on_action=say)
    finally:
        await store.close()
    print("DONE", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else ""))
