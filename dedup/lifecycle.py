"""S3 lifecycle rules: their types, their stored form and when they fall due.

A bucket's lifecycle configuration (PutBucketLifecycleConfiguration; the
server parses and checks the XML, server/s3/lifecycle_xml.py) is kept as JSON
in the bucket's ``bconfig`` row ``lifecycle``. Everything here is pure: each
function answers for one object version (or upload) and a lifecycle *day*
(``StoreConfig.lifecycle_day_seconds``; 86400 outside tests). Carrying the
actions out is dedup/lifecycle_run.py.

When things fall due (AWS's rules, AWS's names):

- ``Expiration`` ``Days``: the version's creation time plus the days, rounded
  up to the next midnight UTC (with a day shorter than 86400 s, not rounded);
  ``Date``: that date. A current version that is an object then expires as a
  DeleteObject without a version id would delete it. Of two rules, the one
  due first wins (the one ``x-amz-expiration`` names).
- A current delete marker with no noncurrent version (an *expired object
  delete marker*) is removed by ``ExpiredObjectDeleteMarker`` at once, and by
  ``Days`` once the marker is that old.
- ``NoncurrentVersionExpiration``: a noncurrent version's days count from
  when it became noncurrent, the creation of the next newer version; with
  ``NewerNoncurrentVersions`` K the K newest noncurrent versions are kept
  whatever their age.
- ``AbortIncompleteMultipartUpload``: days after the upload was initiated.

A delete marker or an upload has no tags and size 0 for a filter.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CONFIG_NAME = "lifecycle"  # the bconfig document
DAY = 86400.0
DEFAULT_MINIMUM_SIZE = "all_storage_classes_128K"  # x-amz-transition-default-minimum-object-size

EXPIRATION = "Expiration"
NONCURRENT = "NoncurrentVersionExpiration"
DELETE_MARKER = "ExpiredObjectDeleteMarker"
ABORT = "AbortIncompleteMultipartUpload"
ACTIONS = (EXPIRATION, NONCURRENT, DELETE_MARKER, ABORT)


@dataclass(frozen=True)
class Filter:
    """Which objects a rule applies to: all of the conditions given.
    ``conjunction`` says it was given as ``<And>`` (kept to answer it back as given)."""

    prefix: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    size_greater_than: int | None = None
    size_less_than: int | None = None
    conjunction: bool = False

    def matches(self, key: str, size: int, tags: Mapping[str, str]) -> bool:
        return (
            key.startswith(self.prefix or "")
            and all(tags.get(k) == v for k, v in self.tags)
            and (self.size_greater_than is None or size > self.size_greater_than)
            and (self.size_less_than is None or size < self.size_less_than)
        )


@dataclass(frozen=True)
class Expiration:
    """One of: ``days``, ``date`` (Unix time of a midnight UTC), ``expired_object_delete_marker``."""

    days: int | None = None
    date: float | None = None
    expired_object_delete_marker: bool | None = None


@dataclass(frozen=True)
class NoncurrentVersionExpiration:
    noncurrent_days: int
    newer_noncurrent_versions: int | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    enabled: bool
    filter: Filter
    legacy_prefix: bool = False  # given as a top-level <Prefix> (Lifecycle V1), not a <Filter>
    expiration: Expiration | None = None
    noncurrent_version_expiration: NoncurrentVersionExpiration | None = None
    abort_days: int | None = None  # AbortIncompleteMultipartUpload DaysAfterInitiation

    @property
    def acts_on_objects(self) -> bool:
        return self.enabled and (self.expiration is not None or self.noncurrent_version_expiration is not None)


@dataclass(frozen=True)
class LifecycleConfiguration:
    rules: tuple[Rule, ...]
    minimum_object_size: str = DEFAULT_MINIMUM_SIZE  # kept and answered back; nothing transitions

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def to_json(self) -> bytes:
        return json.dumps({"v": 1, "rules": [_rule_doc(r) for r in self.rules],
                           "min": self.minimum_object_size}, separators=(",", ":")).encode()


@functools.lru_cache(maxsize=256)
def from_json(raw: bytes) -> LifecycleConfiguration:
    """The configuration a ``bconfig`` row holds (cached: GET and HEAD read it)."""
    doc = json.loads(raw)
    return LifecycleConfiguration(tuple(_rule_of(d) for d in doc["rules"]), doc.get("min", DEFAULT_MINIMUM_SIZE))


def _rule_doc(rule: Rule) -> dict[str, object]:
    f = rule.filter
    doc: dict[str, object] = {
        "id": rule.id, "on": rule.enabled, "legacy": rule.legacy_prefix,
        "f": {"p": f.prefix, "t": [list(t) for t in f.tags], "gt": f.size_greater_than,
              "lt": f.size_less_than, "and": f.conjunction},
    }
    if rule.expiration is not None:
        e = rule.expiration
        doc["exp"] = {"days": e.days, "date": e.date, "eodm": e.expired_object_delete_marker}
    if rule.noncurrent_version_expiration is not None:
        n = rule.noncurrent_version_expiration
        doc["nc"] = {"days": n.noncurrent_days, "newer": n.newer_noncurrent_versions}
    if rule.abort_days is not None:
        doc["abort"] = rule.abort_days
    return doc


def _rule_of(doc: dict) -> Rule:
    f = doc["f"]
    exp, nc = doc.get("exp"), doc.get("nc")
    return Rule(
        id=doc["id"], enabled=doc["on"], legacy_prefix=doc.get("legacy", False),
        filter=Filter(f["p"], tuple((k, v) for k, v in f["t"]), f["gt"], f["lt"], f["and"]),
        expiration=Expiration(exp["days"], exp["date"], exp["eodm"]) if exp else None,
        noncurrent_version_expiration=NoncurrentVersionExpiration(nc["days"], nc["newer"]) if nc else None,
        abort_days=doc.get("abort"),
    )


# -- when actions fall due (pure) ------------------------------------------------------
@dataclass(frozen=True)
class Due:
    """When an action falls due (Unix time) and the rule that sets it."""

    at: float
    rule_id: str


def after(start: float, days: int, day: float) -> float:
    """``days`` lifecycle days after ``start``: AWS rounds up to midnight UTC;
    a test's short day is not rounded."""
    end = start + days * day
    if day < DAY:
        return end
    return math.ceil(end / DAY) * DAY


def _earliest(candidates: Iterable[Due]) -> Due | None:
    return min(candidates, key=lambda d: d.at, default=None)


def current_expiry(config: LifecycleConfiguration, key: str, size: int, tags: Mapping[str, str],
                   created: float, day: float) -> Due | None:
    """When the current version (an object, not a delete marker) expires, by
    ``Expiration`` Days or Date; None if no enabled rule sets it."""
    return _earliest(_expiry(r, r.expiration, created, day) for r in config.rules
                     if r.enabled and r.expiration is not None and r.filter.matches(key, size, tags)
                     and r.expiration.expired_object_delete_marker is None)


def _expiry(rule: Rule, e: Expiration, created: float, day: float) -> Due:
    at = e.date if e.date is not None else after(created, e.days or 0, day)
    return Due(at, rule.id)


def marker_expiry(config: LifecycleConfiguration, key: str, created: float, day: float) -> Due | None:
    """When a current delete marker with no noncurrent version is removed."""
    out = []
    for r in config.rules:
        e = r.expiration
        if not r.enabled or e is None or not r.filter.matches(key, 0, {}):
            continue
        if e.expired_object_delete_marker:
            out.append(Due(after(created, 0, day), r.id))
        elif e.days is not None:
            out.append(Due(after(created, e.days, day), r.id))
    return _earliest(out)


def noncurrent_expiry(config: LifecycleConfiguration, key: str, size: int, tags: Mapping[str, str],
                      noncurrent_since: float, newer: int, day: float) -> Due | None:
    """When a noncurrent version is deleted: ``noncurrent_since`` is when the
    next newer version was created, ``newer`` how many noncurrent versions of
    its key are newer than it. None if a rule keeps it (NewerNoncurrentVersions)."""
    out = []
    for r in config.rules:
        n = r.noncurrent_version_expiration
        if not r.enabled or n is None or not r.filter.matches(key, size, tags):
            continue
        if n.newer_noncurrent_versions is not None and newer < n.newer_noncurrent_versions:
            continue
        out.append(Due(after(noncurrent_since, n.noncurrent_days, day), r.id))
    return _earliest(out)


def abort_due(config: LifecycleConfiguration, key: str, initiated: float, day: float) -> Due | None:
    """When an incomplete multipart upload of ``key`` is aborted."""
    return _earliest(Due(after(initiated, r.abort_days, day), r.id) for r in config.rules
                     if r.enabled and r.abort_days is not None and r.filter.matches(key, 0, {}))


def object_prefixes(config: LifecycleConfiguration) -> list[str]:
    """The fewest key prefixes that hold every object an enabled Expiration or
    NoncurrentVersionExpiration rule can apply to (a walk visits only these)."""
    out: list[str] = []
    for prefix in sorted({r.filter.prefix or "" for r in config.rules if r.acts_on_objects}):
        if not out or not prefix.startswith(out[-1]):
            out.append(prefix)
    return out
