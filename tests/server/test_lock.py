"""One writer per data directory: a second server, or any process opening the
store, is refused while a server holds it; the maintenance commands go through
the running server instead."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.live_server import ROOT, free_port, start_server


def test_second_server_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_server(data) as server:
        s3 = server.client()
        s3.create_bucket(Bucket="locked")
        second = subprocess.run(
            [sys.executable, "-m", "server", "serve", "--data", str(data), "--port", str(free_port())],
            cwd=ROOT, env=server.env, capture_output=True, text=True, timeout=120,
        )
        assert second.returncode == 2, second.stdout + second.stderr
        assert "in use by another process" in second.stderr
        assert "Traceback" not in second.stderr
        s3.put_object(Bucket="locked", Key="still-served", Body=b"yes")  # the first one is unharmed
        assert s3.get_object(Bucket="locked", Key="still-served")["Body"].read() == b"yes"
        assert (data / "server.json").exists()


def test_engine_open_is_refused_while_served(tmp_path: Path) -> None:
    data = tmp_path / "data"
    script = (
        "import asyncio, sys\n"
        "from dedup.errors import DataDirLocked\n"
        "from dedup.store import Store\n"
        "try:\n"
        "    asyncio.run(Store.open(sys.argv[1]))\n"
        "except DataDirLocked:\n"
        "    sys.exit(42)\n"
    )
    with start_server(data):
        held = subprocess.run([sys.executable, "-c", script, str(data)], cwd=ROOT, timeout=120)
        assert held.returncode == 42
    free = subprocess.run([sys.executable, "-c", script, str(data)], cwd=ROOT, timeout=120)
    assert free.returncode == 0  # released on shutdown


def test_maintenance_without_server_file_is_refused(tmp_path: Path) -> None:
    """The lock is held but no server says where it is: nothing is opened, exit 2."""
    data = tmp_path / "data"
    with start_server(data) as server:
        (data / "server.json").unlink()
        done = subprocess.run([sys.executable, "-m", "server", "gc", "--data", str(data)],
                              cwd=ROOT, env=server.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "in use by another process" in done.stderr
