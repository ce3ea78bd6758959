"""How much a per-tensor XOR delta against the previous checkpoint would add
to today's codec, on the savings benchmark's own checkpoints (issue 15).

    python -m benchmarks.delta_margin --out DIR [--corpus FILES] [--keep FILES] [--quick]

Without ``--corpus`` it starts a fresh fragstore server and runs the
checkpoint-writing scenarios of :mod:`benchmarks.savings_scenarios` (1, 3, 4,
6) through the GAN workload, keeping every uploaded body (the savings meter's
tee, ``--keep`` to keep it). ``--corpus`` reuses such a tee
(``<scenario>/checkpoints/<bucket>/<key>[~N]``).

Per scenario, in upload order (file modification time), two ways to store the
checkpoints, both with FastCDC fragments, dedup by BLAKE3 across the scenario
and the server's default codec (dedup/codecs.py, policy ``fast``), 48 bytes of
record header per stored fragment:

- ``today``: every checkpoint as it is;
- ``xor``: each tensor storage of a checkpoint (a record of the torch zip, or
  a tensor of a safetensors file) that has a namesake of the same length in
  the previous checkpoint of its series (the last different file uploaded
  before it with the same extension) is XORed with it (identical tensors
  cost nothing), cut in 128 KiB pieces and encoded; the bytes around tensors
  are stored as ``today`` stores them; a tensor stored before (a copy of a
  checkpoint, a frozen layer) costs nothing, as dedup would make it.

The ratio is checkpoint bytes / stored bytes; the margin is xor / today. A
third column stores the difference instead of the XOR (``new - old`` as
unsigned integers of the element width: 4 bytes in the torch zips here, 2 in
the bf16 safetensors files).
Index bytes are left out of both.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import struct
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import blake3
import numpy

from dedup.chunking import ChunkerParams, cut_points
from dedup.codecs import encode
from dedup.format import HEADER_SIZE

PARAMS = ChunkerParams(8 * 1024, 32 * 1024, 128 * 1024)
PIECE = 128 * 1024
SCENARIOS = ("1-one-run", "3-phase-checkpoints", "4-fine-tune", "6-versioned")


@dataclass
class Tally:
    logical: int = 0
    files: int = 0
    today: int = 0
    xor: int = 0
    sub: int = 0
    seen_today: set[bytes] = field(default_factory=set)
    seen_xor: set[bytes] = field(default_factory=set)
    seen_sub: set[bytes] = field(default_factory=set)

    def row(self, name: str) -> dict[str, object]:
        return {"scenario": name, "files": self.files, "logical": self.logical,
                "today_stored": self.today, "xor_stored": self.xor,
                "today_ratio": round(self.logical / self.today, 3) if self.today else None,
                "xor_ratio": round(self.logical / self.xor, 3) if self.xor else None,
                "margin": round(self.today / self.xor, 3) if self.xor else None,
                "sub_stored": self.sub, "sub_ratio": round(self.logical / self.sub, 3) if self.sub else None}


def tensor_spans(data: bytes) -> dict[str, tuple[int, int]]:
    """name -> (start, end) of each tensor storage (torch zip or safetensors); {} otherwise."""
    if data[:4] == b"PK\x03\x04":
        try:
            spans = {}
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for info in z.infolist():
                    if "/data/" not in info.filename or info.compress_type != zipfile.ZIP_STORED:
                        continue
                    p = info.header_offset
                    name_len, extra_len = struct.unpack_from("<HH", data, p + 26)
                    start = p + 30 + name_len + extra_len
                    spans[info.filename] = (start, start + info.file_size)
            return spans
        except (zipfile.BadZipFile, struct.error):
            return {}
    if len(data) >= 8:
        n = struct.unpack_from("<Q", data)[0]
        if 8 + n <= len(data):
            try:
                head = json.loads(data[8 : 8 + n])
                return {k: (8 + n + v["data_offsets"][0], 8 + n + v["data_offsets"][1])
                        for k, v in head.items() if k != "__metadata__"}
            except (ValueError, KeyError, TypeError):
                return {}
    return {}


def store_cdc(data: memoryview, base: int, seen: set[bytes]) -> int:
    """Stored bytes of ``data`` cut by FastCDC, deduped against ``seen``."""
    ends, _ = cut_points(data, PARAMS, final=True)
    total = start = 0
    for end in ends:
        total += store_piece(data[start:end], base + start, seen)
        start = end
    return total


def store_piece(piece: memoryview, offset: int, seen: set[bytes]) -> int:
    digest = blake3.blake3(piece).digest()
    if digest in seen:
        return 0
    seen.add(digest)
    _, stored = encode("fast", piece, offset)
    return HEADER_SIZE + len(stored)


def difference(new: bytes, old: bytes, mode: str, width: int) -> memoryview:
    """``new`` XOR ``old``, or ``new - old`` as unsigned integers of ``width`` bytes (mod 2^8w)."""
    if mode == "sub" and width in (2, 4) and len(new) % width == 0:
        kind = numpy.uint16 if width == 2 else numpy.uint32
        return memoryview((numpy.frombuffer(new, kind) - numpy.frombuffer(old, kind)).tobytes())
    return memoryview((numpy.frombuffer(new, numpy.uint8) ^ numpy.frombuffer(old, numpy.uint8)).tobytes())


def store_xor(data: bytes, prev: bytes | None, seen: set[bytes], mode: str = "xor") -> int:
    spans = tensor_spans(data)
    width = 4 if data[:4] == b"PK\x03\x04" else 2  # GAN zips hold float32; the safetensors here, bf16
    old = tensor_spans(prev) if prev is not None else {}
    view = memoryview(data)
    total = pos = 0
    for name, (start, end) in sorted(spans.items(), key=lambda s: s[1]):
        if start < pos:
            continue
        total += store_cdc(view[pos:start], pos, seen) if start > pos else 0
        base = old.get(name)
        digest = blake3.blake3(view[start:end]).digest()
        if digest in seen:  # the same tensor is stored already (a copy of a checkpoint, a frozen layer)
            pass
        elif prev is None or base is None or base[1] - base[0] != end - start:
            total += store_cdc(view[start:end], start, seen)
        elif prev[base[0] : base[1]] != data[start:end]:
            xored = difference(data[start:end], prev[base[0] : base[1]], mode, width)
            for at in range(0, len(xored), PIECE):
                total += store_piece(xored[at : at + PIECE], start + at, seen)
        seen.add(digest)
        pos = end
    return total + store_cdc(view[pos:], pos, seen)


def series_key(path: Path) -> str:
    """Checkpoints of one series: the same extension (``step-0005/model.safetensors``
    follows the last ``.safetensors`` file, not ``step-0005/state.pt``; the
    meter's ``~N`` of an overwritten key's N-th version left out)."""
    return Path(path.name.split("~")[0]).suffix


def measure(root: Path) -> Iterator[dict[str, object]]:
    for scenario in sorted(p.name for p in root.iterdir()):
        ckpts = root / scenario / "checkpoints"
        if not ckpts.exists():
            continue
        files = sorted((p for p in ckpts.rglob("*") if p.is_file()), key=lambda p: p.stat().st_mtime_ns)
        tally = Tally()
        last: dict[str, bytes] = {}
        for path in files:
            data = path.read_bytes()
            tally.logical += len(data)
            tally.files += 1
            tally.today += store_cdc(memoryview(data), 0, tally.seen_today)
            series = series_key(path)
            prev = last.get(series)
            tally.xor += store_xor(data, prev, tally.seen_xor)
            tally.sub += store_xor(data, prev, tally.seen_sub, "sub")
            if prev != data:
                last[series] = data
        yield tally.row(scenario)


def make_corpus(files: Path, quick: bool) -> None:
    """Run the checkpoint scenarios through a fresh server, teeing every body under ``files``."""
    from benchmarks.gan.store import Store
    from benchmarks.savings import REPO_ROOT
    from benchmarks.savings_meter import Meter
    from benchmarks.savings_scenarios import FULL, QUICK, RUNNERS, Context
    from benchmarks.savings_server import ServerProcess, engine_numbers

    with tempfile.TemporaryDirectory(prefix="fragstore-margin-") as tmp:
        work = Path(tmp)
        server = ServerProcess(work / "data", REPO_ROOT, work / "server.log")
        try:
            server.wait_healthy()
            meter = Meter(work / "data", files, lambda: engine_numbers(server.stats()))
            ctx = Context(Store(server.endpoint.client(), observer=meter), meter, QUICK if quick else FULL)
            for name in SCENARIOS:
                with meter.scenario_of(name):
                    RUNNERS[name](ctx)
        finally:
            server.stop()


def render(doc: dict[str, object]) -> str:
    lines = [
        "# Delta margin: per-tensor XOR against the previous checkpoint vs today's codec",
        "",
        f"`{doc['command']}`, {doc['date']}; {doc['machine']}",
        "",
        "Stored bytes (fragment records, index left out); ratio = checkpoint bytes / stored; "
        "margin = xor ratio / today's ratio. See the module docstring of benchmarks/delta_margin.py.",
        "",
        "| scenario | checkpoints | bytes | today stored | today ratio | xor stored | xor ratio | margin "
        "| subtraction ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in doc["rows"]:  # type: ignore[attr-defined]
        lines.append(f"| {r['scenario']} | {r['files']} | {r['logical']:,} | {r['today_stored']:,} | "
                     f"{r['today_ratio']}x | {r['xor_stored']:,} | {r['xor_ratio']}x | {r['margin']}x | "
                     f"{r['sub_ratio']}x |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.delta_margin", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--corpus", type=Path, help="an existing tee of uploaded bodies")
    p.add_argument("--keep", type=Path, help="where to keep the corpus made by this run")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    load = os.getloadavg()[0]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fragstore-corpus-") as tmp:
        corpus = args.corpus or args.keep or Path(tmp)
        if args.corpus is None:
            make_corpus(corpus, args.quick)
        rows = list(measure(corpus))
    doc = {
        "command": "python -m benchmarks.delta_margin --out " + args.out.name + (" --quick" if args.quick else "")
                   + (" (on a kept corpus of the same scenarios)" if args.corpus else ""),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs shared with other work (load {load:.1f} at the start, "
                   f"{os.getloadavg()[0]:.1f} at the end), {time.monotonic() - started:.0f} s",
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "delta_margin.json").write_text(json.dumps(doc, indent=1) + "\n")
    (args.out / "delta_margin.md").write_text(render(doc))
    print(render(doc), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
