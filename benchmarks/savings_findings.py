"""Plain-language findings for the report, computed from the rows.

The key comparison is fragstore's new distinct bytes (``unique``) against the
``whole-file`` baseline on the same step: whole-file dedup already removes
exact repeats (``latest.pt`` copies, re-uploaded datasets), so
``1 - unique / whole-file`` is what fragment-level dedup adds on top of it.
"""

from __future__ import annotations

from benchmarks.savings_report import fmt_bytes, fmt_ratio
from benchmarks.savings_results import Row


def _row(rows: list[Row], scenario: str, kind: str) -> Row | None:
    return next((r for r in rows if r.scenario.startswith(scenario) and r.kind == kind), None)


def _subfile(row: Row) -> str:
    whole = row.baselines.get("whole-file", 0)
    unique = row.growth.stats.get("unique_bytes", 0)
    if whole <= 0:
        return "n/a"
    return f"{100 * (1 - unique / whole):.1f}%"


def _line(row: Row, what: str) -> str:
    g = row.growth
    return (
        f"{what}: {g.files} objects, {fmt_bytes(g.logical)} written; whole-file dedup keeps "
        f"{fmt_bytes(row.baselines.get('whole-file', 0))}, fragstore's new distinct fragments are "
        f"{fmt_bytes(g.stats.get('unique_bytes', 0))} (disk growth {fmt_bytes(row.disk)}, "
        f"{fmt_ratio(g.logical, row.disk)}); fragment-level dedup beyond whole files: {_subfile(row)}."
    )


def findings(rows: list[Row]) -> list[str]:
    out: list[str] = _agreement(rows)
    out += _dataset(rows)
    epoch = _row(rows, "1-", "checkpoints")
    if epoch:
        out.append(
            _line(epoch, "Per-epoch checkpoints (scenario 1)")
            + " Every weight and every optimizer moment changes in every epoch, so consecutive "
            "checkpoints share no bytes: byte-level dedup finds nothing here. The only saving is the "
            "`latest.pt` copy, an exact repeat that whole-file dedup removes just as well." + _delta(epoch)
        )
    sweep = _row(rows, "2-", "checkpoints")
    if sweep:
        out.append(_line(sweep, "Sweep checkpoints (scenario 2)") + " Other seeds and learning rates "
                   "give other weights: no dedup between runs either.")
    for scen, what in (("2-", "Sweep datasets (3 more copies of the same images)"),
                       ("5-", "Re-upload of scenario 1 under new keys")):
        row = _row(rows, scen, "all" if scen == "5-" else "dataset")
        if row:
            out.append(_line(row, what) + " Identical bytes cost only index entries.")
    phase = _row(rows, "3-", "checkpoints")
    if phase:
        out.append(
            _line(phase, "Phase checkpoints (scenario 3)") + " While the discriminator learns, the "
            "generator's weights and Adam state are frozen and stay byte-identical (and vice versa), "
            "so about half of each checkpoint repeats the previous one; only small batch-norm buffers "
            "of the frozen network move, costing a few fragments around them." + _delta(phase)
        )
    tune = _row(rows, "4-", "checkpoints")
    if tune:
        out.append(
            _line(tune, "Fine-tune checkpoints (scenario 4)") + " The generator's frozen early blocks "
            "(weights and batch-norm statistics, in eval mode) are byte-identical in every fine-tune "
            "checkpoint and in the source checkpoint; everything else changes." + _delta(tune)
        )
    out.extend(_versioned(rows))
    out.extend(_lm(rows))
    logs = _row(rows, "all scenarios", "logs")
    if logs:
        out.append(_line(logs, "Losses (`losses.json`, rewritten after every epoch)") + " Each version "
                   "extends the previous one, so the fragments of the common prefix repeat.")
    out.extend(_compression(rows))
    out.extend(_versus(rows))
    return out


def _versioned(rows: list[Row]) -> list[str]:
    """K versions of one key (scenario 6) beside K keys (scenario 1's per-epoch checkpoints)."""
    ver, keys = _row(rows, "6-", "checkpoints"), _row(rows, "1-", "checkpoints")
    if ver is None or not ver.growth.files:
        return []
    text = (_line(ver, "Versioned checkpoints (scenario 6: every checkpoint a new version of one key)")
            + f" Per version: {fmt_bytes(ver.disk / ver.growth.files)} on disk for "
              f"{fmt_bytes(ver.growth.logical / ver.growth.files)} written.")
    distinct = round(keys.baselines.get("whole-file", 0) / (keys.growth.logical / keys.growth.files)) if (
        keys and keys.growth.files and keys.growth.logical) else 0
    if keys and distinct:
        text += (f" Scenario 1 keeps each of its {distinct} checkpoints under its own key (and a `latest.pt` "
                 f"copy, an exact repeat): {fmt_bytes(keys.disk / distinct)} on disk per checkpoint. A version "
                 "costs what a separate key costs, its new fragments and nothing more; whole-file dedup keeps "
                 "every version whole.")
    return [text]


def _delta(row: Row) -> str:
    st = row.growth.stats
    n, raw, stored = st.get("delta_fragments", 0), st.get("delta_raw_bytes", 0), st.get("delta_stored_bytes", 0)
    xor = row.baselines.get("xor-delta")
    text = (f" {n} new fragments found a base in an earlier checkpoint and were stored as deltas: "
            f"{fmt_bytes(raw)} in {fmt_bytes(stored)} ({fmt_ratio(raw, stored)}).")
    if xor:
        text += f" The per-tensor XOR baseline (no index) keeps {fmt_bytes(xor)} ({fmt_ratio(row.growth.logical, xor)})."
    return text


def _lm(rows: list[Row]) -> list[str]:
    out = []
    for kind, what in (("weights", "LM fine-tune, bf16 safetensors weights (scenario 7, single PUTs)"),
                       ("state", "LM fine-tune, full training state: fp32 weights + AdamW (scenario 7, "
                                 "torch.save, multipart uploads)")):
        row = _row(rows, "7-", kind)
        if row and row.growth.files:
            out.append(_line(row, what) + _delta(row))
    return out


def _agreement(rows: list[Row]) -> list[str]:
    diffs = [
        r.growth.fs.get(a, 0) - r.growth.stats.get(b, 0)
        for r in rows for a, b in (("fs_packs", "pack_bytes"), ("fs_index", "index_bytes"))
    ]
    worst = max((abs(d) for d in diffs), default=0)
    verdict = "agree to the byte in every row" if worst == 0 else f"differ by at most {worst} bytes in a row"
    return [f"Filesystem vs server stats: the pack files and the index measured on disk and the "
            f"server's `pack_bytes` / `index_bytes` {verdict}."]


def _dataset(rows: list[Row]) -> list[str]:
    first, copies = _row(rows, "1-", "dataset"), _row(rows, "2-", "dataset")
    if first is None or not first.growth.files:
        return []
    st = first.growth.stats
    overhead = (first.disk - st.get("stored_bytes", 0)) / first.growth.files
    text = (f"Small objects (scenario 1 dataset, {first.growth.files} PNGs of "
            f"{fmt_bytes(first.growth.logical / first.growth.files)} on average): each is a single "
            f"fragment, so fragstore dedups them exactly like whole-file dedup, and pays about "
            f"{fmt_bytes(overhead)} of index per new object (disk {fmt_ratio(first.growth.logical, first.disk)} "
            "of logical: at this size the index costs more than it saves).")
    if copies and copies.growth.files:
        text += (f" A repeated object costs {fmt_bytes(copies.disk / copies.growth.files)} of index "
                 f"(scenario 2's dataset copies).")
    return [text]


def _versus(rows: list[Row]) -> list[str]:
    out = []
    for row in rows:
        if row.kind != "all" or row.scenario == "all scenarios" or row.growth.logical <= 0:
            continue
        kept = {"fragstore": row.disk, **row.baselines}
        best = min(kept, key=lambda m: kept[m])
        out.append(f"{row.scenario}: least kept by {best} ({fmt_bytes(kept[best])}); fragstore "
                   f"{fmt_bytes(row.disk)} ({fmt_ratio(row.growth.logical, row.disk)})")
    return ["Versus the baselines, per scenario: " + "; ".join(out) + "."] if out else []


def _compression(rows: list[Row]) -> list[str]:
    total = _row(rows, "all scenarios", "all")
    if total is None:
        return []
    st = total.growth.stats
    unique, stored = st.get("unique_bytes", 0), st.get("stored_bytes", 0)
    zstd = total.baselines.get("zstd-3")
    text = (
        f"Dedup vs compression (whole benchmark): dedup ratio {fmt_ratio(total.growth.logical, unique)} "
        f"(logical / unique fragment bytes), compression ratio {fmt_ratio(unique, stored)} "
        "(unique / stored, record headers included)."
    )
    if zstd:
        text += (f" For scale, zstd -3 per file on the same bytes gives "
                 f"{fmt_ratio(total.growth.logical, zstd)} with no dedup: float32 weights barely compress.")
    return [text]
