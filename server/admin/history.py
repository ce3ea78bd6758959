"""The savings history: one line a day of where the bytes are, kept by the server.

``<data>/stats-history.jsonl`` holds at most :data:`MAX_DAYS` lines, oldest
first, one JSON object per UTC day:

    {"day": "2026-12-07", "at": 1796601600.0,       the day, and the time of its last sample
     "objects": 10, "logical": 123, "unique": 100,   StoreStats totals at that sample
     "stored": 80, "disk": 90,
     "written": 456,                                 object body bytes received that day (PutObject,
                                                     UploadPart, PostObject, console uploads)
     "saved_by": {"dedup": 23, "delta": 5, "compression": 15},   StoreStats.saved_by
     "buckets": {"name": {"objects": 1, "logical": 2, "unique": 3}}}

A sample every ``history_interval`` seconds (server/admin/schedule.py)
replaces today's line. ``unique`` per bucket (the distinct fragment bytes it
references) needs a scan of its manifests (``Store.stats(exact=True)``): it is
measured by the first sample of a day and carried by the day's later samples,
so the scan runs once a day whatever the interval (again when a bucket
appeared since: the next sample measures them all). Savings by effect are
``saved_by``: dedup ``logical - unique``, delta what delta fragments saved
on their raw bytes, compression the rest of ``unique - stored`` (lines
written before deltas have no ``saved_by``: dedup and compression follow from
their totals).

``written`` is counted by the metrics (``Metrics.written_bytes``) since the
server started; a sample adds what was received since the last one to its
day, so a restart loses at most one interval's count. The file is replaced
whole (temporary file, fsync, rename); an unreadable line is dropped.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dedup.store import Store
from dedup.types import StoreStats
from server.admin.metrics import Metrics

log = logging.getLogger("fragstore.history")
NAME = "stats-history.jsonl"
MAX_DAYS = 400


def day_of(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def read_history(data_dir: Path) -> list[dict[str, Any]]:
    """The days recorded, oldest first (unreadable lines skipped)."""
    try:
        text = (data_dir / NAME).read_text()
    except FileNotFoundError:
        return []
    days = []
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("day"), str):
            days.append(doc)
    return days


def write_history(data_dir: Path, days: list[dict[str, Any]]) -> None:
    path = data_dir / NAME
    temp = path.with_name(f".{NAME}.{os.getpid()}")
    body = "".join(json.dumps(d, separators=(",", ":"), sort_keys=True) + "\n" for d in days[-MAX_DAYS:])
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, body.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)


def sample(stats: StoreStats, at: float, written: int, exact: bool,
           earlier: dict[str, Any] | None = None) -> dict[str, Any]:
    """The day's line from ``stats``; ``earlier`` (the same day's previous line)
    gives the per-bucket unique bytes when ``stats`` is not exact."""
    old_buckets = (earlier or {}).get("buckets", {})
    buckets = {}
    for b in stats.buckets:
        unique = b.unique_bytes if exact else old_buckets.get(b.name, {}).get("unique")
        buckets[b.name] = {"objects": b.objects, "logical": b.logical_bytes, "unique": unique}
    return {"day": day_of(at), "at": at, "objects": stats.objects, "logical": stats.logical_bytes,
            "unique": stats.unique_bytes, "stored": stats.stored_bytes, "disk": stats.disk_bytes,
            "written": written, "saved_by": stats.saved_by, "buckets": buckets}


class HistoryRecorder:
    """Takes a sample on each ``run`` (the schedule's job) and keeps the file."""

    def __init__(self, store: Store, metrics: Metrics, data_dir: Path,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.metrics = metrics
        self.data_dir = data_dir
        self.clock = clock
        self._written_seen = 0

    async def run(self, *, trigger: str) -> dict[str, Any]:
        """Take a sample and write it as today's line."""
        days, line = await self._sample(write=True)
        write_history(self.data_dir, days)
        log.debug("savings history (%s): %s, %d bytes logical, %d stored", trigger, line["day"], line["logical"],
                  line["stored"])
        return line

    async def preview(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """(the days recorded, what a sample now would say) without writing or
        scanning: per-bucket unique bytes as today's line has them."""
        return await self._sample(write=False)

    async def _sample(self, *, write: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        now = self.clock()
        days = read_history(self.data_dir)
        earlier = days[-1] if days and days[-1]["day"] == day_of(now) else None
        exact = write and (earlier is None or
                           any(b.get("unique") is None for b in earlier.get("buckets", {}).values()))
        stats = await self.store.stats(exact=exact)
        written_now = self.metrics.written_bytes
        received = max(0, written_now - self._written_seen)
        line = sample(stats, now, int((earlier or {}).get("written", 0)) + received, exact, earlier)
        if not write:
            return days, line
        self._written_seen = written_now
        if earlier is not None:
            days[-1] = line
        else:
            days.append(line)
        return days, line
