"""The figures of the S3 throughput benchmark, their targets, and the report's tables.

Two kinds of target sit beside each figure: this benchmark's own, a ratio of
fragstore to the null endpoint (the client's ceiling on this machine), and issue
17's ("faster than the S3 server people run"): fragstore against the peer (Ceph
RGW) in the same run, and server CPU per byte. CPU figures are the server's
utime + stime during the operation divided by its bytes (ns/B) or operations
(us/op), for every endpoint whose processes are known.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Any, Protocol

MiB = 1 << 20
SIDES = ("fragstore", "peer", "null")


class Sizes(Protocol):
    size: int
    big: int


@dataclass(frozen=True)
class Figure:
    id: str
    name: str
    unit: str
    target: str = ""
    ratio_min: float | None = None    # target on fragstore median / null median
    abs_max: float | None = None      # target on the fragstore maximum (RSS)
    not_below: str | None = None      # fragstore median must not be below this figure's
    goal: str = ""                    # issue 17's target, "{peer}" standing for the peer's label
    goal_peer_min: float | None = None  # fragstore median / peer median must be at least this
    goal_max: float | None = None     # fragstore median (maximum for MB) must be at most this
    goal_own: tuple[str, float] | None = None  # fragstore median / fragstore's median of that figure


def figures(cfg: Sizes) -> list[Figure]:
    """Throughput, operations and memory: what the client sees."""
    size, big = f"{cfg.size // MiB} MiB", f"{cfg.big / 2**30:g} GiB"
    x15 = {"goal": ">= 1.5x {peer}", "goal_peer_min": 1.5}
    return [
        Figure("put_new", f"put_object {size}, new data", "MB/s", ">= 0.70x", ratio_min=0.70,
               goal=">= 1.3x {peer}", goal_peer_min=1.3),
        Figure("put_dup", f"put_object {size}, duplicate data", "MB/s", ">= 0.80x", ratio_min=0.80),
        Figure("get_new", f"get_object {size} streamed (new-data object)", "MB/s", ">= 0.50x", ratio_min=0.50,
               goal=">= 2x {peer}", goal_peer_min=2.0),
        Figure("get_dup", f"get_object {size} streamed (duplicate object)", "MB/s", ">= 0.50x", ratio_min=0.50,
               goal=">= 2x {peer}", goal_peer_min=2.0),
        Figure("get_cold", f"get_object {size} after dropping the page cache", "MB/s"),
        Figure("put_float", f"put_object {size} float32 weights (compressible)", "MB/s"),
        Figure("get_float", f"get_object {size} float32 weights (compressed where the server compresses)",
               "MB/s", goal=">= 0.8x of get_object new data", goal_own=("get_new", 0.8)),
        Figure("upload_file", f"upload_file {size} new data, 8 MiB parts x 10 threads", "MB/s",
               goal=">= 1.2x {peer}", goal_peer_min=1.2),
        Figure("download_file", f"download_file {size}, 8 MiB parts x 10 threads", "MB/s"),
        Figure("put_1k_1t", "1 KiB PUT, 1 thread", "ops/s", ">= 0.60x", ratio_min=0.60, **x15),
        Figure("get_1k_1t", "1 KiB GET, 1 thread", "ops/s", ">= 0.70x", ratio_min=0.70, **x15),
        Figure("put_1k_8t", "1 KiB PUT, 8 threads", "ops/s", ">= 0.60x and >= 1-thread ops/s",
               ratio_min=0.60, not_below="put_1k_1t", **x15),
        Figure("get_1k_8t", "1 KiB GET, 8 threads", "ops/s", ">= 0.70x and >= 1-thread ops/s",
               ratio_min=0.70, not_below="get_1k_1t", **x15),
        Figure("big_put", f"put_object {big} new data (streamed)", "MB/s"),
        Figure("big_get", f"get_object {big} streamed", "MB/s"),
        Figure("rss_start", "server RSS at start, idle (once)", "MB"),
        Figure("rss_medium", f"server peak RSS during the {size} and 1 KiB figures", "MB"),
        Figure("rss_before", f"server RSS before the {big} PUT", "MB"),
        Figure("big_put_rss", f"server peak RSS during the {big} PUT", "MB", "<= 200 MB (max)", abs_max=200),
        Figure("big_put_anon", f"server peak anonymous RSS during the {big} PUT", "MB",
               goal="<= 150 MB (max)", goal_max=150),
        Figure("big_get_rss", f"server peak RSS during the {big} GET", "MB", "<= 200 MB (max)", abs_max=200),
        Figure("big_get_anon", f"server peak anonymous RSS during the {big} GET", "MB",
               goal="<= 150 MB (max)", goal_max=150),
    ]


CPU_PER_BYTE = ("put_new", "put_dup", "get_new", "get_dup", "get_cold", "put_float", "get_float",
                "upload_file", "download_file", "big_put", "big_get")
CPU_PER_OP = ("put_1k_1t", "get_1k_1t", "put_1k_8t", "get_1k_8t")
CPU_GOALS = {"put_new": 4.0, "put_dup": 3.5, "get_new": 0.5, "get_dup": 0.5}


def cpu_figures(cfg: Sizes) -> list[Figure]:
    """Server CPU (utime + stime) per byte or per operation, one per throughput figure."""
    names = {fig.id: fig.name for fig in figures(cfg)}
    out = []
    for fid in CPU_PER_BYTE + CPU_PER_OP:
        goal = CPU_GOALS.get(fid)
        out.append(Figure(f"cpu_{fid}", names[fid], "ns/B" if fid in CPU_PER_BYTE else "us/op",
                          goal=f"<= {goal} ns/B" if goal else "", goal_max=goal))
    return out


def summary(runs: list[float]) -> dict[str, Any] | None:
    if not runs:
        return None
    return {"median": median(runs), "min": min(runs), "max": max(runs), "runs": runs}


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    return a["median"] / b["median"] if a and b and b["median"] else None


def evaluate(cfg: Sizes, runs: dict[str, dict[str, list[float]]], skipped: dict[str, str],
             peer_label: str | None) -> list[dict[str, Any]]:
    """One row per figure (throughput ones, then CPU ones): a summary per side, ratios, verdicts."""
    rows: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    for kind, figs in (("throughput", figures(cfg)), ("cpu", cpu_figures(cfg))):
        for fig in figs:
            sides = {side: summary(runs.get(side, {}).get(fig.id, [])) for side in SIDES}
            frag = sides["fragstore"]
            comparable = fig.unit != "MB"
            ratio = _ratio(frag, sides["null"]) if comparable else None
            peer_ratio = _ratio(frag, sides["peer"]) if comparable else None
            met: bool | None = None
            if frag and fig.ratio_min is not None and ratio is not None:
                met = ratio >= fig.ratio_min
                if fig.not_below and by_id[fig.not_below]["fragstore"]:
                    met = met and frag["median"] >= by_id[fig.not_below]["fragstore"]["median"]
            if frag and fig.abs_max is not None:
                met = frag["max"] <= fig.abs_max
            goal_met: bool | None = None
            if frag and fig.goal_peer_min is not None and peer_ratio is not None:
                goal_met = peer_ratio >= fig.goal_peer_min
            if frag and fig.goal_max is not None:
                goal_met = (frag["max"] if fig.unit == "MB" else frag["median"]) <= fig.goal_max
            own_ratio = None
            if frag and fig.goal_own is not None:
                own_ratio = _ratio(frag, by_id[fig.goal_own[0]]["fragstore"])
                goal_met = None if own_ratio is None else own_ratio >= fig.goal_own[1]
            goal = fig.goal.format(peer=peer_label or "peer") if fig.goal else None
            row = {"id": fig.id, "kind": kind, "figure": fig.name, "unit": fig.unit, **sides,
                   "ratio": ratio, "peer_ratio": peer_ratio, "own_ratio": own_ratio,
                   "target": fig.target or None, "met": met, "goal": goal, "goal_met": goal_met,
                   "note": skipped.get(fig.id.removeprefix("cpu_"))}
            rows.append(row)
            by_id[fig.id] = row
    return rows


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _verdict(met: bool | None) -> str:
    return {True: "yes", False: "**NO**", None: "-"}[met]


def _x(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else "-"


def _table(doc: dict[str, Any], kind: str) -> list[str]:
    peer = doc.get("peer")
    sides = [s for s in SIDES if s != "peer" or peer]
    label = {"fragstore": "fragstore", "null": "null", "peer": peer["label"] if peer else "peer"}
    head = ["figure", "unit"]
    for side in sides:
        head += [f"{label[side]} median", "min..max"]
    if peer:
        head.append(f"fragstore / {label['peer']}")
    head.append("fragstore / null")
    if kind == "throughput":
        head += ["target (vs null)", "met?"]
    head += ["issue 17 target", "met?"]
    left = [h in ("figure", "unit", "met?") or "target" in h for h in head]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if x else "---:" for x in left) + "|"]
    for row in doc["figures"]:
        if row["kind"] != kind:
            continue
        cells = [row["figure"], row["unit"]]
        for side in sides:
            s = row[side]
            cells += [fmt(s["median"]), f"{fmt(s['min'])}..{fmt(s['max'])}"] if s else [
                "-", "skipped" if row["note"] else "-"]
        if peer:
            cells.append(_x(row["peer_ratio"]))
        cells.append(_x(row["ratio"]))
        if kind == "throughput":
            cells += [row["target"] or "-", _verdict(row["met"])]
        goal = row["goal"] or "-"
        if row["own_ratio"] is not None:
            goal += f" (is {row['own_ratio']:.2f}x)"
        cells += [goal, _verdict(row["goal_met"])]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown(doc: dict[str, Any]) -> str:
    m, peer = doc["machine"], doc.get("peer")
    versus = f"{peer['label']} and a null S3 endpoint" if peer else "a null S3 endpoint"
    lines = [
        f"# fragstore S3 throughput (boto3) vs {versus}", "",
        f"- date: {doc['date']}", f"- command: `{doc['command']}`",
        f"- machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB RAM, {m['system']}, "
        f"Python {m['python']}, boto3 {m['boto3']}; load average {m['loadavg_start']} at start, "
        f"{m['loadavg_end']} at end",
        f"- {doc['settings']['reps']} repetitions per figure (median, min..max); ratios are of medians; "
        "MB = 10^6 bytes",
    ]
    if peer:
        lines.append(f"- peer: {peer['label']} ({peer['version']}) at {peer['url']}; its CPU and memory: "
                     f"{peer['processes']}")
    lines.append(f"- fragstore's CPU and memory: {doc['processes']['fragstore']}; the null endpoint's: "
                 f"{doc['processes']['null']}")
    lines += ["", "Throughput and memory:", "", *_table(doc, "throughput"), "",
              "Server CPU (utime + stime of the processes named above during the operation, per byte "
              "or per operation):", "", *_table(doc, "cpu")]
    notes = [f"{row['id']}: {row['note']}" for row in doc["figures"] if row["note"] and row["kind"] == "throughput"]
    lines += ["", "Notes:", ""] + [f"- {note}" for note in notes + doc["notes"]]
    lines += ["", "What the client sends (first request of each operation, same config for every server):", ""]
    for operation, headers in doc["client_headers"].items():
        lines.append(f"- {operation}: {', '.join(headers)}")
    return "\n".join(lines) + "\n"
