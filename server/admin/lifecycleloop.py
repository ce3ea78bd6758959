"""Lifecycle rules carried out by the server itself: one run at a time, every
``lifecycle_interval`` seconds (server/admin/schedule.py) or on an admin
request (``POST /_fragstore/lifecycle``), counted in the metrics (the last
runs also kept in memory for ``GET /_fragstore/status``), one log
line per action (logger ``fragstore.lifecycle``: action, bucket, key,
version, rule). What a run does, and why it is safe to kill and to repeat:
dedup/lifecycle_run.py."""

from __future__ import annotations

import logging

from dedup.store import Store
from dedup.types import LifecycleAction, LifecycleReport
from server.admin.metrics import Metrics
from server.admin.runlog import RunLog

log = logging.getLogger("fragstore.lifecycle")


class LifecycleRunner:
    """Runs ``Store.run_lifecycle`` one at a time and counts runs and actions."""

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self.store = store
        self.metrics = metrics
        self.runs = RunLog()

    async def run(self, *, trigger: str) -> LifecycleReport:
        async with self.runs.run(trigger, self.metrics.lifecycle_failures.labels(trigger).inc) as done:
            report = await self.store.run_lifecycle(on_action=self._done)
            done.update({"buckets": report.buckets, "versions_scanned": report.versions_scanned,
                         "uploads_scanned": report.uploads_scanned, "actions": dict(report.actions)})
        self.metrics.lifecycle_runs.labels(trigger).inc()
        self.metrics.lifecycle_last.set_to_current_time()
        taken = sum(report.actions.values())
        log.log(logging.INFO if taken else logging.DEBUG,
                "lifecycle (%s): %d actions; %d buckets, %d versions and %d uploads looked at",
                trigger, taken, report.buckets, report.versions_scanned, report.uploads_scanned)
        return report

    def _done(self, a: LifecycleAction) -> None:
        self.metrics.lifecycle_actions.labels(a.action).inc()
        target = f"upload {a.upload_id}" if a.upload_id else f"version {a.version_id}"
        marker = f", delete marker {a.marker_version_id}" if a.marker_version_id else ""
        log.info("lifecycle %s: bucket %s key %r %s rule %r%s", a.action, a.bucket, a.key, target, a.rule_id, marker)
