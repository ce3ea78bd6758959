"""A server started as a child process on a free loopback port: the part the
benchmarks share (fragstore itself, or the null S3 endpoint).

The child gets ``--host 127.0.0.1 --port P`` appended, fresh credentials in
FRAGSTORE_ACCESS_KEY / FRAGSTORE_SECRET_KEY, and its output in a log file;
it is ready once ``GET /_fragstore/health`` answers 200.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChildServer:
    """One server child process; ``stop()`` terminates it (kill after 30 s)."""

    def __init__(self, name: str, args: list[str], log: Path, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_key = "bench" + secrets.token_hex(4)
        self.secret_key = secrets.token_hex(16)
        full_env = {**os.environ, "FRAGSTORE_ACCESS_KEY": self.access_key,
                    "FRAGSTORE_SECRET_KEY": self.secret_key, **(env or {})}
        self._log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen([*args, "--host", "127.0.0.1", "--port", str(self.port)], cwd=cwd,
                                     env=full_env, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} server exited with {self.proc.returncode}; see {self._log_path.name}")
            try:
                with urllib.request.urlopen(self.url + "/_fragstore/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} server did not become healthy")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
