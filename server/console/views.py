"""How the console writes numbers and times (Jinja filters)."""

from __future__ import annotations

from datetime import UTC, datetime

UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB")


def size(n: int | float | None) -> str:
    """``n`` bytes in binary units: "512 bytes", "19.1 MiB"."""
    if n is None:
        return "—"
    value = float(n)
    for unit in UNITS:
        if abs(value) < 1024 or unit == UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"  # unreachable


def count(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def when(timestamp: float | None) -> str:
    """A Unix time as UTC, to the second."""
    if timestamp is None:
        return "—"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def percent(part: float | None, whole: float | None) -> str:
    if not part or not whole:
        return "0 %"
    return f"{100 * part / whole:.1f} %"


def ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if days else f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s"


FILTERS = {"size": size, "count": count, "when": when, "percent": percent, "ratio": ratio,
           "duration": duration}
