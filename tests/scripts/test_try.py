"""The README's first hour, as written: ``scripts/try`` follows its quick start
and its aws CLI and boto3 section in a fresh clone and a fresh shell; CI runs
the quick start's test command."""

from __future__ import annotations

import shlex
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRY = ROOT / "scripts" / "try"
PORT = 9000  # the README's


def quick_start() -> list[str]:
    """The commands of the README's Quick start block, comments dropped."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index("## Quick start")
    opening = lines.index("```sh", start)
    closing = lines.index("```", opening + 1)
    return [line.split("#")[0].strip() for line in lines[opening + 1 : closing] if line.split("#")[0].strip()]


def port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_ci_runs_the_readme_test_command() -> None:
    run, test = quick_start()  # scripts/try relies on this shape too
    assert (run, test) == ("scripts/run", "scripts/test")
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    assert shlex.split(ci[-1])[0] == test, ".ci/run must end by running the README's test command"


@pytest.mark.skipif(not (ROOT / ".git").exists() or shutil.which("git") is None, reason="needs a git checkout")
def test_readme_works_as_written_in_a_fresh_clone() -> None:
    if port_taken(PORT):
        pytest.skip(f"port {PORT} is taken (a scripts/run?): the README's commands need it")
    done = subprocess.run([str(TRY)], capture_output=True, text=True, timeout=900)
    if done.returncode == 3:
        pytest.skip(f"port {PORT} was taken: {done.stderr.strip()}")
    assert done.returncode == 0, f"scripts/try failed:\n{done.stderr[-10000:]}\n{done.stdout[-2000:]}"
    assert "passed: the README's quick start and aws/boto3 section work as written" in done.stderr


@pytest.mark.skipif(not (ROOT / ".venv" / "setup-stamp").exists(), reason="needs the venv scripts/setup made")
def test_setup_does_nothing_when_nothing_changed() -> None:
    # scripts/run and scripts/test call scripts/setup on every start: with the
    # same pyproject.toml and no new extra it must not run pip or print a word
    # (issue 12: they re-installed for ~12 s and printed setuptools' banner).
    log = ROOT / ".venv" / "setup.log"
    before = log.stat().st_mtime_ns if log.exists() else None
    done = subprocess.run([str(ROOT / "scripts" / "setup")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", "")
    assert (log.stat().st_mtime_ns if log.exists() else None) == before, "pip ran"
