"""What fragstore saved, split by effect, from the stats the server reports.

An object's logical bytes pass through the engine's effects in turn, each
taking some bytes off: deduplication (a fragment already stored is stored
once: ``logical - unique``), then compression (``unique - stored``). The
view takes :class:`Savings`, a list of effects, so an effect the engine
reports later (delta against similar fragments) is one more entry here and
nothing changes in the templates or charts: a stats document that carries
``saved_by`` (effect name -> bytes) is taken as it is.

Per bucket the engine measures logical and unique bytes (unique only with an
exact scan: ``/_fragstore/stats?exact=true``), not stored bytes: a bucket's
compression is estimated with the store's compression ratio, and said to be.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LABELS = {
    "dedup": "Deduplication",
    "delta": "Delta",
    "compression": "Compression",
}
COLOURS = {  # bar colours, each at least 3:1 against the page's background (WCAG 1.4.11)
    "stored": "#1f4e79",
    "dedup": "#2e7d32",
    "delta": "#8a4b00",
    "compression": "#6a1b9a",
}


@dataclass(frozen=True)
class Effect:
    name: str
    saved: int | None  # bytes taken off; None: not measured
    estimated: bool = False

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name.capitalize())

    @property
    def colour(self) -> str:
        return COLOURS.get(self.name, "#455a64")


@dataclass(frozen=True)
class Savings:
    name: str
    logical: int
    effects: tuple[Effect, ...]

    @property
    def saved(self) -> int:
        return sum(e.saved or 0 for e in self.effects)

    @property
    def stored(self) -> int | None:
        """Bytes left after every effect (None when an effect is unmeasured)."""
        if any(e.saved is None for e in self.effects):
            return None
        return max(0, self.logical - self.saved)

    @property
    def estimated(self) -> bool:
        return any(e.estimated for e in self.effects)

    @property
    def ratio(self) -> float | None:
        stored = self.stored
        return self.logical / stored if stored else None


def _int(doc: Mapping[str, Any], name: str) -> int | None:
    value = doc.get(name)
    return int(value) if isinstance(value, int | float) else None


def store_savings(total: Mapping[str, Any]) -> Savings:
    """The whole store's savings from the ``total`` of a stats document."""
    logical = _int(total, "logical_bytes") or 0
    saved_by = total.get("saved_by")
    if isinstance(saved_by, Mapping):
        return Savings("all buckets", logical, tuple(Effect(str(k), int(v)) for k, v in saved_by.items()))
    unique, stored = _int(total, "unique_bytes"), _int(total, "stored_bytes")
    dedup = None if unique is None else logical - unique
    compression = None if unique is None or stored is None else unique - stored
    return Savings("all buckets", logical, (Effect("dedup", dedup), Effect("compression", compression)))


def bucket_savings(bucket: Mapping[str, Any], total: Mapping[str, Any]) -> Savings:
    """A bucket's savings: dedup measured (when ``unique_bytes`` is), compression
    estimated at the store's ratio."""
    logical = _int(bucket, "logical_bytes") or 0
    unique = _int(bucket, "unique_bytes")
    if unique is None:
        return Savings(str(bucket.get("name", "")), logical, (Effect("dedup", None), Effect("compression", None)))
    store_unique, store_stored = _int(total, "unique_bytes"), _int(total, "stored_bytes")
    kept = store_stored / store_unique if store_unique and store_stored is not None else 1.0
    compression = int(round(unique * max(0.0, 1.0 - kept)))
    return Savings(str(bucket.get("name", "")), logical,
                   (Effect("dedup", logical - unique), Effect("compression", compression, estimated=True)))


def history_savings(day: Mapping[str, Any]) -> Savings:
    """A day of the savings history (server/admin/history.py) as savings, named by its day."""
    total = store_savings({"logical_bytes": day.get("logical"), "unique_bytes": day.get("unique"),
                           "stored_bytes": day.get("stored"), "saved_by": day.get("saved_by")})
    return Savings(str(day.get("day", "")), total.logical, total.effects)
