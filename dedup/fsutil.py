"""Filesystem helpers: the one way a non-LMDB file is published.

Every file other than packs and the index (FORMAT, credentials) is written to a
temporary name, fsynced, renamed over the target, and the directory fsynced,
so a crash leaves either the old file or the new one, never a torn one.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_file(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Atomically replace ``path`` with ``data`` (write temp, fsync, rename, fsync dir)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def tree_bytes(path: Path) -> int:
    """Bytes the files below ``path`` occupy on the filesystem (allocated blocks)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                continue
    return total
