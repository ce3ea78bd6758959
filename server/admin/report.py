"""Readable tables for the maintenance commands (fragstore stats / gc / check)."""

from __future__ import annotations

from collections.abc import Sequence

from dedup.types import CheckReport, GcReport, LifecycleReport, StoreStats


def human(n: int | None) -> str:
    """Bytes in binary units: ``1.5 GiB``."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned first column, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


TOP_BUCKETS = 10


def savings_line(stats: StoreStats) -> str:
    """One sentence: logical bytes, what they take on disk, what that saves."""
    if not stats.logical_bytes:
        return "no object data stored yet"
    saved = stats.logical_bytes - stats.disk_bytes
    share = saved / stats.logical_bytes * 100
    verb = "saving" if saved >= 0 else "costing"
    return (f"{human(stats.logical_bytes)} of objects take {human(stats.disk_bytes)} on disk: "
            f"{verb} {human(abs(saved))} ({abs(share):.1f}%), {stats.total_ratio:.2f}x")


def stats_text(stats: StoreStats, top: int = TOP_BUCKETS) -> str:
    """The savings summary: totals and ratios, then the largest buckets by logical bytes."""
    summary = table(
        ["", "value"],
        [
            ["objects", str(stats.objects)],
            ["logical bytes", human(stats.logical_bytes)],
            ["unique fragment bytes", human(stats.unique_bytes)],
            ["stored bytes", human(stats.stored_bytes)],
            ["on disk (packs + index)", human(stats.disk_bytes)],
            ["fragments", str(stats.fragments)],
            ["packs", str(stats.packs)],
            ["dedup ratio", f"{stats.dedup_ratio:.2f}x"],
            ["compression ratio", f"{stats.compression_ratio:.2f}x"],
            ["logical / disk", f"{stats.total_ratio:.2f}x"],
        ],
    )
    ranked = sorted(stats.buckets, key=lambda b: (-b.logical_bytes, b.name))
    rows = [
        [b.name, str(b.objects), human(b.logical_bytes), human(b.unique_bytes),
         f"{b.logical_bytes / b.unique_bytes:.2f}x" if b.unique_bytes else "-"]
        for b in ranked[:top]
    ]
    title = f"top {top} buckets by logical bytes" if len(ranked) > top else "buckets"
    buckets = table(["bucket", "objects", "logical", "unique", "dedup"], rows)
    more = f"\n... and {len(ranked) - top} more buckets" if len(ranked) > top else ""
    return f"{savings_line(stats)}\n\n{summary}\n\n{title}\n{buckets}{more}"


def gc_text(report: GcReport) -> str:
    title = "garbage collection (dry run: nothing changed)" if report.dry_run else "garbage collection"
    rows = [
        ["object versions reclaimed", str(report.manifests_reclaimed)],
        ["fragments freed", str(report.fragments_freed)],
        ["fragment bytes freed", human(report.bytes_freed)],
        ["packs compacted", str(report.packs_compacted)],
        ["packs deleted", str(report.packs_deleted)],
        ["disk space reclaimed", human(report.bytes_reclaimed_on_disk)],
        ["  of it by punching holes", human(report.bytes_punched)],
    ]
    return f"{title}\n{table(['', 'value'], rows)}"


def lifecycle_text(report: LifecycleReport) -> str:
    rows = [
        ["buckets with rules", str(report.buckets)],
        ["object versions looked at", str(report.versions_scanned)],
        ["uploads looked at", str(report.uploads_scanned)],
        *([f"{action} actions", str(n)] for action, n in report.actions.items()),
    ]
    return f"lifecycle\n{table(['', 'value'], rows)}"


def check_text(report: CheckReport) -> str:
    rows = [
        ["fragments checked", str(report.fragments_checked)],
        ["corrupt fragments", str(len(report.corrupt_fragments))],
        ["missing fragments", str(len(report.missing_fragments))],
        ["refcount errors", str(report.refcount_errors)],
        ["orphan fragments", str(report.orphan_fragments)],
        ["repaired", "yes" if report.repaired else "no"],
    ]
    lines = [table(["", "value"], rows)]
    lines += [f"corrupt: {h}" for h in report.corrupt_fragments]
    lines += [f"missing: {h}" for h in report.missing_fragments]
    lines.append("OK" if report.ok else "PROBLEMS FOUND")
    return "\n".join(lines)
