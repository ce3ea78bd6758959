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


def table(header: Sequence[str], rows: Sequence[Sequence[str]], left: Sequence[int] = (0,)) -> str:
    """Columns ``left`` (the first) left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [str(c).ljust(w) if i in left else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


TOP_BUCKETS = 10


def _ratio(numerator: int, denominator: int) -> str:
    """``n.nnx``, or ``-`` where there is nothing to divide."""
    return f"{numerator / denominator:.2f}x" if numerator and denominator else "-"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _live(total: int, dead: int | None) -> int:
    return max(0, total - (dead or 0))


def savings_line(stats: StoreStats) -> str:
    """One sentence: what the objects take, and what deleted data still takes."""
    disk = f"{human(stats.disk_bytes)} on disk"
    if stats.dead_manifests:
        held = "" if stats.dead_stored_bytes is None else f"{human(stats.dead_stored_bytes)} are "
        disk += (f", of which {held}fragments of {_plural(stats.dead_manifests, 'deleted object version')} "
                 "awaiting gc")
    if not stats.objects:
        return f"no objects stored; {disk}" if stats.dead_manifests else f"no objects stored yet; {disk} (the index)"
    stored = _live(stats.stored_bytes, stats.dead_stored_bytes)
    objects = f"{human(stats.logical_bytes)} in {_plural(stats.objects, 'object')}"
    fragments = f"{human(stored)} as stored fragments ({_ratio(stats.logical_bytes, stored)})"
    if stats.dead_manifests:
        return f"{objects} take {fragments}; {disk}"
    return f"{objects} take {fragments} and {disk} with the index ({_ratio(stats.logical_bytes, stats.disk_bytes)})"


def stats_text(stats: StoreStats, top: int = TOP_BUCKETS) -> str:
    """The savings summary: totals and ratios, each said what it is, notes on
    what the figures still count, then the largest buckets by logical bytes."""
    unique = _live(stats.unique_bytes, stats.dead_unique_bytes)
    stored = _live(stats.stored_bytes, stats.dead_stored_bytes)
    rows = [
        ["objects", str(stats.objects), "current objects, all buckets"],
        ["logical bytes", human(stats.logical_bytes), "their sizes added up: what GETs return"],
        ["unique fragment bytes", human(stats.unique_bytes), "distinct fragments held (after dedup, before compression)"],
    ]
    dead_rows = stats.dead_manifests > 0
    if dead_rows:
        rows.append(["  awaiting gc", _measured(stats.dead_unique_bytes), "of those, used only by deleted object versions"])
    rows.append(["stored bytes", human(stats.stored_bytes), "the fragments as stored: compressed, a 48-byte header each"])
    if dead_rows:
        rows.append(["  awaiting gc", _measured(stats.dead_stored_bytes), "of those, used only by deleted object versions"])
    rows += [
        ["on disk", human(stats.disk_bytes), f"pack files {human(stats.pack_bytes)} + index {human(stats.index_bytes)}"],
        ["fragments", str(stats.fragments), "distinct fragments"],
        ["packs", str(stats.packs), "pack files"],
        ["dedup ratio", _ratio(stats.logical_bytes, unique), "logical / unique bytes of the current objects"],
        ["compression ratio", _ratio(unique, stored), "unique / stored bytes of the current objects"],
        ["logical / disk", _ratio(stats.logical_bytes, stats.disk_bytes),
         "logical bytes / on disk" + (" (deleted data awaiting gc included)" if dead_rows else "")],
    ]
    if stats.delta_fragments:  # checkpoints stored as deltas (dedup/delta.py): after the compression ratio
        at = next(i for i, r in enumerate(rows) if r[0] == "compression ratio") + 1
        rows[at:at] = [["delta fragments", str(stats.delta_fragments),
                        f"stored as differences from an earlier checkpoint's: {human(stats.delta_raw_bytes)} in "
                        f"{human(stats.delta_stored_bytes)} "
                        f"({_ratio(stats.delta_raw_bytes, stats.delta_stored_bytes)}; part of unique and stored)"]]
        if stats.delta_depths:
            rows[at + 1 : at + 1] = [["  by chain depth", " ".join(str(n) for n in stats.delta_depths),
                                      "delta fragments at depth 1, 2, ... (a GET decodes depth + 1 records)"]]
    parts = [savings_line(stats), table(["", "value", "what it is"], rows, left=(0, 2))]
    notes = _notes(stats)
    if notes:
        parts.append("\n".join(notes))
    parts.append(_buckets(stats, top))
    return "\n\n".join(parts)


def _measured(n: int | None) -> str:
    return "not measured" if n is None else human(n)


def _notes(stats: StoreStats) -> list[str]:
    notes = []
    if stats.dead_manifests:
        notes.append(f"{_plural(stats.dead_manifests, 'deleted or overwritten object version')} await gc: "
                     "`fragstore gc` frees their fragments once they are older than the grace period "
                     "(gc_grace, default 300 s); a server also runs gc every gc_interval.")
    if stats.pending_manifests:
        notes.append(f"{_plural(stats.pending_manifests, 'upload')} being written, or cut off by a crash "
                     "(freed when a server next starts): their fragments are counted above.")
    if stats.uploads:
        notes.append(f"{_plural(stats.uploads, 'multipart upload')} in progress: their parts' fragments "
                     "are counted above, their bytes in no object yet.")
    return notes


def _buckets(stats: StoreStats, top: int) -> str:
    if not stats.buckets:
        return "buckets: none"
    ranked = sorted(stats.buckets, key=lambda b: (-b.logical_bytes, b.name))[:top]
    exact = all(b.unique_bytes is not None for b in stats.buckets)
    title = f"top {top} buckets by logical bytes" if len(stats.buckets) > top else "buckets"
    if exact:
        header = ["bucket", "objects", "logical", "unique in bucket", "dedup in bucket"]
        rows = [[b.name, str(b.objects), human(b.logical_bytes), human(b.unique_bytes),
                 _ratio(b.logical_bytes, b.unique_bytes or 0)] for b in ranked]
        note = ("unique in bucket: distinct fragment bytes its objects use, with the delta bases those need "
                "(a fragment two buckets share counts in both); dedup in bucket: logical / unique in bucket")
        if any(b.delta_fragments for b in stats.buckets):
            header += ["found a base", "delta raw -> stored"]
            for row, b in zip(rows, ranked, strict=True):
                row += [str(b.delta_objects or 0),
                        f"{human(b.delta_raw_bytes or 0)} -> {human(b.delta_stored_bytes or 0)}"]
            note += ("; found a base: object versions with fragments stored as deltas on an earlier "
                     "checkpoint's, delta raw -> stored: those fragments' bytes and their records")
    else:
        header = ["bucket", "objects", "logical"]
        rows = [[b.name, str(b.objects), human(b.logical_bytes)] for b in ranked]
        note = ("each bucket's distinct fragment bytes and dedup ratio: fragstore stats --exact "
                "(reads every manifest)")
    more = f"\n... and {len(stats.buckets) - top} more buckets" if len(stats.buckets) > top else ""
    return f"{title}\n{table(header, rows)}{more}\n{note}"


def gc_text(report: GcReport, grace: float | None = None) -> str:
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
    text = f"{title}\n{table(['', 'value'], rows)}"
    if grace is not None:
        verb = "would be" if report.dry_run else "were"
        text += (f"\nonly object versions deleted more than {_seconds(grace)} ago {verb} reclaimed "
                 "(the grace period; --grace SECONDS sets it)")
    return text


def _seconds(value: float) -> str:
    return f"{int(value)} s" if float(value).is_integer() else f"{value} s"


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
        ["versions under Object Lock", str(report.locked_versions)],
        ["lock violations", str(len(report.lock_violations))],
        ["repaired", "yes" if report.repaired else "no"],
    ]
    lines = [table(["", "value"], rows)]
    lines += [f"corrupt: {h}" for h in report.corrupt_fragments]
    lines += [f"missing: {h}" for h in report.missing_fragments]
    lines += [f"lock violated: {v} (locked, but its bytes are not all there)" for v in report.lock_violations]
    lines.append("OK" if report.ok else "PROBLEMS FOUND")
    return "\n".join(lines)
