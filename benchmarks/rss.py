"""Measuring a server process from outside: peak RSS while a request runs, and the page cache.

    with RssSampler(pid) as rss:
        s3.put_object(...)
    rss.peak_bytes, rss.peak_anon_bytes, rss.start_bytes

The sampler reads the resident set of the process and all its descendants
(/proc/PID/status VmRSS and RssAnon, psutil for the process tree and where
there is no /proc) every 50 ms in a daemon thread. ``drop_page_cache`` writes 3 to
/proc/sys/vm/drop_caches after ``sync`` when this process may, and otherwise
says why not.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

import psutil

DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def _status_memory(pid: int) -> tuple[int, int] | None:
    """(VmRSS, RssAnon) in bytes from /proc/PID/status, or None where there is none."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]) * 1024, int(fields["RssAnon"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None


def tree_memory(pid: int) -> tuple[int, int]:
    """(resident, anonymous resident) bytes of ``pid`` and its descendants; 0 for what has gone.
    Anonymous is 0 where /proc does not say (non-Linux)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    rss = anon = 0
    for process in processes:
        status = _status_memory(process.pid)
        if status is None:
            try:
                status = process.memory_info().rss, 0
            except psutil.Error:
                continue
        rss, anon = rss + status[0], anon + status[1]
    return rss, anon


class RssSampler:
    """Samples ``tree_memory(pid)`` every ``interval`` seconds between enter and exit."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.start_bytes = 0
        self.peak_bytes = 0
        self.peak_anon_bytes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        rss, anon = tree_memory(self.pid)
        self.peak_bytes = max(self.peak_bytes, rss)
        self.peak_anon_bytes = max(self.peak_anon_bytes, anon)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> RssSampler:
        self.start_bytes, self.peak_anon_bytes = tree_memory(self.pid)
        self.peak_bytes = self.start_bytes
        self._thread.start()
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def can_drop_page_cache() -> str | None:
    """None when ``drop_page_cache`` can work here, else why it cannot."""
    if not DROP_CACHES.exists():
        return f"{DROP_CACHES} does not exist"
    if not os.access(DROP_CACHES, os.W_OK):
        return f"{DROP_CACHES} is not writable by this process (container or not root)"
    return None


def drop_page_cache() -> None:
    """``sync`` then drop clean page cache, dentries and inodes (raises OSError if refused)."""
    os.sync()
    DROP_CACHES.write_text("3\n")
