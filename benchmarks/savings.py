"""Storage-savings benchmark: the GAN workload's data in fragstore vs other ways to keep it.

    python -m benchmarks.savings --out DIR [--quick] [--sse]

Starts a fresh fragstore server on a temporary data directory, runs the six
scenarios of :mod:`benchmarks.savings_scenarios` through the GAN workload
(boto3 only), measures the store's growth per scenario and kind of data
(:mod:`benchmarks.savings_meter`), computes the local baselines on the same
bytes (:mod:`benchmarks.savings_baselines`) and writes ``report.md``,
``savings.png`` and ``savings.json`` to DIR. With ``--sse`` every write asks
for SSE-S3 (``x-amz-server-side-encryption: AES256`` on PutObject,
CreateMultipartUpload and CopyObject), so every fragment is encrypted at rest:
the dedup figures should not move.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.gan.models import ModelConfig, build
from benchmarks.gan.store import Store
from benchmarks.savings_baselines import Baseline, available, tool_versions
from benchmarks.savings_chart import draw
from benchmarks.savings_findings import findings
from benchmarks.savings_meter import Meter
from benchmarks.savings_report import fmt_bytes, render
from benchmarks.savings_results import KINDS, RECORD_HEADER, SEALED_RECORD, Row, build_rows
from benchmarks.savings_scenarios import FULL, QUICK, RUNNERS, SCENARIOS, Context, Sizes
from benchmarks.savings_server import ServerProcess, engine_numbers

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Outcome:
    meter: Meter
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    baselines: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    final_stats: dict[str, Any] = field(default_factory=dict)


def encrypt_every_write(client: Any) -> Any:
    """``client``, asking for SSE-S3 on every request that writes new bytes."""
    def add(params: dict[str, Any], **_: Any) -> None:
        params.setdefault("ServerSideEncryption", "AES256")

    for operation in ("PutObject", "CreateMultipartUpload", "CopyObject"):
        client.meta.events.register(f"provide-client-params.s3.{operation}", add)
    return client


def run_scenarios(work: Path, sizes: Sizes, progress: bool, sse: bool = False) -> Outcome:
    server = ServerProcess(work / "data", REPO_ROOT, work / "server.log")
    try:
        server.wait_healthy()
        meter = Meter(work / "data", work / "files", lambda: engine_numbers(server.stats()))
        outcome = Outcome(meter)
        client = server.endpoint.client()
        if sse:
            encrypt_every_write(client)
            outcome.notes.append("--sse: every PutObject, CreateMultipartUpload and CopyObject asked for SSE-S3 "
                                 "(AES-256-GCM over every new fragment, after dedup and compression).")
        ctx = Context(Store(client, observer=meter), meter, sizes, progress)
        for name in SCENARIOS:
            started = time.monotonic()
            with meter.scenario_of(name):
                RUNNERS[name](ctx)
            outcome.timings[name] = time.monotonic() - started
            _say(progress, f"{name}: {outcome.timings[name]:.1f} s")
        outcome.final_stats = server.stats()
        return outcome
    finally:
        server.stop()


def run_baselines(outcome: Outcome, work: Path, progress: bool) -> None:
    """Feed every (scenario, kind) step to each baseline in order; the baselines
    run side by side, one thread each (they share nothing)."""
    started = time.monotonic()
    baselines, notes = available(work / "baselines")
    outcome.notes += notes
    steps = [(scen, kind) for scen in SCENARIOS for kind in KINDS
             if outcome.meter.kind_dir(scen, kind).exists()]

    def feed(baseline: Baseline) -> dict[tuple[str, str], int]:
        sizes = {s: baseline.add(f"{s[0]}.{s[1]}", outcome.meter.kind_dir(*s)) for s in steps}
        _say(progress, f"baseline {baseline.name}: done")
        return sizes

    with ThreadPoolExecutor(len(baselines)) as pool:
        results = list(pool.map(feed, baselines))
    for baseline, sizes in zip(baselines, results, strict=True):
        for step, size in sizes.items():
            outcome.baselines.setdefault(step, {})[baseline.name] = size
    outcome.timings["baselines"] = time.monotonic() - started


def size_notes(sizes: Sizes, rows: list[Row]) -> list[str]:
    model = ModelConfig(image_size=sizes.image_size, ngf=sizes.width, ndf=sizes.width)
    gen, disc = build(model, 0)
    params = sum(p.numel() for p in gen.parameters()), sum(p.numel() for p in disc.parameters())
    lines = [
        f"Images {sizes.image_size}x{sizes.image_size} RGB; procedural dataset of {sizes.num_images} PNGs",
        f"DCGAN, ngf = ndf = {sizes.width}, nz = 100: generator {params[0]:,} parameters, "
        f"discriminator {params[1]:,}; Adam (both optimizers' state in every checkpoint)",
        f"k = 2 discriminator steps per generator step, batch {sizes.batch_size}; {sizes.epochs} epoch(s) per "
        f"run in scenarios 1-2; scenario 3: 1 epoch of {sizes.phase_iters} iterations with phase checkpoints; "
        f"scenario 4: {sizes.finetune_epochs} epoch(s), first {sizes.freeze_blocks} generator blocks frozen",
        f"Samples: a {sizes.grid_size}-image grid per epoch and {sizes.final_samples} generated PNGs per run",
        f"Training on the CPU with {sizes.threads} torch thread(s), beside the server process",
    ]
    for kind in ("dataset", "checkpoints"):
        row = next((r for r in rows if r.scenario == SCENARIOS[0] and r.kind == kind), None)
        if row and row.growth.files:
            lines.append(f"Scenario 1 {kind}: {row.growth.files} objects, "
                         f"{fmt_bytes(row.growth.logical / row.growth.files)} each on average")
    return lines


def write_outputs(out: Path, doc: dict[str, Any], rows: list[Row]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    found = findings(rows)
    doc = {**doc, "findings": found, "rows": [r.to_dict() for r in rows]}
    (out / "savings.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    (out / "report.md").write_text(render(doc, rows, found))
    draw(rows, out / "savings.png", f"{doc['date']}{' (quick)' if doc['quick'] else ''}")


def keep_sample_grid(meter: Meter, out: Path) -> None:
    """Copy scenario 1's last sample grid next to the report (what the GAN drew)."""
    grids = sorted(meter.kind_dir(SCENARIOS[0], "samples").rglob("grid-epoch-*.png"))
    if grids:
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(grids[-1], out / "samples-grid.png")


def machine() -> str:
    import torch

    gpu = "CUDA" if torch.cuda.is_available() else "no GPU"
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, {gpu}, "
            f"Python {platform.python_version()}, torch {torch.__version__}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.savings", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="where report.md, savings.png, savings.json go")
    p.add_argument("--quick", action="store_true", help="tiny sizes (seconds), for tests")
    p.add_argument("--progress", action="store_true", help="progress bars and step lines")
    p.add_argument("--sse", action="store_true", help="every write asks for SSE-S3 (encryption at rest)")
    args = p.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fragstore-savings-") as tmp:
        work = Path(tmp)
        outcome = run_scenarios(work, sizes, args.progress, args.sse)
        scenario_time = sum(outcome.timings.values())
        run_baselines(outcome, work, args.progress)
        keep_sample_grid(outcome.meter, args.out)
    rows = build_rows(outcome.meter.growth, outcome.meter.totals, outcome.baselines, SCENARIOS,
                      SEALED_RECORD if args.sse else RECORD_HEADER)
    doc = {
        "command": command_line(args),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "quick": args.quick,
        "machine": f"{machine()}; 1-minute load average {load_before:.1f} at the start, "
                   f"{os.getloadavg()[0]:.1f} at the end (above the core count, other work competed for the CPU)",
        "sizes": sizes.to_dict(), "size_notes": size_notes(sizes, rows),
        "tools": tool_versions(), "notes": outcome.notes + _tool_notes(),
        "timings": {**outcome.timings, "scenarios": scenario_time,
                    "total": time.monotonic() - started},
        "final_stats": outcome.final_stats,
        "sample_grid": (args.out / "samples-grid.png").exists(),
    }
    write_outputs(args.out, doc, rows)
    _say(True, f"wrote report.md, savings.png, savings.json to {args.out}")
    return 0


def command_line(args: argparse.Namespace) -> str:
    """The command as run, with an absolute --out shown by its name only."""
    out = args.out if not args.out.is_absolute() else Path("...") / args.out.name
    parts = ["python", "-m", "benchmarks.savings", "--out", str(out)]
    return shlex.join(parts + (["--quick"] if args.quick else []) + (["--sse"] if args.sse else []))


def _tool_notes() -> list[str]:
    return [f"{tool}: {version}" for tool, version in tool_versions().items()]


def _say(enabled: bool, message: str) -> None:
    if enabled:
        print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
