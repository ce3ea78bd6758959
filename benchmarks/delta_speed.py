"""Delta fragments: bytes stored and PUT/GET speed against the chain depth bound.

    python -m benchmarks.delta_speed --out DIR [--corpus FILES] [--depths 0 1 2 4] [--rounds 3] [--s3]

The engine alone (no HTTP): for each depth bound (0 = deltas off), a fresh
store takes the checkpoint series of the LM fine-tune (benchmarks/gan/lm.py;
made here unless ``--corpus`` names a directory of them, read in upload
order), one PUT per file under its own key, as the savings benchmark uploads
them; then every checkpoint is read back. Figures per depth: stored bytes
(packs + index on the filesystem), the ratio, the PUT time of the checkpoints
that could find a base, and the GET time of every checkpoint, median of
``--rounds`` reads each, rounds interleaved over the depths so that load
on the shared machine hits them alike. Speeds are given as ratios to depth 0
in the same run.

``--s3`` measures the same through servers (``python -m server serve
--delta-depth N``, one per depth, all running, boto3 PutObject / GetObject
over loopback HTTP) instead of the engine alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from dedup import Store
from dedup.types import ObjectMeta, StoreConfig

PIECE = 1 << 20


async def _body(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), PIECE):
        yield data[i : i + PIECE]


async def _put(store: Store, key: str, data: bytes) -> float:
    started = time.perf_counter()
    await store.put_object("bench", key, _body(data), ObjectMeta())
    return time.perf_counter() - started


async def _get(store: Store, key: str) -> float:
    started = time.perf_counter()
    reader = await store.open_object("bench", key)
    try:
        async for _ in reader:
            pass
    finally:
        await reader.aclose()
    return time.perf_counter() - started


def disk_bytes(root: Path) -> int:
    total = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            st = os.lstat(os.path.join(dirpath, name))
            total += min(st.st_size, st.st_blocks * 512)
    return total


async def measure(files: list[tuple[str, bytes]], depths: list[int], rounds: int, work: Path) -> list[dict[str, object]]:
    stores: dict[int, Store] = {}
    puts: dict[int, list[float]] = {d: [] for d in depths}
    gets: dict[int, list[float]] = {d: [] for d in depths}
    for depth in depths:
        store = await Store.open(work / f"depth-{depth}", replace(StoreConfig(), delta_depth=depth))
        await store.create_bucket("bench", "bench")
        stores[depth] = store
    for i, (key, data) in enumerate(files):  # interleaved: each file into every store in turn
        for depth in depths:
            took = await _put(stores[depth], key, data)
            if i:
                puts[depth].append(took)
    for _ in range(rounds):
        for depth in depths:
            gets[depth].append(sum([await _get(stores[depth], key) for key, _ in files]))
    rows = []
    logical = sum(len(d) for _, d in files)
    for depth in depths:
        stats = await stores[depth].stats(exact=True)
        await stores[depth].close()
        disk = disk_bytes(work / f"depth-{depth}")
        rows.append({
            "depth": depth, "disk_bytes": disk, "ratio": round(logical / disk, 3),
            "delta_fragments": stats.delta_fragments, "depths": list(stats.delta_depths),
            "put_s": round(sum(puts[depth]), 3), "get_s": round(statistics.median(gets[depth]), 3),
            "put_mb_s": round(sum(len(d) for _, d in files[1:]) / sum(puts[depth]) / 1e6, 1),
            "get_mb_s": round(logical / statistics.median(gets[depth]) / 1e6, 1),
        })
    base = rows[0]
    for row in rows:
        row["put_speed_vs_off"] = round(float(base["put_s"]) / float(row["put_s"]), 3)  # type: ignore[arg-type]
        row["get_speed_vs_off"] = round(float(base["get_s"]) / float(row["get_s"]), 3)  # type: ignore[arg-type]
    return rows


def measure_s3(files: list[tuple[str, bytes]], depths: list[int], rounds: int,
               work: Path) -> list[dict[str, object]]:
    from benchmarks.child import ChildServer
    from benchmarks.gan.store import Endpoint

    root = Path(__file__).resolve().parent.parent
    servers = {d: ChildServer(f"fragstore-depth-{d}", [sys.executable, "-m", "server", "serve", "--data",
                                                         str(work / f"depth-{d}"), "--delta-depth", str(d)],
                              work / f"server-{d}.log", root) for d in depths}
    try:
        clients = {}
        for d, server in servers.items():
            server.wait_healthy()
            clients[d] = Endpoint(server.url, server.access_key, server.secret_key).client()
            clients[d].create_bucket(Bucket="bench")
        puts: dict[int, float] = dict.fromkeys(depths, 0.0)
        gets: dict[int, list[float]] = {d: [] for d in depths}
        for i, (key, data) in enumerate(files):
            for d in depths:
                started = time.perf_counter()
                clients[d].put_object(Bucket="bench", Key=key, Body=data)
                if i:
                    puts[d] += time.perf_counter() - started
        for _ in range(rounds):
            for d in depths:
                started = time.perf_counter()
                for key, data in files:
                    got = clients[d].get_object(Bucket="bench", Key=key)["Body"].read()
                    assert len(got) == len(data)
                gets[d].append(time.perf_counter() - started)
    finally:
        for server in servers.values():
            server.stop()
    logical = sum(len(d) for _, d in files)
    rows: list[dict[str, object]] = []
    for d in depths:
        disk = disk_bytes(work / f"depth-{d}")
        get = statistics.median(gets[d])
        rows.append({"depth": d, "disk_bytes": disk, "ratio": round(logical / disk, 3), "delta_fragments": "",
                     "depths": "", "put_s": round(puts[d], 3), "get_s": round(get, 3),
                     "put_mb_s": round(sum(len(x) for _, x in files[1:]) / puts[d] / 1e6, 1),
                     "get_mb_s": round(logical / get / 1e6, 1)})
    for row in rows:
        row["put_speed_vs_off"] = round(float(rows[0]["put_s"]) / float(row["put_s"]), 3)  # type: ignore[arg-type]
        row["get_speed_vs_off"] = round(float(rows[0]["get_s"]) / float(row["get_s"]), 3)  # type: ignore[arg-type]
    return rows


def corpus(path: Path | None, suffix: str) -> list[tuple[str, bytes]]:
    if path is None:
        from benchmarks.gan import lm

        made: list[tuple[str, bytes]] = []
        lm.run(lm.LmSizes(), lambda key, data, _managed: made.append((key, data)))
        return [(k, d) for k, d in made if k.endswith(suffix)]
    found = sorted((p for p in path.rglob(f"*{suffix}") if p.is_file()), key=lambda p: p.stat().st_mtime_ns)
    return [(p.relative_to(path).as_posix(), p.read_bytes()) for p in found]


def render(doc: dict[str, object]) -> str:
    lines = [
        "# Delta fragments: stored bytes and speed against the chain depth bound",
        "",
        f"`{doc['command']}`, {doc['date']}; {doc['machine']}",
        "",
        f"{doc['files']} checkpoints ({doc['what']}), {doc['logical']:,} bytes, each PUT into a fresh store "
        f"per depth ({doc['path']}); PUT time of all but the first; GET of all of them, "
        "median of the rounds. Speeds relative to depth 0 (deltas off) in the same run.",
        "",
        "| depth bound | on disk | ratio | delta fragments | by depth | PUT MB/s | PUT vs off | GET MB/s | GET vs off |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in doc["rows"]:  # type: ignore[attr-defined]
        lines.append(f"| {r['depth']} | {r['disk_bytes']:,} | {r['ratio']}x | {r['delta_fragments']} | "
                     f"{r['depths']} | {r['put_mb_s']} | {r['put_speed_vs_off']}x | {r['get_mb_s']} | "
                     f"{r['get_speed_vs_off']}x |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.delta_speed", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--corpus", type=Path, help="a directory of checkpoints (default: made here)")
    p.add_argument("--suffix", default=".safetensors", help="which files of the corpus (default .safetensors)")
    p.add_argument("--depths", type=int, nargs="+", default=[0, 1, 2, 3, 4, 8])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--s3", action="store_true", help="through servers and boto3 instead of the engine alone")
    args = p.parse_args(argv)
    files = corpus(args.corpus, args.suffix)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fragstore-delta-speed-") as tmp:
        if args.s3:
            rows = measure_s3(files, args.depths, args.rounds, Path(tmp))
        else:
            rows = asyncio.run(measure(files, args.depths, args.rounds, Path(tmp)))
    doc: dict[str, object] = {
        "command": f"python -m benchmarks.delta_speed --out {args.out.name} --suffix {args.suffix} "
                   f"--depths {' '.join(map(str, args.depths))} --rounds {args.rounds}" + (" --s3" if args.s3 else ""),
        "path": "servers over loopback HTTP, boto3 PutObject/GetObject" if args.s3 else "the engine alone, no HTTP",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs shared with other work (load {load:.1f} at the start, "
                   f"{os.getloadavg()[0]:.1f} at the end)",
        "what": f"{args.suffix} files of the LM fine-tune, benchmarks/gan/lm.py",
        "files": len(files), "logical": sum(len(d) for _, d in files), "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "delta_speed" + ("" if args.suffix == ".safetensors" else "_" + args.suffix.strip(".").replace(".", "_"))
    stem += "_s3" if args.s3 else ""
    (args.out / f"{stem}.json").write_text(json.dumps(doc, indent=1) + "\n")
    (args.out / f"{stem}.md").write_text(render(doc))
    print(render(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
