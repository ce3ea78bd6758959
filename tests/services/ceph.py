"""A throw-away single-node Ceph with the RADOS Gateway (S3), from Debian's packages.

    with start_ceph(tmp_path / "ceph") as ceph:
        s3 = boto3.client("s3", endpoint_url=ceph.endpoint, aws_access_key_id=ceph.access_key, ...)

One monitor, one manager, one BlueStore OSD on a sparse file, and radosgw
with the beast frontend on a free loopback port (``tcp_nodelay=1``: without
it every small GET waits ~48 ms on Nagle and delayed ACK). Everything (config,
data, logs, admin sockets, pid files) lives under the directory given;
authentication between the daemons is off (``auth ... required = none``), and
one S3 user with a generated key pair is made with ``radosgw-admin``. The
daemons run in the foreground under ``timeout`` and are stopped by the PIDs
started. ``check()`` raises :class:`ServiceError` naming the daemon that died
(radosgw 16.2 aborts on some odd requests), so a test says so instead of
hanging.

Bring-up, in order: ``monmaptool --create``, ``ceph-mon --mkfs``, mon, mgr,
``ceph osd new``, ``ceph-osd --mkfs``, osd (placed in the CRUSH map under a
host bucket), wait until it is up, radosgw, wait for HTTP, create the user.
About 20 s on a quiet 2-core machine. Packages: ``PACKAGES`` below
(``scripts/services-deps`` installs them).

    python -m tests.services.ceph DIR     # bring one up by hand; Ctrl-C stops it
"""

from __future__ import annotations

import json
import secrets
import shutil
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.services.common import Daemon, ensure_installed, free_port, run, wait_for

PACKAGES = ("radosgw", "ceph-mon", "ceph-osd", "ceph-mgr", "ceph-common")
BINARIES = ("monmaptool", "ceph-mon", "ceph-mgr", "ceph-osd", "radosgw", "radosgw-admin", "ceph")
GiB = 1 << 30
DEFAULT_LIFETIME_S = 4 * 3600.0

CONFIG = """\
[global]
fsid = {fsid}
mon host = v2:127.0.0.1:{mon_port}
mon initial members = a
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
ms client mode = crc secure
keyring = {dir}/keyring
run dir = {dir}/run
admin socket = {dir}/run/$cluster-$name.asok
pid file = {dir}/run/$cluster-$name.pid
log file = {dir}/log/$cluster-$name.log
mon data = {dir}/mon/$cluster-$name
mgr data = {dir}/mgr/$cluster-$name
osd data = {dir}/osd/$cluster-$name
crash dir = {dir}/crash
exporter sock dir = {dir}/run
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
osd crush chooseleaf type = 0
osd crush update on start = false
osd objectstore = bluestore
osd memory target = {osd_memory}
bluestore block create = true
bluestore block size = {block_size}
bluestore block db create = false
bluestore block wal create = false
mgr initial modules =

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:{rgw_port} tcp_nodelay=1
rgw data = {dir}/rgw
rgw enable usage log = false
rgw gc obj min wait = 60
rgw gc processor period = 60
"""


def missing() -> list[str]:
    """The Ceph programs that are not on PATH."""
    return [name for name in BINARIES if shutil.which(name) is None]


def version() -> str:
    """``ceph version 16.2.15 (...) pacific (stable)`` as the installed packages say it."""
    return run(["ceph", "--version"]).strip()


def unavailable() -> str | None:
    """None when Ceph can run here (installing it first where this process may), else why not."""
    return ensure_installed("ceph", missing)


@dataclass
class Ceph:
    """A running cluster; ``stop()`` (or leaving the ``with`` block) ends it and, unless
    ``keep``, removes its directory."""

    directory: Path
    endpoint: str = ""
    access_key: str = ""
    secret_key: str = ""
    daemons: dict[str, Daemon] = field(default_factory=dict)
    keep: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.directory / "ceph.conf"

    def ceph(self, *args: str, timeout: float = 60) -> str:
        """Run the ``ceph`` CLI against this cluster; its stdout."""
        return run(["ceph", "-c", str(self.conf), "--connect-timeout", str(int(timeout)), *args],
                   timeout=timeout + 10)

    def radosgw_admin(self, *args: str, timeout: float = 60) -> str:
        return run(["radosgw-admin", "-c", str(self.conf), "-n", "client.admin", *args], timeout=timeout)

    def pids(self) -> dict[str, list[int]]:
        """Per daemon, the PIDs to count for its CPU time (``timeout`` and the daemon)."""
        return {name: daemon.pids() for name, daemon in self.daemons.items()}

    def check(self) -> None:
        """Raise ServiceError if any daemon has exited (naming it, with its log's tail)."""
        for daemon in self.daemons.values():
            daemon.check()

    def stop(self) -> None:
        """Stop radosgw, the OSD, the manager and the monitor, in that order; idempotent."""
        for name in reversed(list(self.daemons)):
            self.daemons[name].stop()
        if not self.keep:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Ceph:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.stop()

    # --- bring-up ------------------------------------------------------------------------------

    def _daemon(self, name: str, args: list[str], lifetime_s: float) -> Daemon:
        daemon = Daemon(name, [*args, "-f", "-c", str(self.conf)], self.directory / "log" / f"{name}.out",
                        lifetime_s=lifetime_s)
        self.daemons[name] = daemon
        return daemon

    def _step(self, name: str, started: float) -> float:
        now = time.monotonic()
        self.timings[name] = round(now - started, 2)
        return now

    def _bring_up(self, block_bytes: int, osd_memory: int, lifetime_s: float) -> None:
        d = self.directory
        for sub in ("run", "log", "mon/ceph-mon.a", "mgr/ceph-mgr.x", "osd/ceph-osd.0", "rgw", "crash"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "keyring").touch()
        mon_port, rgw_port, fsid = free_port(), free_port(), str(uuid.uuid4())
        self.conf.write_text(CONFIG.format(fsid=fsid, mon_port=mon_port, rgw_port=rgw_port, dir=d,
                                           osd_memory=osd_memory, block_size=block_bytes))
        t0 = t = time.monotonic()
        run(["monmaptool", "--create", "--fsid", fsid, "--addv", "a", f"[v2:127.0.0.1:{mon_port}]",
             "--set-min-mon-release", "pacific", "--enable-all-features", str(d / "monmap")])
        run(["ceph-mon", "-c", str(self.conf), "--mkfs", "-i", "a", "--monmap", str(d / "monmap")])
        self._daemon("mon", ["ceph-mon", "-i", "a"], lifetime_s)
        self.ceph("mon", "stat", timeout=30)
        t = self._step("mon", t)
        self._daemon("mgr", ["ceph-mgr", "-i", "x"], lifetime_s)
        osd_uuid = str(uuid.uuid4())
        osd_id = self.ceph("osd", "new", osd_uuid).strip()
        run(["ceph-osd", "-c", str(self.conf), "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid], timeout=180)
        t = self._step("osd mkfs", t)
        self._daemon("osd", ["ceph-osd", "-i", osd_id], lifetime_s)
        self.ceph("osd", "crush", "add-bucket", "node", "host")
        self.ceph("osd", "crush", "move", "node", "root=default")
        self.ceph("osd", "crush", "create-or-move", f"osd.{osd_id}", "1.0", "host=node", "root=default")
        wait_for("the OSD up", self._osd_up, 120, alive=self.check, interval=0.5)
        t = self._step("osd up", t)
        self._daemon("rgw", ["radosgw", "-n", "client.rgw.a"], lifetime_s)
        self.endpoint = f"http://127.0.0.1:{rgw_port}"
        wait_for("radosgw answering HTTP", self._rgw_answers, 180, alive=self.check, interval=0.25)
        t = self._step("radosgw", t)
        self.access_key = "RGW" + secrets.token_hex(8).upper()
        self.secret_key = secrets.token_urlsafe(30)
        self.radosgw_admin("user", "create", "--uid", "fragstore-test", "--display-name", "fragstore test",
                           "--access-key", self.access_key, "--secret-key", self.secret_key)
        self._step("user", t)
        self.timings["total"] = round(time.monotonic() - t0, 2)

    def _osd_up(self) -> bool | None:
        dump = json.loads(self.ceph("osd", "dump", "--format", "json"))
        return True if any(osd.get("up") for osd in dump.get("osds", [])) else None

    def _rgw_answers(self) -> bool | None:
        try:
            with urllib.request.urlopen(self.endpoint + "/", timeout=2) as response:
                return True if response.status == 200 else None
        except urllib.error.HTTPError:
            return True  # any S3 answer means the frontend is up
        except (urllib.error.URLError, OSError):
            return None


def start_ceph(directory: Path, *, block_gib: float = 20, osd_memory_gib: float = 2,
               lifetime_s: float = DEFAULT_LIFETIME_S, keep: bool = False) -> Ceph:
    """Bring up a cluster in ``directory`` (created; removed at stop unless ``keep``): a sparse
    BlueStore file of ``block_gib`` GiB, daemons killed by ``timeout`` after ``lifetime_s`` at the
    latest. Raises ServiceError (after stopping what it started) if any step fails."""
    directory.mkdir(parents=True, exist_ok=True)
    cluster = Ceph(directory.resolve(), keep=keep)
    try:
        cluster._bring_up(int(block_gib * GiB), int(osd_memory_gib * GiB), lifetime_s)
    except BaseException:
        cluster.keep = True  # leave the logs for whoever reads the error
        cluster.stop()
        raise
    return cluster


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.rsplit("\n\n", 1)[-1].strip(), file=sys.stderr)
        return 2
    if why := unavailable():
        print(why, file=sys.stderr)
        return 1
    start = time.monotonic()
    with start_ceph(Path(argv[0]), keep=True) as cluster:
        print(f"up in {time.monotonic() - start:.1f} s ({cluster.timings}): {cluster.endpoint} "
              f"access key {cluster.access_key} secret key {cluster.secret_key}", flush=True)
        try:
            while True:
                cluster.check()
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
