"""Turn the meter's growth figures and the baselines into rows, ratios and checks.

A row is one (scenario, kind), or a scenario's total (kind ``all``). For
fragstore it holds the filesystem growth of the data directory and the
growth of the server's own counters; for each baseline, the bytes it added.
Ratio = logical bytes / bytes kept (higher is better; None when nothing was kept).

Checks, per row:
- ``bound_ok``: the data directory grew by at most what was written plus the
  store's overhead (index growth, other files, a 48-byte record header per new
  fragment, 80 with encryption at rest (the 32 bytes of a sealed record), one
  filesystem block per pack touched);
- ``pack_diff`` / ``index_diff``: filesystem growth minus the server's
  ``pack_bytes`` / ``index_bytes`` growth (0 when they agree);
- ``unique_ok``: new distinct fragment bytes never exceed logical bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks.savings_meter import Growth

RECORD_HEADER = 48
SEALED_RECORD = RECORD_HEADER + 32  # key id, nonce and GCM tag of a sealed record (dedup/encryption.py)
BLOCK = 4096
KINDS = ("dataset", "checkpoints", "samples", "logs", "weights", "state")


@dataclass(frozen=True)
class Row:
    scenario: str
    kind: str
    growth: Growth
    baselines: dict[str, int]
    record_bytes: int = RECORD_HEADER  # fixed bytes a stored fragment costs beside its data

    @property
    def disk(self) -> int:
        return self.growth.fs.get("fs_total", 0)

    def to_dict(self) -> dict[str, Any]:
        g, st = self.growth, self.growth.stats
        return {
            "scenario": self.scenario, "kind": self.kind, "files": g.files, "logical": g.logical,
            "fragstore": {
                "fs": g.fs, "stats": st, "ratio": ratio(g.logical, self.disk),
                "dedup_ratio": ratio(g.logical, st.get("unique_bytes", 0)),
                "compression_ratio": ratio(st.get("unique_bytes", 0), st.get("stored_bytes", 0)),
                "checks": checks(g, self.record_bytes),
            },
            "baselines": {
                name: {"bytes": size, "ratio": ratio(g.logical, size)} for name, size in self.baselines.items()
            },
        }


def ratio(logical: int, kept: int) -> float | None:
    return round(logical / kept, 3) if kept > 0 and logical > 0 else None


def checks(g: Growth, record_bytes: int = RECORD_HEADER) -> dict[str, Any]:
    fs, st = g.fs, g.stats
    allowance = (
        fs.get("fs_index", 0) + fs.get("fs_other", 0)
        + record_bytes * max(st.get("fragments", 0), 0) + BLOCK * (max(st.get("packs", 0), 0) + 1)
    )
    return {
        "bound_ok": fs.get("fs_total", 0) <= g.logical + allowance,
        "allowance": allowance,
        "pack_diff": fs.get("fs_packs", 0) - st.get("pack_bytes", 0),
        "index_diff": fs.get("fs_index", 0) - st.get("index_bytes", 0),
        "unique_ok": st.get("unique_bytes", 0) <= g.logical,
    }


def build_rows(
    growth: dict[tuple[str, str], Growth],
    totals: dict[str, Growth],
    baselines: dict[tuple[str, str], dict[str, int]],
    scenarios: tuple[str, ...],
    record_bytes: int = RECORD_HEADER,
) -> list[Row]:
    """Per-kind rows then a total row for each scenario, in scenario order."""
    rows: list[Row] = []
    for scen in scenarios:
        kinds = [k for k in KINDS if (scen, k) in growth]
        for kind in kinds:
            rows.append(Row(scen, kind, growth[(scen, kind)], baselines.get((scen, kind), {}), record_bytes))
        summed: dict[str, int] = {}
        for kind in kinds:
            for name, size in baselines.get((scen, kind), {}).items():
                summed[name] = summed.get(name, 0) + size
        rows.append(Row(scen, "all", totals.get(scen, Growth()), summed, record_bytes))
    rows.extend(_kind_totals(rows))
    return rows


def _kind_totals(rows: list[Row]) -> list[Row]:
    """One row per kind (and one for everything) summed over all scenarios."""
    out: list[Row] = []
    for kind in (*KINDS, "all"):
        mine = [r for r in rows if r.kind == kind]
        if not mine:
            continue
        g = Growth()
        names: dict[str, int] = {}
        for r in mine:
            g.logical += r.growth.logical
            g.files += r.growth.files
            g.add(r.growth.fs, r.growth.stats)
            for name, size in r.baselines.items():
                names[name] = names.get(name, 0) + size
        out.append(Row("all scenarios", kind, g, names, mine[0].record_bytes))
    return out
