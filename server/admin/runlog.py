"""The last runs of a background job (GC, lifecycle), kept in memory for the
server status (``GET /_fragstore/status``): one run at a time, each one
recorded with its start, duration, trigger and outcome."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

RECENT_RUNS = 20


class RunLog:
    """One run at a time; the last ``RECENT_RUNS`` runs, newest last."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_RUNS)

    @asynccontextmanager
    async def run(self, trigger: str, on_failure: Callable[[], None]) -> AsyncIterator[dict[str, Any]]:
        """Holds the one-run lock around the body; the body fills the yielded
        dict with what the run did. A run that raises is recorded as failed
        (``on_failure`` counts it) and the exception goes on."""
        async with self._lock:
            started = time.time()
            done: dict[str, Any] = {}
            try:
                yield done
            except Exception as exc:
                on_failure()
                self.recent.append({"started": started, "seconds": time.time() - started, "trigger": trigger,
                                    "ok": False, "error": type(exc).__name__})
                raise
            self.recent.append({"started": started, "seconds": time.time() - started, "trigger": trigger,
                                "ok": True, **done})
