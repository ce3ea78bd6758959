"""The cost in speed of fragment compression, end to end through the real server.

One fresh fragstore server per policy (``--compression off``, ``fast``, ``max``),
all up at once, each on its own temporary data directory (GC off). For each
repetition and each kind of data, one body of ``--size-mib`` MiB (256) is
generated before the clock starts, from a seed of its own (repetition, kind),
so every repetition stores new data and dedup hides nothing; then every server
gets the same body in turn: a single ``put_object`` and a streamed
``get_object`` (``iter_chunks`` of 1 MiB). The policies are interleaved per
repetition with the starting policy rotated (off, fast, max; fast, max, off;
...), so machine noise and position hit them alike. Kinds of data:

* ``float32``: checkpoint-like weights without torch: tensors of 1 Ki..4 Mi
  float32 values, each normal with its own standard deviation (log-uniform in
  0.005..0.15), concatenated;
* ``bf16``: the same kind of weights truncated to bfloat16 (the high 2 bytes of
  each float32);
* ``random``: incompressible random bytes.

Figures per kind and policy (median, min, max of ``--reps``, 3): PUT and GET
MB/s; the server's CPU seconds per byte during each (CPU time of the server
process and its children, before/after: Linux's per-process CPU clock, in ns;
psutil ``cpu_times`` elsewhere), as CPU-ns/B; the bytes the object took in the packs (growth of the sizes of
``data/packs/*`` across its PUT, record headers included) and raw / packs.
Each is reported as a ratio to policy off (median / median; per repetition
paired ratios min..max beside), and compared with the compression targets for
the default policy, fast: single PUT on float checkpoints >= 0.6x of off, on
incompressible data >= 0.95x; GET >= 0.8x. Policy max is for information.
MB = 10^6 bytes. Output: a markdown table printed and written to
``--out``/compression_cost.md, the same as compression_cost.json.

    python -m benchmarks.compression_cost --out out/compression_cost [--quick] [--reps 3] [--size-mib 256]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import psutil

if __package__ in (None, ""):  # run as a script path: make `benchmarks.` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import command_line, write_report
from benchmarks.s3_throughput import (  # noqa: E402
    BUCKET,
    Server,
    fmt,
    get_streamed,
    machine,
    progress,
    summary,
)

MiB = 1 << 20
MB = 1e6
POLICIES = ("off", "fast", "max")
KINDS = ("float32", "bf16", "random")
KIND_SEED = {kind: i for i, kind in enumerate(KINDS)}
METRICS = ("put_mbps", "get_mbps", "put_cpu_ns", "get_cpu_ns", "pack_bytes")


@dataclass(frozen=True)
class Target:
    id: str
    kind: str
    metric: str  # "put_mbps" or "get_mbps"
    minimum: float  # policy median / off median must be at least this
    name: str


TARGETS = (
    Target("put_float32", "float32", "put_mbps", 0.60, "single PUT, float32 checkpoint"),
    Target("put_bf16", "bf16", "put_mbps", 0.60, "single PUT, bf16 checkpoint"),
    Target("put_random", "random", "put_mbps", 0.95, "single PUT, incompressible"),
    Target("get_float32", "float32", "get_mbps", 0.80, "GET, float32 checkpoint"),
    Target("get_bf16", "bf16", "get_mbps", 0.80, "GET, bf16 checkpoint"),
    Target("get_random", "random", "get_mbps", 0.80, "GET, incompressible"),
)
BINDING_POLICY = "fast"  # the default policy; "max" is reported for information


# --- data ---------------------------------------------------------------------------------------

def weights_f32(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` float32 values laid out like a checkpoint's weights: tensors of 1 Ki..4 Mi
    values, each normal around 0 with its own scale (std log-uniform in 0.005..0.15)."""
    out = np.empty(count, dtype=np.float32)
    pos = 0
    while pos < count:
        n = min(count - pos, int(2 ** rng.uniform(10, 22)))
        std = float(np.exp(rng.uniform(np.log(0.005), np.log(0.15))))
        part = out[pos:pos + n]
        rng.standard_normal(n, dtype=np.float32, out=part)
        part *= np.float32(std)
        pos += n
    return out


def make_body(kind: str, size: int, rep: int) -> bytes:
    """``size`` bytes of ``kind``, the same for every policy within a repetition, new per repetition."""
    rng = np.random.default_rng([rep, KIND_SEED[kind], 20261125])
    if kind == "random":
        return rng.bytes(size)
    if kind == "float32":
        return weights_f32(rng, size // 4).tobytes() + rng.bytes(size % 4)
    if kind == "bf16":
        halves = np.empty(size // 2, dtype=np.uint16)
        step = 16 * MiB
        for start in range(0, len(halves), step):  # in pieces: the float32 source is twice the size
            part = weights_f32(rng, min(step, len(halves) - start))
            halves[start:start + len(part)] = (part.view(np.uint32) >> 16).astype(np.uint16)
        return halves.tobytes() + rng.bytes(size % 2)
    raise ValueError(f"unknown kind of data {kind!r}")


# --- measuring a server -------------------------------------------------------------------------

def process_cpu_seconds(process: psutil.Process) -> float:
    """CPU seconds of one process, all its threads (those gone included): its process CPU clock
    where Linux offers one (nanoseconds), else psutil's user + system (clock ticks)."""
    try:
        return time.clock_gettime((~process.pid << 3) | 2)  # MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
    except (OSError, OverflowError, AttributeError):
        times = process.cpu_times()
        return float(times.user + times.system)


def cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its descendants so far."""
    root = psutil.Process(pid)
    total = 0.0
    for process in (root, *root.children(recursive=True)):
        try:
            total += process_cpu_seconds(process)
        except psutil.Error:
            continue
    return total


def pack_bytes(data: Path) -> int:
    """Sum of the sizes of the files in ``data``/packs."""
    packs = data / "packs"
    if not packs.is_dir():
        return 0
    return sum(p.stat().st_size for p in packs.iterdir() if p.is_file())


class PolicyServer(Server):
    """A fragstore server with one compression policy on a data directory of its own."""

    def __init__(self, policy: str, work: Path) -> None:
        self.policy = policy
        self.data = work / f"data-{policy}"
        args = [sys.executable, "-m", "server", "serve", "--data", str(self.data),
                "--compression", policy, "--gc-interval", "0"]
        super().__init__(policy, args, work / f"server-{policy}.log")


def measure(server: PolicyServer, key: str, body: bytes, etag: str) -> dict[str, float]:
    """One PUT and one streamed GET of ``body``: MB/s, server CPU-ns/B, and pack bytes of the PUT."""
    s3, size = server.client, len(body)
    os.sync()  # the previous PUT's dirty pages are not this one's cost
    packs0, cpu0 = pack_bytes(server.data), cpu_seconds(server.pid)
    start = time.perf_counter()
    response = s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    put_s = time.perf_counter() - start
    cpu1, packs1 = cpu_seconds(server.pid), pack_bytes(server.data)
    if response["ETag"].strip('"') != etag:
        raise RuntimeError(f"{server.name} PUT {key}: ETag {response['ETag']}, expected {etag}")
    start = time.perf_counter()
    get_streamed(s3, key, size)
    get_s = time.perf_counter() - start
    cpu2 = cpu_seconds(server.pid)
    return {"put_mbps": size / put_s / MB, "get_mbps": size / get_s / MB,
            "put_cpu_ns": (cpu1 - cpu0) / size * 1e9, "get_cpu_ns": (cpu2 - cpu1) / size * 1e9,
            "pack_bytes": float(packs1 - packs0)}


# --- driver -------------------------------------------------------------------------------------

Runs = dict[str, dict[str, dict[str, list[float]]]]  # kind -> policy -> metric -> one value per repetition


def rotated(policies: tuple[str, ...], rep: int) -> list[str]:
    k = rep % len(policies)
    return [*policies[k:], *policies[:k]]


def run(size: int, reps: int, work: Path, kinds: tuple[str, ...] = KINDS) -> Runs:
    runs: Runs = {kind: {p: {m: [] for m in METRICS} for p in POLICIES} for kind in kinds}
    servers: dict[str, PolicyServer] = {}
    try:
        for policy in POLICIES:
            servers[policy] = PolicyServer(policy, work)
        for rep in range(reps):
            order = rotated(POLICIES, rep)
            for kind in kinds:
                progress(f"rep {rep + 1}/{reps}: {kind}, {size / MiB:g} MiB, generating")
                body = make_body(kind, size, rep)
                etag = hashlib.md5(body).hexdigest()
                for policy in order:
                    progress(f"rep {rep + 1}/{reps}: {kind}, PUT + GET with {policy}")
                    for metric, value in measure(servers[policy], f"r{rep}/{kind}", body, etag).items():
                        runs[kind][policy][metric].append(value)
                del body
    finally:
        for server in servers.values():
            server.stop()
    return runs


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def paired(mine: list[float], off: list[float]) -> dict[str, float] | None:
    """Per repetition ratios mine / off: min and max."""
    pairs = [a / b for a, b in zip(mine, off, strict=True) if b]
    return {"min": min(pairs), "max": max(pairs)} if pairs else None


def evaluate(runs: Runs, size: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows per kind and policy, target verdicts)."""
    rows: list[dict[str, Any]] = []
    for kind, by_policy in runs.items():
        off = by_policy["off"]
        for policy, metrics in by_policy.items():
            figures: dict[str, Any] = {m: summary(v) for m, v in metrics.items()}
            packs = figures["pack_bytes"]
            rows.append({
                "kind": kind, "policy": policy, "figures": figures,
                "ratio_to_off": {m: ratio(median(v), median(off[m])) if v and off[m] else None
                                 for m, v in metrics.items()},
                "paired_ratio_to_off": {m: paired(v, off[m]) for m, v in metrics.items()},
                "stored_ratio": ratio(float(size), packs["median"]) if packs else None,
            })
    verdicts: list[dict[str, Any]] = []
    for target in TARGETS:
        for row in rows:
            if row["kind"] != target.kind or row["policy"] == "off":
                continue
            value = row["ratio_to_off"][target.metric]
            verdicts.append({
                "id": target.id, "figure": target.name, "kind": target.kind, "policy": row["policy"],
                "metric": target.metric, "ratio": value, "paired": row["paired_ratio_to_off"][target.metric],
                "target": target.minimum, "binding": row["policy"] == BINDING_POLICY,
                "met": value >= target.minimum if value is not None else None,
            })
    return rows, verdicts


def x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def cell(s: dict[str, Any] | None, scale: float = 1.0) -> str:
    if not s:
        return "-"
    return f"{fmt(s['median'] / scale)} ({fmt(s['min'] / scale)}..{fmt(s['max'] / scale)})"


def markdown(doc: dict[str, Any]) -> str:
    m, st = doc["machine"], doc["settings"]
    lines = [
        "# fragstore: the cost of compression through the server (boto3)", "",
        f"- date: {doc['date']}", f"- command: `{doc['command']}`",
        f"- machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB RAM, {m['system']}, "
        f"Python {m['python']}, boto3 {m['boto3']}; load average {m['loadavg_start']} at start, "
        f"{m['loadavg_end']} at end",
        f"- one {st['size_bytes'] / MiB:g} MiB object of new data per kind and repetition, {st['reps']} "
        "repetitions (median (min..max)); ratio = policy median / off median; MB = 10^6 bytes", "",
        "| data | policy | PUT MB/s | PUT vs off | GET MB/s | GET vs off | server CPU-ns/B PUT | vs off "
        "| server CPU-ns/B GET | vs off | packs MB per object | raw / packs |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in doc["rows"]:
        f, r = row["figures"], row["ratio_to_off"]
        lines.append("| " + " | ".join([
            row["kind"], row["policy"], cell(f["put_mbps"]), x(r["put_mbps"]), cell(f["get_mbps"]),
            x(r["get_mbps"]), cell(f["put_cpu_ns"]), x(r["put_cpu_ns"]), cell(f["get_cpu_ns"]),
            x(r["get_cpu_ns"]), fmt(f["pack_bytes"]["median"] / MB) if f["pack_bytes"] else "-",
            x(row["stored_ratio"])]) + " |")
    lines += ["", f"Targets (binding for policy {BINDING_POLICY}, the default; max in parentheses, for "
              "information):", "",
              "| target | policy | ratio to off | per-repetition ratios | needed | met? |",
              "|---|---|---:|---:|---:|---|"]
    for v in doc["targets"]:
        p = v["paired"]
        met = {True: "yes", False: "**NO**", None: "-"}[v["met"]] if v["binding"] else \
            {True: "(yes)", False: "(no)", None: "-"}[v["met"]]
        lines.append(f"| {v['figure']} | {v['policy']} | {x(v['ratio'])} | "
                     f"{x(p['min']) + '..' + x(p['max']) if p else '-'} | >= {v['target']:.2f}x | {met} |")
    lines += ["", "Notes:", ""] + [f"- {note}" for note in doc["notes"]]
    return "\n".join(lines) + "\n"


NOTES = [
    "Each server is a fresh `python -m server serve --compression POLICY --gc-interval 0` on its own "
    "temporary data directory; all three are up for the whole run.",
    "Bodies are generated (and their MD5 taken, to check the ETag) before the clock starts; the same bytes "
    "go to every server within a repetition, new bytes (a new seed) each repetition. `os.sync()` runs "
    "before each PUT.",
    "The GET follows its PUT at once, so the packs it reads are in the page cache for every policy alike; "
    "the body is counted, not compared (the ETag check covers the PUT).",
    "Server CPU is the CPU time of the server process tree (all threads; Linux's process CPU clock) "
    "across the request, as ns per byte of the object; packs MB is the growth of data/packs/* during the PUT, record headers included.",
    "float32 / bf16 are numpy stand-ins for trained weights (no optimizer state, no torch.save framing).",
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--out", type=Path, default=Path("out"),
                   help="where compression_cost.md/.json go (default ./out)")
    p.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    p.add_argument("--size-mib", type=float, help="object size in MiB (default 256; 16 with --quick)")
    p.add_argument("--quick", action="store_true", help="smoke run: 16 MiB objects")
    p.add_argument("--work", type=Path, help="scratch directory (default: a new temporary one, removed after)")
    args = p.parse_args(argv)
    if args.size_mib is None:
        args.size_mib = 16 if args.quick else 256
    if args.reps < 1 or args.size_mib <= 0:
        p.error("--reps and --size-mib must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_start = os.getloadavg()
    command = command_line("benchmarks.compression_cost", bool(__package__), argv)
    size = int(args.size_mib * MiB)
    work = args.work or Path(tempfile.mkdtemp(prefix="compression-cost-"))
    work.mkdir(parents=True, exist_ok=True)
    need = args.reps * len(KINDS) * len(POLICIES) * size * 1.1
    if shutil.disk_usage(work).free < need:
        raise SystemExit(f"compression_cost: needs ~{need / 2**30:.1f} GiB free in {work}")
    try:
        runs = run(size, args.reps, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    rows, targets = evaluate(runs, size)
    doc = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "command": command,
           "machine": machine(load_start),
           "settings": {"size_bytes": size, "reps": args.reps, "policies": list(POLICIES), "kinds": list(KINDS),
                        "order": "per repetition and kind, every policy in turn, the first one rotated per "
                                 "repetition", "client": "boto3, one client per server (s3_throughput's config)"},
           "rows": rows, "targets": targets, "notes": NOTES}
    write_report(args.out, "compression_cost", doc, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
