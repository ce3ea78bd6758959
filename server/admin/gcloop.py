"""Garbage collection inside the server: one run at a time, on a schedule
(every ``gc_interval`` seconds, server/admin/schedule.py) or on an admin
request, counted in the metrics; the last runs are kept in memory for the
server status (``GET /_fragstore/status``)."""

from __future__ import annotations

import logging
from dataclasses import asdict

from dedup.store import Store
from dedup.types import GcReport
from server.admin.metrics import Metrics
from server.admin.runlog import RunLog

log = logging.getLogger("fragstore.gc")


class GcRunner:
    """Runs ``Store.collect_garbage`` one at a time and counts the runs."""

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self.store = store
        self.metrics = metrics
        self.runs = RunLog()

    async def run(self, *, trigger: str, dry_run: bool = False, grace: float | None = None) -> GcReport:
        """One GC (``grace`` None: the configured grace period)."""
        async with self.runs.run(trigger, self.metrics.gc_failures.labels(trigger).inc) as done:
            report = await self.store.collect_garbage(dry_run=dry_run, grace_seconds=grace)
            done.update(asdict(report))
        self.metrics.gc_done(report, trigger)
        if not report.dry_run:
            freed = report.fragments_freed or report.bytes_reclaimed_on_disk or report.manifests_reclaimed
            log.log(logging.INFO if freed else logging.DEBUG,
                    "gc (%s): freed %d fragments, %d bytes; %d bytes of disk reclaimed", trigger,
                    report.fragments_freed, report.bytes_freed, report.bytes_reclaimed_on_disk)
        return report
