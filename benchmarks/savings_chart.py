"""``savings.png``: storage ratios (logical / kept, log scale) per scenario and method,
and per kind of data over the whole benchmark."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from benchmarks.savings_results import Row  # noqa: E402


def methods_of(rows: list[Row]) -> list[str]:
    names: list[str] = ["fragstore"]
    for r in rows:
        names += [n for n in r.baselines if n not in names]
    return names


def ratio_of(row: Row, method: str) -> float:
    """logical / kept; inf when nothing was kept, 0 when nothing was written."""
    kept = row.disk if method == "fragstore" else row.baselines.get(method, 0)
    if row.growth.logical <= 0:
        return 0.0
    return row.growth.logical / kept if kept > 0 else float("inf")


def _panel(ax: Axes, groups: list[Row], labels: list[str], methods: list[str], title: str) -> None:
    values = {m: [ratio_of(r, m) for r in groups] for m in methods}
    finite = [v for vs in values.values() for v in vs if 0 < v < float("inf")]
    ceiling = max(finite, default=1.0) * 3  # where "nothing kept" bars stop
    width = 0.8 / len(methods)
    for m, method in enumerate(methods):
        xs = [i + (m - (len(methods) - 1) / 2) * width for i in range(len(groups))]
        heights = [min(v, ceiling) if v > 0 else float("nan") for v in values[method]]
        bars = ax.bar(xs, heights, width, label=method, color=f"C{m}")
        for bar, v in zip(bars, values[method], strict=True):
            if v == float("inf"):
                bar.set_hatch("//")
                bar.set_alpha(0.5)
            if v > 0:
                text = "0 B kept" if v == float("inf") else f"{v:.3g}"
                ax.annotate(text, (bar.get_x() + bar.get_width() / 2, min(v, ceiling)), ha="center",
                            va="bottom", fontsize=6, rotation=90, xytext=(0, 2), textcoords="offset points")
    ax.set_yscale("log")
    ax.set_ylim(top=ceiling * 4)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xticks(range(len(groups)), labels, fontsize=8)
    ax.set_ylabel("logical bytes / bytes kept (log)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", which="both", alpha=0.3)


def draw(rows: list[Row], path: Path, subtitle: str) -> None:
    methods = methods_of(rows)
    scen = [r for r in rows if r.kind == "all" and r.scenario != "all scenarios"]
    kinds = [r for r in rows if r.scenario == "all scenarios"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 9))
    _panel(top, scen, [r.scenario for r in scen], methods, "Per scenario (all kinds of data)")
    _panel(bottom, kinds, [r.kind for r in kinds], methods, "Per kind of data (all scenarios)")
    top.legend(fontsize=8, ncol=len(methods), loc="upper left")
    fig.suptitle(f"fragstore storage savings on the GAN workload\n{subtitle}; "
                 "hatched: nothing kept (ratio unbounded)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
