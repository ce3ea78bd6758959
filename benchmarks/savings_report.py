"""``report.md``: the savings benchmark's tables and what they mean."""

from __future__ import annotations

from typing import Any

from benchmarks.savings_chart import methods_of, ratio_of
from benchmarks.savings_results import Row, checks

HOW_MEASURED = """\
## How each number was measured

- **logical**: bytes the client uploaded (every PUT counts, including the
  `latest.pt` copy written after each checkpoint and `losses.json` rewritten
  each epoch). The server's own `logical_bytes` counts live objects only, so it
  is lower wherever a key was overwritten.
- **fragstore disk**: growth of the server's data directory on the filesystem,
  sum of the apparent sizes of its regular files (packs, LMDB index, the rest),
  walked by the benchmark itself. Allocated blocks (`st_blocks * 512`) are in the
  detail table and in `savings.json`.
- **per kind**: the workload names the kind of every upload; uploads of one kind
  in a row form a segment, and the benchmark snapshots the data directory and
  `GET /_fragstore/stats` at every change of kind, so each kind's figure is the
  sum of the growth over its own segments. Training interleaves checkpoints,
  sample grids and losses, so there are many small segments per run.
  LMDB grows its file by pages and reuses freed ones, so index growth lands
  in whichever segment made the file grow: per-kind index figures are lumpy
  (a few hundred kB can show up against a handful of small uploads), while
  the per-scenario and overall totals are exact.
- **stats**: growth of the server's counters over the same segments:
  `pack_bytes + index_bytes` (its view of its disk), `unique_bytes` (raw
  bytes of distinct fragments: the dedup result) and `stored_bytes` (those
  fragments as stored, record headers included: the compression result).
  dedup ratio = logical / unique; compression ratio = unique / stored.
  `delta_fragments`, `delta_raw_bytes`, `delta_stored_bytes`: new fragments
  stored as a delta on a base fragment of an earlier checkpoint, their raw
  bytes (part of unique) and their records (part of stored): the delta
  result, inside the compression ratio.
- **baselines**: computed locally on a copy of exactly the uploaded bytes,
  fed step by step (scenario, then kind) like the store:
  `whole-file` (SHA-256 per file, repeats free), `zstd-3` (each file alone),
  `tar+zstd-19` (`tar | zstd -19 --long`, one archive per step, no dedup
  across steps), `restic` and `borg` (one repository for the whole benchmark,
  one snapshot per step, default chunker and compression; growth of the
  repository's files, their local caches not counted), and `xor-delta`
  (fragstore's codec after a per-tensor XOR with the previous checkpoint of
  the same file extension, benchmarks/delta_margin.py: record bytes only, no
  index). The whole-file and xor-delta baselines count no index at all, so
  they are lower bounds for any real content-addressed store.
- **ratio** = logical / bytes kept; higher is better, 1.0 = no saving.
"""


def fmt_bytes(n: int | float) -> str:
    n = float(n)
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{int(n)} B"


def fmt_ratio(logical: int, kept: int) -> str:
    if logical <= 0:
        return "-"
    return "inf" if kept <= 0 else f"{logical / kept:.2f}x"


def _table(header: list[str], lines: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cells) + " |" for cells in lines]
    return out + [""]


def comparison_table(rows: list[Row], methods: list[str]) -> list[str]:
    header = ["scenario", "kind", "files", "logical", *[f"{m}" for m in methods]]
    lines = []
    for r in rows:
        cells = [r.scenario, r.kind, str(r.growth.files), fmt_bytes(r.growth.logical)]
        for m in methods:
            kept = r.disk if m == "fragstore" else r.baselines.get(m)
            cells.append("-" if kept is None else f"{fmt_bytes(kept)} ({fmt_ratio(r.growth.logical, kept)})")
        lines.append(cells)
    return _table(header, lines)


def detail_table(rows: list[Row]) -> list[str]:
    header = ["scenario", "kind", "logical", "fs growth", "fs blocks", "stats pack+index",
              "fs - stats", "unique", "stored", "dedup", "compression", "new fragments",
              "delta fragments", "delta raw -> stored", "bound"]
    lines = []
    for r in rows:
        fs, st = r.growth.fs, r.growth.stats
        stats_disk = st.get("pack_bytes", 0) + st.get("index_bytes", 0)
        diff = fs.get("fs_packs", 0) + fs.get("fs_index", 0) - stats_disk
        lines.append([
            r.scenario, r.kind, fmt_bytes(r.growth.logical), fmt_bytes(r.disk),
            fmt_bytes(fs.get("fs_blocks", 0)), fmt_bytes(stats_disk), f"{diff:+d} B",
            fmt_bytes(st.get("unique_bytes", 0)), fmt_bytes(st.get("stored_bytes", 0)),
            fmt_ratio(r.growth.logical, st.get("unique_bytes", 0)),
            fmt_ratio(st.get("unique_bytes", 0), st.get("stored_bytes", 0)),
            str(st.get("fragments", 0)), str(st.get("delta_fragments", 0)),
            f"{fmt_bytes(st.get('delta_raw_bytes', 0))} -> {fmt_bytes(st.get('delta_stored_bytes', 0))}",
            "ok" if checks(r.growth, r.record_bytes)["bound_ok"] else "EXCEEDED",
        ])
    return _table(header, lines)


def headline(rows: list[Row], methods: list[str]) -> list[str]:
    total = next(r for r in rows if r.scenario == "all scenarios" and r.kind == "all")
    parts = [f"{m} {ratio_of(total, m):.2f}x ({fmt_bytes(total.disk if m == 'fragstore' else total.baselines[m])})"
             for m in methods if m == "fragstore" or m in total.baselines]
    return [
        "## Headline", "",
        f"All {len({r.scenario for r in rows}) - 1} scenarios wrote {fmt_bytes(total.growth.logical)} in {total.growth.files} objects. "
        "Bytes kept (ratio): " + "; ".join(parts) + ".", "",
    ]


def render(doc: dict[str, Any], rows: list[Row], findings: list[str]) -> str:
    methods = methods_of(rows)
    out = [f"# fragstore storage savings on the GAN workload{' (quick)' if doc['quick'] else ''}", ""]
    out += [f"- Command: `{doc['command']}`", f"- Date: {doc['date']}", f"- Machine: {doc['machine']}",
            f"- Duration: {doc['timings']['total']:.0f} s (scenarios {doc['timings']['scenarios']:.0f} s, "
            f"baselines {doc['timings']['baselines']:.0f} s)", ""]
    out += ["## Sizes", ""] + [f"- {line}" for line in doc["size_notes"]] + [""]
    if doc.get("sample_grid"):
        out += ["What the generator drew after scenario 1's last epoch: `samples-grid.png` (after a few "
                "short epochs the samples are still crude: this run measures storage, not image quality).", ""]
    out += headline(rows, methods)
    out += ["## Where the savings come from", ""] + [f"- {f}" for f in findings] + [""]
    out += ["## Bytes kept per scenario and kind (ratio = logical / kept)", ""]
    out += comparison_table(rows, methods)
    out += ["## fragstore in detail: filesystem vs the server's stats", ""]
    out += ["`fs - stats` is (pack files + index on the filesystem) minus the server's "
            "`pack_bytes + index_bytes` growth over the same segments. `bound`: disk growth <= "
            f"logical + index growth + {rows[0].record_bytes if rows else 48} B per new fragment (a record's "
            "fixed bytes; 80 when encrypted at rest) + a block per pack.", ""]
    out += detail_table(rows)
    out += [HOW_MEASURED]
    out += ["## Notes", ""] + [f"- {n}" for n in doc["notes"]] + [""]
    return "\n".join(out)
