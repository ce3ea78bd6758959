"""Filesystem helpers: the one way a non-LMDB file is published.

Every file other than packs and the index (FORMAT, credentials) is written to a
temporary name, fsynced, renamed over the target, and the directory fsynced,
so a crash leaves either the old file or the new one, never a torn one.

``<data>/LOCK`` says who has a data directory open: a writer (the server,
``gc``, ``check --repair``) holds it exclusively, readers (dedup/readonly.py)
share it, so no reader ever sees a writer's half-done work.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from dedup.errors import DataDirLocked


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_file(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Atomically replace ``path`` with ``data`` (write temp, fsync, rename, fsync dir)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # (processes sharing a data directory)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # a temp file left by a crash keeps its own mode otherwise
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


def lock_data_dir(root: Path, *, shared: bool = False, many: bool = False) -> int:
    """Lock ``<data>/LOCK`` (exclusive; ``shared`` for a reader, which never
    creates the file; ``many`` for one of many writers on a shared index,
    which share it with each other and keep out the others); the descriptor,
    to close when done. DataDirLocked when another process holds it in a
    conflicting way."""
    if shared:
        fd = os.open(root / "LOCK", os.O_RDONLY)
    else:
        fd = os.open(root / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared or many else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        raise DataDirLocked(f"{root} is in use by another process") from exc
    return fd
