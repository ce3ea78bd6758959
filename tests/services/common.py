"""What the service fixtures share: free ports, child daemons started under ``timeout``,
waiting with a deadline, and installing the Debian packages when they are missing.

Every daemon is a foreground process started by :class:`Daemon` under
``timeout --kill-after`` with the parent-death signal set (so one left behind
by a killed test run dies with it, or at the latest when its time is up), in its
own session (a Ctrl-C in the terminal does not reach it), with its
output in a log file; it is stopped by the PID that was started, never by name.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[2]
SERVICES_DEPS = ROOT / "scripts" / "services-deps"
INSTALL_LIMIT_S = 900.0

T = TypeVar("T")
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGTERM this child (``timeout``, which passes it on) when the process that started it dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class ServiceError(RuntimeError):
    """A service did not come up, or died: the message says which and shows its log's tail."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, *,
             alive: Callable[[], None] | None = None, interval: float = 0.2) -> T:
    """Call ``probe`` until it returns something other than None; ``alive`` (called each round)
    raises if a daemon it depends on died, so a dead process is reported at once, not after
    the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None:
            alive()
        result = probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise ServiceError(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(interval)


class Daemon:
    """One foreground daemon: ``timeout -k 10 LIFETIME ARGS...``, output to ``log``."""

    def __init__(self, name: str, args: Sequence[str], log: Path, *, lifetime_s: float,
                 env: dict[str, str] | None = None, user: str | None = None) -> None:
        self.name = name
        self.log = log
        self._log = open(log, "ab")
        command = ["timeout", "-k", "10", str(int(lifetime_s)), *args]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                        user=user, preexec_fn=_die_with_parent)

    @property
    def pid(self) -> int:
        """The daemon's own PID (the child of ``timeout``), or timeout's until it has forked."""
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        except OSError:
            return self.process.pid
        return int(children[0]) if children else self.process.pid

    def pids(self) -> list[int]:
        """``timeout`` and the daemon (for CPU accounting: timeout itself costs nothing)."""
        own = self.pid
        return [self.process.pid] if own == self.process.pid else [self.process.pid, own]

    def exited(self) -> int | None:
        return self.process.poll()

    def check(self) -> None:
        code = self.process.poll()
        if code is not None:
            why = "timed out (timeout's limit)" if code in (124, 137) else f"exited with {code}"
            raise ServiceError(f"{self.name} {why}; last lines of {self.log}:\n{log_tail(self.log)}")

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM (timeout passes it on to the daemon), SIGKILL to both after ``grace`` seconds."""
        if self.process.poll() is None:
            own = self.pid
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                for pid in {own, self.process.pid}:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.process.wait()
        self._log.close()


def run(args: Sequence[str], *, timeout: float = 120, env: dict[str, str] | None = None,
        user: str | None = None, cwd: Path | None = None) -> str:
    """Run a command to completion; its stdout, or ServiceError with its output."""
    try:
        done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, env=env, user=user,
                              cwd=cwd, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(f"{' '.join(args)}: no answer in {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise ServiceError(f"{' '.join(args)} exited with {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return done.stdout


def ensure_installed(service: str, missing: Callable[[], list[str]]) -> str | None:
    """None when ``missing()`` is empty, after installing ``service``'s packages with
    ``scripts/services-deps --apt-only SERVICE`` where this process may (root, apt-get);
    else why the service cannot run here (the reason a test is skipped with)."""
    absent = missing()
    if not absent:
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return (f"{service}: {', '.join(absent)} not installed, and this process cannot install them "
                f"({'not root' if os.geteuid() != 0 else 'no apt-get'}); run scripts/services-deps as root")
    try:
        run([str(SERVICES_DEPS), "--apt-only", service], timeout=INSTALL_LIMIT_S)
    except ServiceError as exc:
        return f"{service}: {', '.join(absent)} not installed and scripts/services-deps failed: {exc}"
    absent = missing()
    return f"{service}: still missing after scripts/services-deps: {', '.join(absent)}" if absent else None
