"""Crash soak: hundreds of SIGKILLs of a loaded server, then the figures.

    python -m benchmarks.soak [--kills 200] [--clients 8] [--seed 1] [--dir DIR]

Runs the kill loop of tests/robustness/crashloop.py at length: concurrent
clients (PutObject small and large, multipart, CopyObject, DeleteObject,
DeleteObjects) against a real server on 127.0.0.1, killed at random moments;
after every restart each key is read back against the ledger of acknowledged
writes and deletes and the engine's ``check`` runs on the stopped store; at the
end GC must leave exactly the bytes the live objects need, and nothing once
they are deleted. Prints the counts; exits 1 if anything was lost, corrupt or
leaked.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.` importable

from tests.robustness.blobs import MiB  # noqa: E402
from tests.robustness.crashloop import CrashFigures, CrashLoop, CrashPlan  # noqa: E402
from tests.robustness.loadgen import LoadShape  # noqa: E402


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--keys", type=int, default=12, help="keys per client")
    parser.add_argument("--max-load", type=float, default=2.5, help="longest load before a kill (s)")
    parser.add_argument("--gc-every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, help="work directory (default: a new temporary one)")
    return parser


def healthy(f: CrashFigures) -> bool:
    return (f.findings.bad == 0 and not f.check_failures and not f.client_crashes and f.outcomes["5xx"] == 0
            and f.outcomes["bad-ack"] == 0 and f.extra_unique_bytes == 0 and f.logical_mismatch == 0
            and f.leftover_fragments == 0 and f.leftover_stored_bytes == 0)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root = args.dir or Path(tempfile.mkdtemp(prefix="fragstore-soak-"))
    root.mkdir(parents=True, exist_ok=True)
    plan = CrashPlan(kills=args.kills, clients=args.clients, keys_per_client=args.keys,
                     max_load_s=args.max_load, gc_every=args.gc_every, seed=args.seed,
                     shape=LoadShape(max_large=4 * MiB, two_part_odds=0.15))
    started = time.monotonic()
    figures = CrashLoop(root, plan, say=lambda line: print(line, flush=True)).run()
    print(f"soak: {figures.summary()}")
    print(f"soak: operations {dict(figures.ops)}")
    print(f"soak: outcomes {dict(figures.outcomes)}")
    print(f"soak: {time.monotonic() - started:.0f} s, work directory {root}")
    for line in (figures.findings.problems[:20] + figures.check_failures[:20] + figures.errors[:20]
                 + figures.client_crashes[:5]):
        print(f"soak: problem: {line}")
    return 0 if healthy(figures) else 1


if __name__ == "__main__":
    sys.exit(main())
