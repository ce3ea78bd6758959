"""The daemons the service fixtures start: a dead one is reported by name, and they die
with the process that started them (no server outlives a killed test run)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.services.ceph import Ceph
from tests.services.common import Daemon, ServiceError, wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_a_dead_daemon_is_named_with_its_log(tmp_path: Path) -> None:
    daemon = Daemon("rgw", [sys.executable, "-c", "print('assert failed'); raise SystemExit(134)"],
                    tmp_path / "rgw.out", lifetime_s=60)
    daemon.process.wait(timeout=30)
    cluster = Ceph(tmp_path, daemons={"rgw": daemon}, keep=True)
    with pytest.raises(ServiceError, match=r"rgw exited with 134(.|\n)*assert failed"):
        cluster.check()
    cluster.stop()


def test_waiting_stops_at_once_when_the_daemon_dies(tmp_path: Path) -> None:
    daemon = Daemon("mon", ["sleep", "0.2"], tmp_path / "mon.out", lifetime_s=60)
    start = time.monotonic()
    with pytest.raises(ServiceError, match="mon exited with 0"):
        wait_for("never", lambda: None, 60, alive=daemon.check)
    assert time.monotonic() - start < 10
    daemon.stop()


def test_stop_ends_the_daemon_not_just_timeout(tmp_path: Path) -> None:
    daemon = Daemon("sleeper", ["sleep", "300"], tmp_path / "s.out", lifetime_s=600)
    wait_for("the fork", lambda: True if daemon.pid != daemon.process.pid else None, 10)
    own = daemon.pid
    daemon.stop()
    assert not Path(f"/proc/{own}").exists() or "Z" in Path(f"/proc/{own}/stat").read_text().split()[2]


def test_daemons_die_with_a_killed_parent(tmp_path: Path) -> None:
    script = (
        "import sys, time; sys.path.insert(0, sys.argv[1])\n"
        "from pathlib import Path\n"
        "from tests.services.common import Daemon\n"
        "d = Daemon('sleeper', ['sleep', '300'], Path(sys.argv[2]), lifetime_s=600)\n"
        "while d.pid == d.process.pid: time.sleep(0.01)\n"
        "print(d.pid, flush=True); time.sleep(300)\n")
    parent = subprocess.Popen([sys.executable, "-c", script, str(ROOT), str(tmp_path / "s.out")],
                              stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    orphan = int(parent.stdout.readline())
    parent.kill()
    parent.wait()

    def gone() -> bool | None:
        try:
            os.kill(orphan, 0)
        except ProcessLookupError:
            return True
        return None

    wait_for("the daemon to die with its parent", gone, 15)


def test_missing_packages_give_a_reason_where_they_cannot_be_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.services import common

    monkeypatch.setattr(common.os, "geteuid", lambda: 1000)
    why = common.ensure_installed("ceph", lambda: ["radosgw"])
    assert why is not None and "radosgw not installed" in why and "not root" in why
    assert common.ensure_installed("ceph", lambda: []) is None


def test_ci_fails_instead_of_skipping(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.services.fixtures import _unavailable

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must provide"):
        _unavailable("ceph: radosgw not installed")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="radosgw not installed"):
        _unavailable("ceph: radosgw not installed")
