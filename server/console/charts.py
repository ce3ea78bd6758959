"""Charts as inline SVG, drawn on the server: no script, no chart library.

Every chart is an ``<svg role="img">`` with a text alternative that says
what it shows; the page puts the same numbers in a table next to it. Text in
a chart (bucket names, dates) is escaped like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from server.console.savings import COLOURS, Savings
from server.console.views import size

WIDTH = 640
BAR = 22
GAP = 14
LABEL = 150


def savings_bars(rows: Sequence[Savings], title: str, chart_id: str = "bars") -> Markup:
    """One horizontal bar per row, as long as its logical bytes: the part still
    stored, then what each effect saved, to the same scale."""
    if not rows:
        return Markup("")
    longest = max(max(r.logical, (r.stored or 0)) for r in rows) or 1
    span = WIDTH - LABEL - 10
    height = len(rows) * (BAR + GAP) + GAP
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{chart_id}-title" '
             f'xmlns="http://www.w3.org/2000/svg"><title id="{chart_id}-title">{escape(title)}</title>']
    for i, row in enumerate(rows):
        y = GAP + i * (BAR + GAP)
        parts.append(f'<text x="0" y="{y + BAR * 0.7:.1f}" class="chart-label">{escape(_short(row.name))}</text>')
        x = float(LABEL)
        segments = [("stored", row.stored if row.stored is not None else row.logical, "stored")]
        segments += [(e.name, max(0, e.saved or 0), f"saved by {e.label.lower()}") for e in row.effects]
        for name, nbytes, what in segments:
            w = span * nbytes / longest
            if w < 0.5:
                continue
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR}" fill="{COLOURS.get(name, "#455a64")}">'
                         f'<title>{escape(row.name)}: {escape(size(nbytes))} {escape(what)}</title></rect>')
            x += w
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(name: str, limit: int = 20) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    values: Sequence[float | None]


def line_chart(labels: Sequence[str], series: Sequence[Series], title: str, *, height: int = 220,
               chart_id: str = "lines") -> Markup:
    """Lines over days (``labels``), with the first and last label under the axis."""
    if not labels or not series:
        return Markup("")
    top = max((v for s in series for v in s.values if v is not None), default=0) or 1
    left, bottom, right = 70, 30, 10
    plot_w, plot_h = WIDTH - left - right, height - bottom - 10
    step = plot_w / max(1, len(labels) - 1)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{chart_id}-title" '
             f'xmlns="http://www.w3.org/2000/svg"><title id="{chart_id}-title">{escape(title)}</title>',
             f'<line x1="{left}" y1="{10 + plot_h}" x2="{WIDTH - right}" y2="{10 + plot_h}" class="axis"/>',
             f'<text x="{left - 6}" y="16" text-anchor="end" class="chart-label">{escape(size(top))}</text>',
             f'<text x="{left - 6}" y="{10 + plot_h}" text-anchor="end" class="chart-label">0</text>',
             f'<text x="{left}" y="{height - 8}" class="chart-label">{escape(labels[0])}</text>']
    if len(labels) > 1:
        parts.append(f'<text x="{WIDTH - right}" y="{height - 8}" text-anchor="end" class="chart-label">'
                     f'{escape(labels[-1])}</text>')
    for s in series:
        points = [(left + i * step, 10 + plot_h * (1 - v / top)) for i, v in enumerate(s.values) if v is not None]
        if not points:
            continue
        if len(points) == 1:
            x, y = points[0]
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{s.colour}"><title>{escape(s.label)}</title></circle>')
            continue
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{s.colour}" stroke-width="2.5">'
                     f'<title>{escape(s.label)}</title></polyline>')
    parts.append("</svg>")
    return Markup("".join(parts))
