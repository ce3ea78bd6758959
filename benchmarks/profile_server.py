"""Where fragstore's server CPU goes on a big PUT of new data and a big streamed GET.

A fresh ``fragstore serve`` (as ``s3_throughput`` starts it) gets ``--reps`` (3)
PUTs of ``--size-mib`` (256) MiB of new data through boto3, then as many
streamed GETs of them, while a profiler is attached to the server process:

* ``perf`` (``perf record -F 997 -g -p PID``; Debian's ``linux-perf``): every
  thread, kernel included; reported as shares of the server's samples by shared
  object (kernel, libcrypto, the Python interpreter, ...) and by symbol;
* ``py-spy`` (``py-spy record --native --threads -r 250 -p PID``, the bench
  extra): Python stacks with their native frames, so the interpreter's time is
  named by the Python function that spends it; reported by leaf frame, by
  thread and by function (inclusive). With native frames py-spy samples
  threads that wait too (on a lock, a condition, epoll, fdatasync): those
  samples are counted apart, and the other shares are of the rest (on CPU).

Each tool gets its own phases (profilers slow what they watch). The server's
CPU time per byte (utime + stime from /proc) is reported for every phase, and
the profiled phases' rates beside an unprofiled first pass, so the overhead
shows. Output: markdown printed and written to ``--out``/profile_server.md,
the raw profiles beside it (perf-*.data, py-spy-*.txt).

    python -m benchmarks.profile_server --out out/profile [--size-mib 256] [--reps 3] [--tool perf py-spy]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.rss import tree_cpu_seconds  # noqa: E402
from benchmarks.s3_endpoints import Server  # noqa: E402
from benchmarks.s3_throughput import MB, MiB, get_streamed, progress, write_new_file  # noqa: E402

TOP = 15


def profiler(tool: str, pid: int, out: Path) -> subprocess.Popen[bytes]:
    if tool == "perf":
        args = ["perf", "record", "-F", "997", "-g", "-p", str(pid), "-o", str(out.with_suffix(".data"))]
    else:
        py_spy = Path(sys.executable).with_name("py-spy")
        args = [str(py_spy if py_spy.exists() else "py-spy"), "record", "--native", "--threads", "-r", "250",
                "-f", "raw", "-o", str(out.with_suffix(".txt")), "-p", str(pid)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(out.with_suffix(".log"), "wb"))
    time.sleep(1.5)  # attached before the first request
    return proc


def stop_profiler(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def phase(server: Server, name: str, action: Callable[[], None], size: int, tool: str | None,
          out: Path) -> dict[str, float]:
    proc = profiler(tool, server.pid, out / f"{tool}-{name}") if tool else None
    cpu0, start = tree_cpu_seconds(server.pid), time.perf_counter()
    try:
        action()
    finally:
        seconds, cpu = time.perf_counter() - start, tree_cpu_seconds(server.pid) - cpu0
        if proc is not None:
            stop_profiler(proc)
    return {"MB/s": size / seconds / MB, "ns/B": cpu / size * 1e9, "cpu_s": cpu}


# --- summaries ----------------------------------------------------------------------------------

def perf_table(data: Path, sort: str, top: int = TOP) -> list[tuple[float, str]]:
    """(share %, name) of the server's samples by ``sort`` (``dso`` or ``dso,sym``), self time."""
    done = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--sort", sort, "--stdio", "-g",
                           "none", "--percent-limit", "0.3"], capture_output=True, text=True)
    rows = []
    for line in done.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(.*\S)", line)
        if m and not line.lstrip().startswith("#"):
            rows.append((float(m.group(1)), re.sub(r"\s+", " ", m.group(2))))
    return rows[:top]


FRAME = re.compile(r"^(?P<name>.*?) \((?P<where>[^()]*)\)$")


def _frame(frame: str) -> tuple[str, str]:
    m = FRAME.match(frame)
    return (m.group("name"), m.group("where")) if m else (frame, "")


def _short(frame: str) -> str:
    name, where = _frame(frame)
    where = re.sub(r".*/site-packages/", "", where)
    where = re.sub(r".*/(server|dedup)/", r"\1/", where)
    where = re.sub(r"^/usr/lib/python3\.\d+/|.*/lib/python3\.\d+/", "", where)
    return f"{name} ({where})" if where else name


def _leaf(frames: list[str]) -> str:
    """The deepest frame with a name (a bare address in a stripped library names its caller)."""
    for frame in reversed(frames[1:]):
        if not frame.startswith("0x"):
            return _short(frame)
    return _short(frames[-1])


WAITS = re.compile(r"^(PyThread_acquire_lock_timed|pthread_cond_(timed)?wait|sem_(timed)?wait|epoll_p?wait|"
                   r"select|poll|clock_nanosleep|nanosleep|futex\w*|__futex\w*|fdatasync|fsync) ")
OWN_CODE = re.compile(r"\((server|dedup|uvicorn|starlette|fastapi)/")
ENTRY = re.compile(r"\(server/(__main__|admin/)")


def py_spy_tables(raw: Path) -> dict[str, list[tuple[float, str]]]:
    """Shares of py-spy's samples on CPU (leaf not a lock, condition, epoll or sync wait; with
    native frames py-spy samples waiting threads too): by thread, by leaf frame, and by function
    of fragstore and its web stack (inclusive); ``waiting`` says how many samples were waits."""
    threads: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    waits: collections.Counter[str] = collections.Counter()
    total = on_cpu = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaf = _leaf(frames)
        if WAITS.match(leaf):
            waits[leaf.split(" ")[0]] += count
            continue
        on_cpu += count
        threads[re.sub(r"_\d+$", "_*", re.sub(r"^thread \(\w+\): ", "", frames[0]))] += count  # workers as one
        leaves[leaf] += count
        for name in {_short(frame) for frame in frames[1:] if ".py:" in frame}:
            if OWN_CODE.search(name) and not ENTRY.search(name):
                inclusive[name] += count

    def share(counter: collections.Counter[str], of: int) -> list[tuple[float, str]]:
        return [(100 * n / of, name) for name, n in counter.most_common(TOP)] if of else []

    return {"threads": share(threads, on_cpu), "leaves": share(leaves, on_cpu),
            "inclusive": share(inclusive, on_cpu), "waiting": share(waits, total)}


def table(title: str, rows: list[tuple[float, str]]) -> list[str]:
    return [f"**{title}**", "", "| share | what |", "|---:|---|",
            *[f"| {share:.1f} % | `{name}` |" for share, name in rows], ""]


# --- driver -------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--out", type=Path, default=Path("out/profile"))
    p.add_argument("--size-mib", type=int, default=256)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--tool", nargs="+", choices=("perf", "py-spy"), default=["perf", "py-spy"])
    args = p.parse_args(argv)
    py_spy = Path(sys.executable).with_name("py-spy")
    found = {"perf": shutil.which("perf") is not None, "py-spy": py_spy.exists() or shutil.which("py-spy") is not None}
    for tool in args.tool:
        if not found[tool]:
            progress(f"{tool} not installed: skipped (perf: apt-get install linux-perf; py-spy: the bench extra)")
    tools = [t for t in args.tool if found[t]]
    args.out.mkdir(parents=True, exist_ok=True)
    size = args.size_mib * MiB
    work = Path(tempfile.mkdtemp(prefix="profile-server-"))
    server = Server("fragstore", [sys.executable, "-m", "server", "serve", "--data", str(work / "data")],
                    work / "fragstore.log")
    s3, bucket = server.client, server.bucket
    rates: dict[str, dict[str, float]] = {}
    try:
        for tool in [None, *tools]:
            label = tool or "none"
            files = [write_new_file(work / f"new{i}.bin", size) for i in range(args.reps)]
            keys = [f"{label}/{i}" for i in range(args.reps)]

            def put(files: list[Path] = files, keys: list[str] = keys) -> None:
                for path, key in zip(files, keys, strict=True):
                    with open(path, "rb") as f:
                        s3.put_object(Bucket=bucket, Key=key, Body=f)

            def get(keys: list[str] = keys) -> None:
                for key in keys:
                    get_streamed(s3, key, size, None, bucket)

            os.sync()
            progress(f"profiler {label}: {args.reps} PUTs of {args.size_mib} MiB")
            rates[f"put/{label}"] = phase(server, "put", put, size * args.reps, tool, args.out)
            progress(f"profiler {label}: {args.reps} GETs")
            rates[f"get/{label}"] = phase(server, "get", get, size * args.reps, tool, args.out)
            for path in files:
                path.unlink()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    lines = [f"# Where fragstore's server CPU goes: {args.reps} x {args.size_mib} MiB PUT of new data, then GET",
             "", f"- command: `python -m benchmarks.profile_server {' '.join(argv if argv is not None else sys.argv[1:])}`",
             f"- load average at end: {[round(x, 2) for x in os.getloadavg()]}", "",
             "| phase | profiler | MB/s | server CPU ns/B |", "|---|---|---:|---:|"]
    for key, r in rates.items():
        op, label = key.split("/")
        lines.append(f"| {op} | {label} | {r['MB/s']:.0f} | {r['ns/B']:.2f} |")
    lines.append("")
    for op in ("put", "get"):
        if "perf" in tools:
            data = args.out / f"perf-{op}.data"
            lines += table(f"perf, {op.upper()}: by shared object (self)", perf_table(data, "dso"))
            lines += table(f"perf, {op.upper()}: by symbol (self)", perf_table(data, "dso,sym", 25))
        if "py-spy" in tools:
            spy = py_spy_tables(args.out / f"py-spy-{op}.txt")
            lines += table(f"py-spy, {op.upper()}: samples that were waits (of all samples)", spy["waiting"])
            lines += table(f"py-spy, {op.upper()}: by thread (of on-CPU samples)", spy["threads"])
            lines += table(f"py-spy, {op.upper()}: by leaf frame (self, of on-CPU samples)", spy["leaves"])
            lines += table(f"py-spy, {op.upper()}: by function of server/, dedup/ and the web stack "
                           "(inclusive, of on-CPU samples)", spy["inclusive"])
    text = "\n".join(lines) + "\n"
    print(text, end="")
    (args.out / "profile_server.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
