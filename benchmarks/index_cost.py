"""What the index in PostgreSQL costs against LMDB, engine alone (no HTTP).

One store per index kind (LMDB in a temporary data directory; a throw-away
PostgreSQL from tests/services, on this machine, over TCP to 127.0.0.1),
measured in interleaved rounds so both see the same load on a shared machine:

- small PUTs: ``--small`` objects of 4 KiB, one after another (each is one
  group commit: lookups, rows, the key), then GETs (HEAD + read) and a
  LIST of them all;
- a big PUT of ``--big-mib`` MiB of new data, the same again (duplicate: every
  fragment a lookup and an incref), and a GET of it.

Prints seconds (median of the rounds) and PostgreSQL / LMDB ratios.

    python benchmarks/index_cost.py [--small 300] [--big-mib 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dedup import ObjectMeta, Store, StoreConfig  # noqa: E402

PIECE = 1 << 20


async def body(data: bytes) -> AsyncIterator[bytes]:
    for pos in range(0, len(data), PIECE):
        yield data[pos : pos + PIECE]


async def drain(store: Store, bucket: str, key: str) -> int:
    reader = await store.open_object(bucket, key)
    n = 0
    try:
        async for chunk in reader:
            n += len(chunk)
    finally:
        await reader.aclose()
    return n


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    t0 = time.perf_counter()
    await fn()
    return time.perf_counter() - t0


async def one_round(store: Store, small: int, big: bytes, tag: str) -> dict[str, float]:
    bucket = f"b-{tag}"
    await store.create_bucket(bucket, "owner")
    blobs = [os.urandom(4096) for _ in range(small)]

    async def puts() -> None:
        for i, blob in enumerate(blobs):
            await store.put_object(bucket, f"k/{i:06d}", body(blob), ObjectMeta())

    async def gets() -> None:
        for i in range(small):
            await store.head_object(bucket, f"k/{i:06d}")
            await drain(store, bucket, f"k/{i:06d}")

    async def listing() -> None:
        token = None
        while True:
            page = await store.list_objects(bucket, after=token or "", max_keys=1000)
            if not page.is_truncated:
                return
            token = page.next_marker

    out = {
        "small PUT": await timed(puts),
        "small GET": await timed(gets),
        "LIST": await timed(listing),
        "big PUT new": await timed(lambda: store.put_object(bucket, "big", body(big), ObjectMeta())),
        "big PUT dup": await timed(lambda: store.put_object(bucket, "big2", body(big), ObjectMeta())),
        "big GET": await timed(lambda: drain(store, bucket, "big")),
    }
    return out


async def main(args: argparse.Namespace) -> None:
    from tests.services.postgres import start_postgres

    pg = start_postgres()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            stores = {
                "lmdb": await Store.open(Path(tmp) / "lmdb", StoreConfig()),
                "postgresql": await Store.open(Path(tmp) / "pg", StoreConfig(index=pg.dsn)),
            }
            results: dict[str, dict[str, list[float]]] = {k: {} for k in stores}
            for r in range(args.rounds):
                big = os.urandom(args.big_mib << 20)
                for kind, store in (stores.items() if r % 2 == 0 else reversed(stores.items())):
                    got = await one_round(store, args.small, big, f"{r}")
                    for name, seconds in got.items():
                        results[kind].setdefault(name, []).append(seconds)
            for store in stores.values():
                await store.close()
    finally:
        pg.stop()
    print(f"index cost, engine alone: {args.small} x 4 KiB, {args.big_mib} MiB; median of {args.rounds} "
          "interleaved rounds (shared 2-core machine: read the ratios)")
    print("| operation | LMDB s | PostgreSQL s | PostgreSQL / LMDB |\n|---|---|---|---|")
    for name in results["lmdb"]:
        a, b = statistics.median(results["lmdb"][name]), statistics.median(results["postgresql"][name])
        print(f"| {name} | {a:.3f} | {b:.3f} | {b / a:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--big-mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
