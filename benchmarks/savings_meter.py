"""Attribute the store's growth to scenarios and kinds of data, and keep the bytes.

The workload names the kind of every upload (:class:`~benchmarks.gan.store.UploadObserver`).
Uploads of one kind in a row form a *segment*; at every change of kind (and at
the end of a scenario) the meter takes a snapshot: the data directory walked
on the filesystem (apparent sizes and allocated blocks, split into packs,
index and the rest) and the server's stats endpoint. A segment's growth is the
difference of its two snapshots; a (scenario, kind) figure is the sum over its
segments. Uploads are sequential between segments (a concurrent batch is
always of one kind), so nothing of one kind lands in another's segment.

Every uploaded body is also copied to ``files/<scenario>/<kind>/<bucket>/<key>``
(``~N`` appended for the N-th overwrite of a key) for the local baselines.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

FS_FIELDS = ("fs_packs", "fs_index", "fs_other", "fs_total", "fs_blocks")


@dataclass
class Growth:
    """Bytes written by the client and the store's growth for one (scenario, kind)."""

    logical: int = 0
    files: int = 0
    fs: dict[str, int] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)

    def add(self, fs: dict[str, int], stats: dict[str, int]) -> None:
        for name, value in fs.items():
            self.fs[name] = self.fs.get(name, 0) + value
        for name, value in stats.items():
            self.stats[name] = self.stats.get(name, 0) + value


def measure_dir(root: Path) -> dict[str, int]:
    """Apparent sizes of the regular files under ``root`` by area, plus blocks."""
    out = dict.fromkeys(FS_FIELDS, 0)
    for dirpath, _, names in os.walk(root):
        area = _area(Path(dirpath).relative_to(root))
        for name in names:
            st = os.lstat(os.path.join(dirpath, name))
            out[area] += st.st_size
            out["fs_total"] += st.st_size
            out["fs_blocks"] += st.st_blocks * 512
    return out


def _area(rel: Path) -> str:
    top = rel.parts[0] if rel.parts else ""
    return {"packs": "fs_packs", "index": "fs_index"}.get(top, "fs_other")


def _diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after}


class Meter:
    """An UploadObserver that measures growth per (scenario, kind) and tees bytes."""

    def __init__(self, data_dir: Path, files_dir: Path, stats: Callable[[], dict[str, int]]) -> None:
        self.data_dir, self.files_dir, self._stats = data_dir, files_dir, stats
        self.growth: dict[tuple[str, str], Growth] = {}
        self.totals: dict[str, Growth] = {}
        self.scenario = ""
        self._kind: str | None = None
        self._mark: tuple[dict[str, int], dict[str, int]] | None = None
        self._lock = threading.Lock()
        self._versions: dict[Path, int] = {}

    def snapshot(self) -> tuple[dict[str, int], dict[str, int]]:
        return measure_dir(self.data_dir), self._stats()

    @contextmanager
    def scenario_of(self, name: str) -> Iterator[None]:
        """Attribute uploads in the block to scenario ``name``; measure its total."""
        self.scenario = name
        start = self.snapshot()
        try:
            yield
        finally:
            with self._lock:
                self._close()
            end = self.snapshot()
            total = self.totals.setdefault(name, Growth())
            total.add(_diff(end[0], start[0]), _diff(end[1], start[1]))
            for (scen, _), g in self.growth.items():
                if scen == name:
                    total.logical += g.logical
                    total.files += g.files

    def before(self, kind: str) -> None:
        with self._lock:
            if kind != self._kind:
                self._close()
                self._kind, self._mark = kind, self.snapshot()

    def after(self, kind: str, bucket: str, key: str, data: bytes) -> None:
        with self._lock:
            g = self.growth.setdefault((self.scenario, kind), Growth())
            g.logical += len(data)
            g.files += 1
            path = self._tee_path(kind, bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def kind_dir(self, scenario: str, kind: str) -> Path:
        return self.files_dir / scenario / kind

    def _close(self) -> None:
        if self._kind is None or self._mark is None:
            return
        fs, stats = self.snapshot()
        growth = self.growth.setdefault((self.scenario, self._kind), Growth())
        growth.add(_diff(fs, self._mark[0]), _diff(stats, self._mark[1]))
        self._kind, self._mark = None, None

    def _tee_path(self, kind: str, bucket: str, key: str) -> Path:
        safe = "/".join(part if part not in ("", ".", "..") else "_" for part in key.split("/"))
        path = self.kind_dir(self.scenario, kind) / bucket / safe
        count = self._versions.get(path, 0)
        self._versions[path] = count + 1
        return path if count == 0 else path.with_name(f"{path.name}~{count}")
