"""A background job on a fixed interval, as a task of the app's lifespan: GC
(server/admin/gcloop.py) and lifecycle (server/admin/lifecycleloop.py).

It sleeps ``interval`` seconds, runs the job, and again; 0 turns it off. On
shutdown it stops sleeping at once, but a run already under way is let
finish, so the store closes between runs (a killed run would be safe too:
both jobs are crash-safe, only slower to redo).

With many gateways on one index, a schedule given a ``lease`` runs only while
this process holds it (dedup/kv.py: one process at a time, taken over when
its holder dies); the others ask again each interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("fragstore.schedule")


class Runner(Protocol):
    async def run(self, *, trigger: str) -> object: ...


class Schedule:
    """``runner.run(trigger="schedule")`` every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, runner: Runner, interval: float, name: str = "gc",
                 lease: Callable[[], bool] | None = None) -> None:
        self.runner = runner
        self.lease = lease
        self.interval = interval
        self.name = name
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0:
            self._task = asyncio.create_task(self._loop(), name=f"fragstore-{self.name}")

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
                if self.lease is not None and not await asyncio.to_thread(self.lease):
                    log.debug("scheduled %s: another gateway holds the lease", self.name)
                    continue
                await self.runner.run(trigger="schedule")
            except Exception:
                log.exception("scheduled %s failed", self.name)
