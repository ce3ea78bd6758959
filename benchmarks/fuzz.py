"""Request fuzzer: thousands of hypothesis-made raw HTTP requests against a
real server on 127.0.0.1, then the figures.

    python -m benchmarks.fuzz [--examples 5000] [--seed 1] [--dir DIR]

The requests (tests/robustness/fuzzing.py) mix hostile keys and bucket names,
real and garbage query parameters, the headers that steer S3 parsing, and
bodies from random bytes to near-valid XML and aws-chunked framing; most are
correctly signed so they reach the handlers. Every answer is scored: a 5xx
other than 501 NotImplemented is a failure, and so are a server that stops
answering its health check and an error in its log. Prints the counts;
exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.` importable

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from tests.live_server import LiveServer, start_server  # noqa: E402
from tests.robustness.fuzzing import (  # noqa: E402
    FuzzTally,
    RawRequest,
    healthy,
    logged_errors,
    prepare,
    raw_requests,
    send,
)

HEALTH_EVERY = 100


def run(server: LiveServer, s3: Any, examples: int, seed_value: int, tally: FuzzTally) -> list[str]:
    """Send ``examples`` requests; the health failures seen."""
    down: list[str] = []

    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(raw_requests())
    def one(request: RawRequest) -> None:
        if tally.tried % HEALTH_EVERY == 0:
            if not healthy(server):
                down.append(f"unhealthy after {tally.tried} requests")
                return
            prepare(server, s3)
            print(f"fuzz: {tally.summary()}", flush=True)
        send(server, request, tally)

    one()
    return down


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, help="work directory (default: a new temporary one)")
    args = parser.parse_args(argv)
    root = args.dir or Path(tempfile.mkdtemp(prefix="fragstore-fuzz-"))
    tally = FuzzTally()
    started = time.monotonic()
    with start_server(root / "data") as server:
        s3 = server.client()
        prepare(server, s3)
        down = run(server, s3, args.examples, args.seed, tally)
        alive = healthy(server)
        server.stop()
        logged = logged_errors(server.log())
    print(f"fuzz: {tally.summary()}")
    print(f"fuzz: server_alive_at_end={alive} health_failures={len(down)} logged_errors={len(logged)}")
    print(f"fuzz: error codes {dict(tally.codes.most_common())}")
    print(f"fuzz: {time.monotonic() - started:.0f} s, work directory {root}")
    for line in tally.server_errors[:20] + down[:5] + logged[:20]:
        print(f"fuzz: problem: {line[:400]}")
    return 0 if alive and not (tally.server_errors or down or logged) else 1


if __name__ == "__main__":
    sys.exit(main())
