"""PUT and GET throughput of one gateway with local packs vs packs in S3.

Starts a single-node Ceph RGW (tests/services/ceph.py) and three fragstore
gateways on the same machine: local packs (the peer of the ratios), packs in
the RGW, and packs in a second fragstore in embedded mode. Each round PUTs
one object of ``--mib`` MiB of random bytes to every gateway in turn
(interleaved, so that a shared machine's noise hits all alike), then GETs it
twice: cold (the block cache dropped by a restart is not measured here: the
first GET after the PUT reads through S3) and warm (from the cache).

    python -m benchmarks.packs_s3 [--mib 64] [--reps 3]

Figures are MB/s and ratios to local packs in the same run. The project's
machine is shared by several agents: compare ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.live_server import ACCESS_KEY, SECRET_KEY, LiveServer, start_server
from tests.services.ceph import start_ceph
from tests.services.fixtures import rgw_client


def packs_env(endpoint: str, url: str, access: str, secret: str) -> dict[str, str]:
    return {"FRAGSTORE_PACKS": url, "FRAGSTORE_PACKS_ENDPOINT": endpoint,
            "FRAGSTORE_PACKS_ACCESS_KEY": access, "FRAGSTORE_PACKS_SECRET_KEY": secret}


def timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    size = args.mib * 1024 * 1024
    root = Path(tempfile.mkdtemp(prefix="packs-s3-"))
    ceph = start_ceph(root / "ceph")
    servers: dict[str, LiveServer] = {}
    try:
        rgw = rgw_client(ceph)
        rgw.create_bucket(Bucket="packs")
        peer = start_server(root / "peer")
        peer.client().create_bucket(Bucket="packs")
        servers["peer"] = peer
        servers["local"] = start_server(root / "local")
        servers["s3-rgw"] = start_server(root / "rgw-gw", env=packs_env(
            ceph.endpoint, "s3://packs/gw", ceph.access_key, ceph.secret_key))
        servers["s3-fragstore"] = start_server(root / "fs-gw", env=packs_env(
            peer.url, "s3://packs/gw", ACCESS_KEY, SECRET_KEY))
        kinds = ["local", "s3-rgw", "s3-fragstore"]
        clients = {k: servers[k].client() for k in kinds}
        for c in clients.values():
            c.create_bucket(Bucket="bench")
        results: dict[tuple[str, str], list[float]] = {}
        for rep in range(args.reps):
            body = os.urandom(size)
            for kind in kinds:
                for what in ("put", "get cold", "get warm"):
                    seconds = timed(lambda c=clients[kind], w=what, k=f"k{rep}", b=body: (
                        c.put_object(Bucket="bench", Key=k, Body=b) if w == "put"
                        else c.get_object(Bucket="bench", Key=k)["Body"].read()))
                    results.setdefault((kind, what), []).append(size / seconds / 1e6)
        print(f"{args.mib} MiB objects, {args.reps} rounds interleaved, median MB/s "
              "(a shared 2-core machine: compare the ratios)")
        print(f"{'packs':14} {'what':9} {'MB/s':>8} {'vs local':>9}")
        for what in ("put", "get cold", "get warm"):
            base = statistics.median(results[("local", what)])
            for kind in kinds:
                value = statistics.median(results[(kind, what)])
                print(f"{kind:14} {what:9} {value:8.1f} {value / base:9.2f}")
    finally:
        for server in servers.values():
            server.stop()
        ceph.stop()


if __name__ == "__main__":
    main()
