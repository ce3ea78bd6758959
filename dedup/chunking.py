"""Content-defined chunking (FastCDC) over a stream of buffers.

Only the compiled FastCDC extension is acceptable: the pure-Python fallback is
~100x slower, so importing this module fails loudly without it.
"""

from __future__ import annotations

from dataclasses import dataclass

try:
    from fastcdc.fastcdc_cy import fastcdc_cy as _fastcdc
except ImportError as exc:  # pragma: no cover - depends on the installed wheel
    raise ImportError(
        "fragstore needs the compiled FastCDC extension (fastcdc.fastcdc_cy); "
        "reinstall the 'fastcdc' package from a wheel for this platform"
    ) from exc


@dataclass(frozen=True)
class ChunkerParams:
    min_size: int
    avg_size: int
    max_size: int

    def to_json(self) -> dict[str, int]:
        return {"min": self.min_size, "avg": self.avg_size, "max": self.max_size}


def cut_points(view: memoryview, params: ChunkerParams, final: bool) -> tuple[list[int], int]:
    """Fragment boundaries in ``view``.

    Returns (ends, consumed): ``ends`` are the exclusive end offsets of complete
    fragments; ``consumed`` is the last of them. When ``final`` is false the
    bytes after ``consumed`` may belong to a fragment the next buffer completes,
    so the caller carries them over; when true every byte is in a fragment.
    """
    ends: list[int] = []
    if not len(view):
        return ends, 0
    for chunk in _fastcdc(view, params.min_size, params.avg_size, params.max_size):
        ends.append(chunk.offset + chunk.length)
    if not final and ends:
        # The last fragment ended at the buffer's end, not at a content cut,
        # unless it reached max_size; carry it over either way (cheap, exact).
        ends.pop()
    return ends, (ends[-1] if ends else 0)
