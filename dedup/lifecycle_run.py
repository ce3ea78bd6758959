"""One lifecycle run over the store: plan in short read transactions, act in
writer jobs (dedup/lifecycle_jobs.py).

For each bucket with a lifecycle configuration, the walk visits only the key
prefixes its rules can apply to (dedup/lifecycle.py ``object_prefixes``), a
page of keys at a time: each page is planned in one read transaction (a key's
current row and its noncurrent rows, newest first, against the rules and
``now``), then carried out, and the next page starts after the page's last
key. Then one pass over the upload table, a page at a time, aborts the
incomplete multipart uploads that are due. Memory is bounded by a page, never
by a bucket.

Order inside a key: its noncurrent versions are deleted oldest first (so the
versions left keep the newer neighbour the plan measured them by), then its
current version. Keys of a page run side by side (their jobs share group
commits). A run keeps no state: a crash, or a run repeated, re-plans from the
index as it is, and every job re-checks its condition (no double action).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from dedup import keys, versioning
from dedup.index import Index, ObjectRow, Txn
from dedup.lifecycle import (
    ABORT,
    ACTIONS,
    DELETE_MARKER,
    EXPIRATION,
    NONCURRENT,
    LifecycleConfiguration,
    abort_due,
    current_expiry,
    marker_expiry,
    noncurrent_expiry,
    object_prefixes,
)
from dedup.lifecycle_jobs import (
    abort_upload,
    config_of,
    expire_current,
    expire_noncurrent,
    remove_marker,
)
from dedup.types import LifecycleAction, LifecycleReport
from dedup.writer import Writer, WriteTxn

PAGE_KEYS = 256  # keys planned per read transaction
PAGE_ACTIONS = 1000  # actions planned before they are carried out
PAGE_UPLOADS = 1000

OnAction = Callable[[LifecycleAction], None]
Job = Callable[[WriteTxn, LifecycleAction, float, float], LifecycleAction | None]
JOBS: dict[str, Job] = {
    EXPIRATION: expire_current, DELETE_MARKER: remove_marker, NONCURRENT: expire_noncurrent, ABORT: abort_upload,
}


def plan_key(config: LifecycleConfiguration, bucket: str, head: ObjectRow, noncurrent: Iterable[ObjectRow],
             now: float, day: float, limit: int) -> list[LifecycleAction]:
    """The actions due on one key at ``now`` (at most ``limit``), in the order
    they are to be done: noncurrent versions oldest first, then the current one."""
    out: list[LifecycleAction] = []
    since, newer = head.mtime, 0
    for row in noncurrent:
        size, tags = (0, {}) if row.is_marker else (row.size, row.meta.tags)
        due = noncurrent_expiry(config, head.key, size, tags, since, newer, day)
        if due is not None and due.at <= now:
            out.append(LifecycleAction(NONCURRENT, bucket, head.key, row.version_id, due.rule_id))
            if len(out) >= limit:
                return out[::-1]
        since, newer = row.mtime, newer + 1
    out.reverse()
    if head.is_marker:
        marker = marker_expiry(config, head.key, head.mtime, day) if newer == 0 else None
        if marker is not None and marker.at <= now:
            out.append(LifecycleAction(DELETE_MARKER, bucket, head.key, head.version_id, marker.rule_id))
    else:
        due = current_expiry(config, head.key, head.size, head.meta.tags, head.mtime, day)
        if due is not None and due.at <= now:
            out.append(LifecycleAction(EXPIRATION, bucket, head.key, head.version_id, due.rule_id))
    return out


class Run:
    """One run: ``now`` and the day length fixed for all of it."""

    def __init__(self, writer: Writer, now: float, day: float, on_action: OnAction | None) -> None:
        self.writer = writer
        self.index: Index = writer.index
        self.now = now
        self.day = day
        self.on_action = on_action
        self.versions = self.uploads = self.buckets = 0
        self.done: Counter[str] = Counter()

    def report(self) -> LifecycleReport:
        return LifecycleReport(self.buckets, self.versions, self.uploads, {a: self.done[a] for a in ACTIONS})

    async def run(self) -> LifecycleReport:
        configured = self._configured()
        self.buckets = len(configured)
        for bucket, bid, config in configured:
            for prefix in object_prefixes(config):
                await self._walk(bucket, bid, prefix)
        aborting = {b for b, _, c in configured if any(r.enabled and r.abort_days is not None for r in c.rules)}
        if aborting:
            await self._uploads(aborting)
        return self.report()

    def _configured(self) -> list[tuple[str, int, LifecycleConfiguration]]:
        """(bucket, id, configuration) of every bucket that has one (a short list of small documents)."""
        with self.index.read() as txn:
            out = []
            for name, raw in txn.cursor(db=self.index.db["buckets"]):
                bid = int(json.loads(raw)["id"])
                config = config_of(txn, self.index, bid)
                if config is not None:
                    out.append((name.decode(), bid, config))
            return out

    async def _walk(self, bucket: str, bid: int, prefix: str) -> None:
        start: bytes | None = prefix.encode()
        while start is not None:
            with self.index.read() as txn:
                config = config_of(txn, self.index, bid)
                if config is None:
                    return
                plans, start, again = self._plan_page(txn, bucket, bid, config, prefix.encode(), start)
            progress = await self._carry_out(plans)
            if again and start is not None and not progress:
                start += b"\x00"  # a key planned again where nothing could be done: go past it

    def _plan_page(self, txn: Txn, bucket: str, bid: int, config: LifecycleConfiguration, prefix: bytes,
                   start: bytes) -> tuple[list[list[LifecycleAction]], bytes | None, bool]:
        """Per key, the actions of one page; where the next page starts (None:
        the prefix is done) and whether that is a key planned again (one with
        more actions than a page holds)."""
        plans: list[list[LifecycleAction]] = []
        planned = 0
        for n, (raw, value) in enumerate(keys.scan(txn, self.index.db["objects"], bid, start)):
            if not raw.startswith(prefix):
                break
            if n >= PAGE_KEYS or planned >= PAGE_ACTIONS:
                return plans, raw, False
            head = ObjectRow.decode(raw.decode(), value)
            rows = self._counted(versioning.noncurrent(txn, self.index, head))
            if not any(r.enabled and r.noncurrent_version_expiration for r in config.rules):
                rows = itertools.islice(rows, 1)  # enough to tell a lone delete marker
            self.versions += 1
            plan = plan_key(config, bucket, head, rows, self.now, self.day, PAGE_ACTIONS - planned)
            if plan:
                plans.append(plan)
                planned += len(plan)
            if planned >= PAGE_ACTIONS:
                return plans, raw, True
        return plans, None, False

    def _counted(self, rows: Iterator[tuple[bytes, ObjectRow]]) -> Iterator[ObjectRow]:
        for _, row in rows:
            self.versions += 1
            yield row

    async def _carry_out(self, plans: list[list[LifecycleAction]]) -> int:
        """Each key's actions in order, keys side by side; how many were done.
        A failing job fails the run, once the other keys' jobs have finished."""
        done = await asyncio.gather(*(self._key(plan) for plan in plans), return_exceptions=True)
        for result in done:
            if isinstance(result, BaseException):
                raise result
        return sum(n for n in done if isinstance(n, int))

    async def _key(self, plan: list[LifecycleAction]) -> int:
        n = 0
        for action in plan:
            n += await self._act(action)
        return n

    async def _act(self, action: LifecycleAction) -> int:
        job = JOBS[action.action]
        result = await self.writer.run(lambda w: job(w, action, self.now, self.day))
        if result is None:
            return 0
        self.done[result.action] += 1
        if self.on_action is not None:
            self.on_action(result)
        return 1

    async def _uploads(self, buckets: set[str]) -> None:
        after = b""
        while True:
            plans: list[list[LifecycleAction]] = []
            with self.index.read() as txn:
                page = _uploads_page(txn, self.index, after)
                for upload_id, doc in page:
                    self.uploads += 1
                    if doc["bucket"] not in buckets:
                        continue
                    config = _bucket_config(txn, self.index, doc["bucket"])
                    due = abort_due(config, doc["key"], float(doc["t"]), self.day) if config else None
                    if due is not None and due.at <= self.now:
                        plans.append([LifecycleAction(ABORT, doc["bucket"], doc["key"], None, due.rule_id,
                                                      upload_id=upload_id)])
            await self._carry_out(plans)
            if len(page) < PAGE_UPLOADS:
                return
            after = page[-1][0].encode() + b"\x00"


def _uploads_page(txn: Txn, index: Index, after: bytes) -> list[tuple[str, dict]]:
    cur = txn.cursor(db=index.db["uploads"])
    out: list[tuple[str, dict]] = []
    found = cur.set_range(after) if after else cur.first()
    if not found:
        return out
    for key, value in cur:
        out.append((key.decode(), json.loads(value)))
        if len(out) >= PAGE_UPLOADS:
            break
    return out


def _bucket_config(txn: Txn, index: Index, bucket: str) -> LifecycleConfiguration | None:
    doc = index.bucket(txn, bucket)
    return config_of(txn, index, int(doc["id"])) if doc is not None else None


async def run_lifecycle(writer: Writer, now: float, day: float, on_action: OnAction | None = None) -> LifecycleReport:
    return await Run(writer, now, day, on_action).run()

