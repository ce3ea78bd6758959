"""What other ways of keeping the same files would cost, computed locally.

Each baseline is fed the (scenario, kind) directories of uploaded bytes in the
order they were written and answers how many bytes that step added:

- ``whole-file``: content-addressed by SHA-256 per file; a repeat costs nothing.
- ``zstd-3``: every file compressed alone with ``zstd -3``; no dedup.
- ``tar+zstd-19``: one archive per step, ``tar | zstd -19 --long``; no dedup
  across steps (each archive stands alone, as a team's per-run tarball would).
- ``restic`` / ``borg``: one repository for the whole benchmark, one snapshot
  (archive) per step with default settings; growth of the repository's files.
- ``xor-delta``: fragstore's codec without its index, after a per-tensor XOR
  against the previous checkpoint of the same extension (the issue-15
  margin script's method, benchmarks/delta_margin.py): the record bytes
  FastCDC fragments (and XORed tensors in 128 KiB pieces) would take, deduped
  by BLAKE3 across the whole benchmark; no index counted.

A baseline whose tool is not installed is skipped with a note.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

from benchmarks.savings_meter import measure_dir


class Baseline(Protocol):
    name: str

    def add(self, step: str, directory: Path) -> int: ...


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


class WholeFile:
    name = "whole-file"

    def __init__(self) -> None:
        self.seen: set[bytes] = set()

    def add(self, step: str, directory: Path) -> int:
        added = 0
        for path in files_under(directory):
            data = path.read_bytes()
            digest = hashlib.sha256(data).digest()
            if digest not in self.seen:
                self.seen.add(digest)
                added += len(data)
        return added


class ZstdPerFile:
    name = "zstd-3"

    def add(self, step: str, directory: Path) -> int:
        with tempfile.TemporaryDirectory() as out:
            subprocess.run(
                ["zstd", "-3", "-q", "-r", "--output-dir-mirror", out, "."],
                cwd=directory, check=True, stdout=subprocess.DEVNULL,
            )
            return sum(p.stat().st_size for p in files_under(Path(out)))


class TarZstd:
    name = "tar+zstd-19"

    def add(self, step: str, directory: Path) -> int:
        tar = subprocess.Popen(["tar", "-cf", "-", "."], cwd=directory, stdout=subprocess.PIPE)
        zstd = subprocess.run(
            ["zstd", "-19", "--long", "-T0", "-q", "-c"], stdin=tar.stdout, stdout=subprocess.PIPE, check=True
        )
        if tar.stdout is not None:
            tar.stdout.close()
        if tar.wait() != 0:
            raise RuntimeError("tar failed")
        return len(zstd.stdout)


class Restic:
    name = "restic"

    def __init__(self, work: Path) -> None:
        self.repo = work / "restic-repo"
        self.env = {**os.environ, "RESTIC_PASSWORD": "savings-benchmark",
                    "RESTIC_REPOSITORY": str(self.repo), "RESTIC_CACHE_DIR": str(work / "restic-cache")}
        subprocess.run(["restic", "init"], env=self.env, check=True, capture_output=True)

    def add(self, step: str, directory: Path) -> int:
        before = measure_dir(self.repo)["fs_total"]
        subprocess.run(["restic", "backup", "--quiet", "--host", "bench", "--tag", step, "."],
                       cwd=directory, env=self.env, check=True, capture_output=True)
        return measure_dir(self.repo)["fs_total"] - before


class Borg:
    name = "borg"

    def __init__(self, work: Path) -> None:
        self.repo = work / "borg-repo"
        self.env = {**os.environ, "BORG_BASE_DIR": str(work / "borg-home"),
                    "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
                    "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes"}
        subprocess.run(["borg", "init", "--encryption=none", str(self.repo)],
                       env=self.env, check=True, capture_output=True)

    def add(self, step: str, directory: Path) -> int:
        before = measure_dir(self.repo)["fs_total"]
        subprocess.run(["borg", "create", f"{self.repo}::{step}", "."],
                       cwd=directory, env=self.env, check=True, capture_output=True)
        return measure_dir(self.repo)["fs_total"] - before


class XorDelta:
    name = "xor-delta"

    def __init__(self) -> None:
        self.seen: set[bytes] = set()
        self.last: dict[str, bytes] = {}

    def add(self, step: str, directory: Path) -> int:
        from benchmarks.delta_margin import series_key, store_xor

        added = 0
        for path in sorted(files_under(directory), key=lambda p: p.stat().st_mtime_ns):
            data = path.read_bytes()
            series = series_key(path)
            added += store_xor(data, self.last.get(series), self.seen)
            self.last[series] = data
        return added


def available(work: Path) -> tuple[list[Baseline], list[str]]:
    """The baselines whose tools are installed, and a note for each one skipped."""
    chosen: list[Baseline] = [WholeFile(), XorDelta()]
    notes: list[str] = []
    if shutil.which("zstd"):
        chosen += [ZstdPerFile(), TarZstd()]
    else:
        notes.append("zstd not installed: zstd-3 and tar+zstd-19 skipped")
    for tool, cls in (("restic", Restic), ("borg", Borg)):
        if shutil.which(tool):
            chosen.append(cls(work))
        else:
            notes.append(f"{tool} not installed: skipped")
    return chosen, notes


def tool_versions() -> dict[str, str]:
    """First line of each installed tool's version output."""
    out: dict[str, str] = {}
    for tool, flag in (("zstd", "--version"), ("restic", "version"), ("borg", "--version")):
        if shutil.which(tool):
            text = subprocess.run([tool, flag], capture_output=True, text=True).stdout.strip()
            out[tool] = text.splitlines()[0] if text else "?"
    return out
