"""A background job on a fixed interval, as a task of the app's lifespan: GC
(server/admin/gcloop.py) and lifecycle (server/admin/lifecycleloop.py).

It sleeps ``interval`` seconds, runs the job, and again; 0 turns it off. On
shutdown it stops sleeping at once, but a run already under way is let
finish, so the store closes between runs (a killed run would be safe too:
both jobs are crash-safe, only slower to redo).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

log = logging.getLogger("fragstore.schedule")


class Runner(Protocol):
    async def run(self, *, trigger: str) -> object: ...


class Schedule:
    """``runner.run(trigger="schedule")`` every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, runner: Runner, interval: float, name: str = "gc") -> None:
        self.runner = runner
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
                await self.runner.run(trigger="schedule")
            except Exception:
                log.exception("scheduled %s failed", self.name)
