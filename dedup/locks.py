"""Object Lock (WORM): which versions may not be deleted, and which retention
changes are allowed. Pure rules; the write jobs that delete or rewrite a
version (dedup/versioning.py, dedup/objects.py) call them inside their
transaction, so every path (DeleteObject, DeleteObjects, lifecycle, a
retention change) obeys them.

- A legal hold blocks deleting the version, whatever its retention.
- COMPLIANCE retention blocks it, for everyone, until the retain-until date;
  the retention can be extended, never shortened or turned into GOVERNANCE.
- GOVERNANCE retention blocks it until the date unless the request bypasses
  governance (``x-amz-bypass-governance-retention`` and the permission for it,
  decided by the server); shortening or removing it needs the bypass too.
- A delete without a version id writes a delete marker and deletes nothing:
  always allowed. A bucket with Object Lock keeps versioning Enabled.

A bucket's default retention (``{"mode": ..., "days": n}`` or ``"years"``) is
given to every new version written without a retention of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from dedup import errors
from dedup.types import ObjectMeta

GOVERNANCE = "GOVERNANCE"
COMPLIANCE = "COMPLIANCE"
MODES = (GOVERNANCE, COMPLIANCE)
DAY = 86400.0
YEAR_DAYS = 365


def delete_refusal(meta: ObjectMeta, now: float, bypass: bool) -> str | None:
    """Why the version with ``meta`` may not be deleted now (None: it may)."""
    if meta.legal_hold:
        return "the version is under a legal hold"
    if meta.lock_mode and meta.lock_until > now:
        if meta.lock_mode == COMPLIANCE:
            return "the version is under COMPLIANCE retention"
        if not bypass:
            return "the version is under GOVERNANCE retention"
    return None


def check_delete(meta: ObjectMeta, now: float, bypass: bool) -> None:
    reason = delete_refusal(meta, now, bypass)
    if reason is not None:
        raise errors.ObjectLocked(reason)


def change_retention(meta: ObjectMeta, mode: str, until: float, now: float, bypass: bool) -> ObjectMeta:
    """``meta`` with a new retention (mode "" removes it), if the rules allow."""
    active = bool(meta.lock_mode) and meta.lock_until > now
    weaker = not mode or until < meta.lock_until or (meta.lock_mode == COMPLIANCE and mode != COMPLIANCE)
    if active and weaker:
        if meta.lock_mode == COMPLIANCE:
            raise errors.ObjectLocked("COMPLIANCE retention cannot be shortened, removed or changed to GOVERNANCE")
        if not bypass:
            raise errors.ObjectLocked("GOVERNANCE retention is shortened or removed only with a governance bypass")
    return replace(meta, lock_mode=mode, lock_until=until if mode else 0.0)


def with_default(meta: ObjectMeta, default: Mapping[str, object] | None, written: float) -> ObjectMeta:
    """A new version's metadata with the bucket's default retention, unless it has one."""
    if meta.lock_mode or not default:
        return meta
    days = float(default.get("days", 0)) or float(default.get("years", 0)) * YEAR_DAYS  # type: ignore[arg-type]
    return replace(meta, lock_mode=str(default["mode"]), lock_until=written + days * DAY)


def without_lock(meta: ObjectMeta) -> ObjectMeta:
    """A copy's metadata: Object Lock settings are not copied with the bytes."""
    return replace(meta, lock_mode="", lock_until=0.0, legal_hold=False)
