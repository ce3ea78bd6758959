"""Engine benchmark: PUT/GET throughput, CPU per byte and peak RSS, without HTTP.

Each configuration runs in a fresh subprocess (so peak RSS is its own): it
streams ``--size`` bytes of new data into a fresh store, the same bytes again
under another key (duplicate data), and reads the first object back. The input
is a file of random bytes made once (BLAKE3 XOF output) and read in 1 MiB
pieces, as a socket would deliver them; the cost of reading it is measured
alone and subtracted. CPU is process time (all threads).

    python benchmarks/engine.py [--size-mib 1024] [--avg-kib 16 32 64] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator

import blake3

PIECE = 1 << 20


def make_input(path: str, size: int) -> None:
    xof = blake3.blake3(b"fragstore engine benchmark")
    with open(path, "wb") as f:
        for pos in range(0, size, PIECE):
            f.write(xof.digest(length=min(PIECE, size - pos), seek=pos))


async def generate(path: str) -> AsyncIterator[bytes]:
    with open(path, "rb", buffering=0) as f:
        while piece := f.read(PIECE):
            yield piece


def cpu() -> float:
    t = os.times()
    return t.user + t.system


async def measure(path: str, avg: int) -> dict[str, float]:
    from dedup import ObjectMeta, Store, StoreConfig

    size = os.path.getsize(path)

    async def drain_gen() -> None:
        async for _ in generate(path):
            pass

    c0, w0 = cpu(), time.perf_counter()
    await drain_gen()
    gen_cpu, gen_wall = cpu() - c0, time.perf_counter() - w0
    out: dict[str, float] = {"avg_kib": avg // 1024, "size_mib": size >> 20}
    with tempfile.TemporaryDirectory() as d:
        config = StoreConfig(min_fragment=avg // 4, avg_fragment=avg, max_fragment=avg * 4)
        store = await Store.open(d, config)
        await store.create_bucket("bench", "bench")
        for label, key in (("new", "a"), ("dup", "b")):
            c0, w0 = cpu(), time.perf_counter()
            await store.put_object("bench", key, generate(path), ObjectMeta())
            wall, used = time.perf_counter() - w0 - gen_wall, cpu() - c0 - gen_cpu
            out[f"put_{label}_mb_s"] = size / wall / 1e6
            out[f"put_{label}_cpu_ns_b"] = used / size * 1e9
        c0, w0 = cpu(), time.perf_counter()
        reader = await store.open_object("bench", "a")
        async for _ in reader:
            pass
        out["get_mb_s"] = size / (time.perf_counter() - w0) / 1e6
        out["get_cpu_ns_b"] = (cpu() - c0) / size * 1e9
        stats = await store.stats()
        out["fragments"] = stats.fragments
        out["index_mib"] = stats.index_bytes / 2**20
        await store.close()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--avg-kib", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--json", help="also write the rows here")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child mode: one avg size
    ap.add_argument("--input", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(measure(args.input, args.one * 1024))))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "input")
        make_input(path, args.size_mib << 20)
        for avg in args.avg_kib:
            res = subprocess.run(
                [sys.executable, __file__, "--input", path, "--one", str(avg)],
                check=True, capture_output=True, text=True,
            )
            rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    cols = ["avg_kib", "put_new_mb_s", "put_new_cpu_ns_b", "put_dup_mb_s", "put_dup_cpu_ns_b",
            "get_mb_s", "get_cpu_ns_b", "fragments", "index_mib", "peak_rss_mb"]
    print(f"engine benchmark: {args.size_mib} MiB object, {os.cpu_count()} cores")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(f"{row[c]:.2f}" if isinstance(row[c], float) else str(row[c]) for c in cols) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
