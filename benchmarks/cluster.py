"""Cluster mode against embedded: S3 throughput of 1, 2 and 4 gateways on one
PostgreSQL index (and one shared data directory), and server CPU per byte,
with the embedded server (LMDB, one process) measured in the same run.

Each configuration starts its servers fresh (``fragstore serve``; the cluster
ones with ``--index`` on a new database of one throw-away PostgreSQL from
tests/services), then drives them with boto3 from ``--threads`` client threads
spread round-robin over the gateways:

* PUT MB/s and GET MB/s of ``--objects`` new objects of ``--size-kib`` KiB;
* small-object PUT/s and GET/s (``--small`` objects of 4 KiB);
* server CPU: utime + stime of the gateways' processes and, in cluster mode,
  of PostgreSQL's (postmaster and backends), per byte (ns/B) of the big
  objects and per small operation (us/op).

Configurations run in rotated order over ``--reps`` repetitions; the table
gives medians. Figures, not a timed test: on a shared 2-core machine 4
gateways cannot scale and the ratios to embedded are what to read.

    python benchmarks/cluster.py [--gateways 1 2 4] [--reps 2] [--objects 48] [--size-kib 1024]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.live_server import LiveServer, start_server  # noqa: E402
from tests.services.postgres import Postgres, start_postgres  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    return total


def postgres_pids(pg: Postgres) -> list[int]:
    return pg.pids()


class Setup:
    """Servers of one configuration and the processes whose CPU counts."""

    def __init__(self, name: str, servers: list[LiveServer], extra_pids: Callable[[], list[int]]) -> None:
        self.name = name
        self.servers = servers
        self.extra_pids = extra_pids
        self.clients = [s.client() for s in servers]

    def pids(self) -> list[int]:
        return [s.process.pid for s in self.servers] + self.extra_pids()

    def stop(self) -> None:
        for s in self.servers:
            s.stop()


def start(name: str, root: Path, gateways: int, pg: Postgres | None) -> Setup:
    data = root / f"{name}-{uuid.uuid4().hex[:6]}"
    args = ["--gc-interval", "0", "--lifecycle-interval", "0", "--history-interval", "0", "--log-level", "warning"]
    if pg is None:
        return Setup(name, [start_server(data, extra_args=args)], list)
    dsn = pg.createdb(f"bench_{uuid.uuid4().hex[:10]}")
    servers = [start_server(data, extra_args=[*args, "--index", dsn], log_path=root / f"{data.name}-{n}.log")
               for n in range(gateways)]
    return Setup(name, servers, lambda: postgres_pids(pg))


def run_load(setup: Setup, threads: int, bodies: list[bytes], op: str, bucket: str) -> tuple[float, float]:
    """(seconds, server CPU seconds) of one PUT or GET of each body, spread over the gateways."""

    def one(i: int) -> None:
        client = setup.clients[i % len(setup.clients)]
        if op == "PUT":
            client.put_object(Bucket=bucket, Key=f"k{i:06d}", Body=bodies[i])
        else:
            assert len(client.get_object(Bucket=bucket, Key=f"k{i:06d}")["Body"].read()) == len(bodies[i])

    c0, t0 = cpu_seconds(setup.pids()), time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(len(bodies))))
    return time.perf_counter() - t0, cpu_seconds(setup.pids()) - c0


def measure(setup: Setup, args: argparse.Namespace) -> dict[str, float]:
    big = [os.urandom(args.size_kib * 1024) for _ in range(args.objects)]
    small = [os.urandom(4096) for _ in range(args.small)]
    out: dict[str, float] = {}
    for label, bodies in (("big", big), ("small", small)):
        bucket = f"{label}-{uuid.uuid4().hex[:8]}"
        setup.clients[0].create_bucket(Bucket=bucket)
        nbytes = sum(len(b) for b in bodies)
        for op in ("PUT", "GET"):
            seconds, cpu = run_load(setup, args.threads, bodies, op, bucket)
            if label == "big":
                out[f"{op} MB/s"] = nbytes / seconds / 1e6
                out[f"{op} CPU ns/B"] = cpu * 1e9 / nbytes
            else:
                out[f"small {op}/s"] = len(bodies) / seconds
                out[f"small {op} CPU us/op"] = cpu * 1e6 / len(bodies)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateways", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--objects", type=int, default=48)
    parser.add_argument("--size-kib", type=int, default=1024)
    parser.add_argument("--small", type=int, default=400)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    configs = [("embedded", 1)] + [(f"cluster x{n}", n) for n in args.gateways]
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in configs}
    pg = start_postgres()
    try:
        with tempfile.TemporaryDirectory(prefix="fragstore-cluster-bench-") as tmp:
            for rep in range(args.reps):
                order = configs[rep % len(configs):] + configs[:rep % len(configs)]
                for name, n in order:
                    setup = start(name.replace(" ", ""), Path(tmp), n, None if name == "embedded" else pg)
                    try:
                        results[name].append(measure(setup, args))
                    finally:
                        setup.stop()
                    print(f"rep {rep + 1}: {name} done", file=sys.stderr)
    finally:
        pg.stop()
    keys = list(results["embedded"][0])
    print(f"cluster vs embedded, {os.cpu_count()} cores (shared machine: other processes ran beside this), "
          f"{args.threads} client threads, {args.objects} x {args.size_kib} KiB and {args.small} x 4 KiB, "
          f"median of {args.reps}; cluster CPU includes PostgreSQL's")
    print("| configuration | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name, _ in configs:
        row = [statistics.median(r[k] for r in results[name]) for k in keys]
        print(f"| {name} | " + " | ".join(f"{v:.1f}" for v in row) + " |")


if __name__ == "__main__":
    main()
