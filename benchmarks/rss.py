"""Measuring server processes from outside: peak RSS while a request runs, CPU time, and the page cache.

    with RssSampler(pid) as rss:            # or RssSampler([pid, ...]): several process trees
        s3.put_object(...)
    rss.peak_bytes, rss.peak_anon_bytes, rss.start_bytes
    tree_cpu_seconds([pid, ...])            # utime + stime so far, descendants included

The sampler reads the resident set of the processes and all their descendants
(/proc/PID/status VmRSS and RssAnon, psutil for the process tree and where
there is no /proc) every 50 ms in a daemon thread. CPU time is utime + stime
from /proc/PID/stat (all threads, exited ones included; clock ticks, 10 ms
on Linux), psutil's cpu_times where there is no /proc. ``drop_page_cache`` writes 3 to
/proc/sys/vm/drop_caches after ``sync`` when this process may, and otherwise
says why not.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
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


def tree_processes(pids: int | Sequence[int]) -> list[psutil.Process]:
    """The processes ``pids`` and all their descendants that are still there (each once)."""
    found: dict[int, psutil.Process] = {}
    for pid in [pids] if isinstance(pids, int) else pids:
        try:
            root = psutil.Process(pid)
            for process in (root, *root.children(recursive=True)):
                found.setdefault(process.pid, process)
        except psutil.Error:
            continue
    return list(found.values())


def _stat_cpu_ticks(pid: int) -> int | None:
    """utime + stime of ``pid`` in clock ticks from /proc/PID/stat, or None where there is none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5), counted from after "(comm)"
    except (OSError, IndexError, ValueError):
        return None


TICK = 1 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01


def tree_cpu_seconds(pids: int | Sequence[int]) -> float:
    """User + system CPU seconds so far of ``pids`` and their descendants (those still running)."""
    total = 0.0
    for process in tree_processes(pids):
        ticks = _stat_cpu_ticks(process.pid)
        if ticks is not None:
            total += ticks * TICK
            continue
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def tree_memory(pid: int | Sequence[int]) -> tuple[int, int]:
    """(resident, anonymous resident) bytes of ``pid`` (or several) and their descendants; 0 for
    what has gone. Anonymous is 0 where /proc does not say (non-Linux)."""
    processes = tree_processes(pid)
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

    def __init__(self, pid: int | Sequence[int], interval: float = 0.05) -> None:
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
