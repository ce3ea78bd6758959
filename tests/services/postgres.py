"""A throw-away PostgreSQL cluster from Debian's packages, in a temporary directory.

    with start_postgres() as pg:
        psycopg.connect(pg.dsn)

``initdb -A trust`` (as the ``postgres`` user when this process is root,
since root may not run initdb or the server), then the server itself in the
foreground (what ``pg_ctl start`` would run, minus the daemonizing, so it is
stopped by its PID and dies with the process that started it) with a unix
socket in the cluster's directory and TCP on 127.0.0.1 and a free port, then
``createdb``. ``stop()`` asks for a fast shutdown and removes the directory.
About 2 s. The directory is a new one under the system's temporary directory
(not pytest's, which is private to root and so closed to the ``postgres``
user). Programs are taken from the newest ``/usr/lib/postgresql/N/bin``
(Debian keeps them off PATH), else from PATH.

    python -m tests.services.postgres     # start one by hand; Ctrl-C stops it
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.services.common import Daemon, ServiceError, ensure_installed, free_port, run, wait_for

PACKAGES = ("postgresql",)
PROGRAMS = ("initdb", "postgres", "createdb", "pg_isready")
SUPERUSER = "postgres"
DATABASE = "fragstore"
DEFAULT_LIFETIME_S = 4 * 3600.0


def bin_dir() -> Path | None:
    """Where Debian's PostgreSQL programs are (the newest version), or None."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def missing() -> list[str]:
    where = bin_dir()
    return [name for name in PROGRAMS if where is None or not (where / name).exists()]


def unavailable() -> str | None:
    """None when PostgreSQL can run here (installing it first where this process may), else why not."""
    return ensure_installed("postgresql", missing)


def _os_user() -> str | None:
    """The user the cluster runs as: ``postgres`` when we are root (root may not), else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SUPERUSER)
    except KeyError as exc:
        raise ServiceError("running as root but there is no 'postgres' user to run PostgreSQL as") from exc
    return SUPERUSER


@dataclass
class Postgres:
    """A running cluster with one database; ``dsn`` connects over TCP, ``socket_dsn`` over the
    unix socket."""

    directory: Path
    port: int = 0
    database: str = DATABASE
    user: str = SUPERUSER
    server: Daemon | None = None
    keep: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def socket_dir(self) -> Path:
        return self.directory / "run"

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    @property
    def socket_dsn(self) -> str:
        return f"host={self.socket_dir} port={self.port} user={self.user} dbname={self.database}"

    def pids(self) -> list[int]:
        """The postmaster and its backends, for CPU accounting."""
        if self.server is None:
            return []
        pids = self.server.pids()
        try:
            pids += [int(p) for p in Path(f"/proc/{self.server.pid}/task/{self.server.pid}/children").read_text().split()]
        except OSError:
            pass
        return pids

    def check(self) -> None:
        if self.server is not None:
            self.server.check()

    def createdb(self, name: str) -> str:
        """Create another database; its DSN."""
        tools = bin_dir() or Path("/usr/bin")
        run([str(tools / "createdb"), "-h", str(self.socket_dir), "-p", str(self.port), "-U", self.user, name])
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Fast shutdown (SIGINT: roll back, disconnect, checkpoint), SIGKILL after 20 s; then
        remove the directory unless ``keep``. Idempotent."""
        if self.server is not None and self.server.exited() is None:
            pid = self.server.pid
            try:
                os.kill(pid, signal.SIGINT)
                self.server.process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        if self.server is not None:
            self.server.stop()
        if not self.keep:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Postgres:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.stop()

    def _bring_up(self, settings: dict[str, str], lifetime_s: float) -> None:
        tools = bin_dir()
        if tools is None:
            raise ServiceError("PostgreSQL is not installed (no initdb)")
        user = _os_user()
        data, log = self.directory / "data", self.directory / "log"
        self.socket_dir.mkdir()
        log.mkdir()
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (self.directory, self.socket_dir, log):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        t0 = time.monotonic()
        run([str(tools / "initdb"), "-D", str(data), "-A", "trust", "-U", self.user, "-E", "UTF8",
             "--no-locale", "--no-sync"], user=user, cwd=self.directory, timeout=120)
        self.timings["initdb"] = round(time.monotonic() - t0, 2)
        self.port = free_port()
        options = {"listen_addresses": "127.0.0.1", "unix_socket_directories": str(self.socket_dir),
                   "logging_collector": "off", **settings}
        args = [str(tools / "postgres"), "-D", str(data), "-p", str(self.port)]
        for name, value in options.items():
            args += ["-c", f"{name}={value}"]
        self.server = Daemon("postgres", args, log / "postgres.log", lifetime_s=lifetime_s, user=user)
        ready = [str(tools / "pg_isready"), "-q", "-h", str(self.socket_dir), "-p", str(self.port), "-U", self.user]
        wait_for("PostgreSQL accepting connections",
                 lambda: True if subprocess.run(ready, capture_output=True).returncode == 0 else None,
                 60, alive=self.check, interval=0.05)
        self.createdb(self.database)
        self.timings["total"] = round(time.monotonic() - t0, 2)


def start_postgres(*, settings: dict[str, str] | None = None, lifetime_s: float = DEFAULT_LIFETIME_S,
                   keep: bool = False) -> Postgres:
    """Start a cluster in a new temporary directory with database ``fragstore``; ``settings`` are
    server settings (``-c name=value``). Raises ServiceError (after cleaning up) if it fails."""
    cluster = Postgres(Path(tempfile.mkdtemp(prefix="fragstore-pg-")), keep=keep)
    try:
        cluster._bring_up(settings or {}, lifetime_s)
    except BaseException:
        cluster.keep = True
        cluster.stop()
        raise
    return cluster


def main() -> int:
    if why := unavailable():
        print(why, file=sys.stderr)
        return 1
    with start_postgres() as pg:
        print(f"up in {pg.timings['total']} s: {pg.dsn} (directory {pg.directory})", flush=True)
        try:
            while True:
                pg.check()
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
