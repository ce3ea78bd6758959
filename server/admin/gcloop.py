"""Garbage collection inside the server: one run at a time, on a schedule or on
an admin request, counted in the metrics.

The schedule is a task of the app's lifespan: it sleeps ``gc_interval``
seconds, runs GC, and again; 0 turns it off. On shutdown it stops sleeping at
once, but a run already under way is let finish, so the store closes between
runs (a killed run would be safe too: GC is crash-safe, only slower to redo).
"""

from __future__ import annotations

import asyncio
import logging

from dedup.store import Store
from dedup.types import GcReport
from server.admin.metrics import Metrics

log = logging.getLogger("fragstore.gc")


class GcRunner:
    """Runs ``Store.collect_garbage`` one at a time and counts the runs."""

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self.store = store
        self.metrics = metrics
        self._lock = asyncio.Lock()

    async def run(self, *, trigger: str, dry_run: bool = False, grace: float | None = None) -> GcReport:
        """One GC (``grace`` None: the configured grace period)."""
        async with self._lock:
            try:
                report = await self.store.collect_garbage(dry_run=dry_run, grace_seconds=grace)
            except Exception:
                self.metrics.gc_failures.labels(trigger).inc()
                raise
        self.metrics.gc_done(report, trigger)
        if not report.dry_run:
            freed = report.fragments_freed or report.bytes_reclaimed_on_disk or report.manifests_reclaimed
            log.log(logging.INFO if freed else logging.DEBUG,
                    "gc (%s): freed %d fragments, %d bytes; %d bytes of disk reclaimed", trigger,
                    report.fragments_freed, report.bytes_freed, report.bytes_reclaimed_on_disk)
        return report


class Schedule:
    """Background GC every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, runner: GcRunner, interval: float) -> None:
        self.runner = runner
        self.interval = interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0:
            self._task = asyncio.create_task(self._loop(), name="fragstore-gc")

    async def stop(self) -> None:
        """Stop sleeping; wait for a run under way to finish."""
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._stopping.wait(), self.interval)
                return
            except TimeoutError:
                pass
            try:
                await self.runner.run(trigger="schedule")
            except Exception:
                log.exception("scheduled gc failed")
