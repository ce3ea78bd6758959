"""Deterministic object contents for the robustness tests and the soak.

An object's bytes are never kept in memory between writing and checking: a
:class:`Blob` names them (a tuple of ``(seed, size)`` blocks) and
:func:`materialize` makes them again. Seeds below :data:`POOL` are shared
blocks, so many objects (and many clients) write the same fragments and the
refcounts get exercised; other seeds are unique to one object.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache

KiB = 1024
MiB = 1024 * KiB
BLOCK = 64 * KiB
POOL = 48


@dataclass(frozen=True)
class Blob:
    """Bytes named by their blocks: ``(seed, size)`` each."""

    blocks: tuple[tuple[int, int], ...]

    @property
    def size(self) -> int:
        return sum(size for _, size in self.blocks)


@lru_cache(maxsize=POOL * 2)
def _block(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def materialize(blob: Blob) -> bytes:
    return b"".join(_block(seed, size) if seed < POOL else random.Random(seed).randbytes(size)
                    for seed, size in blob.blocks)


@lru_cache(maxsize=4096)
def md5_of(blob: Blob) -> str:
    return hashlib.md5(materialize(blob)).hexdigest()


def small_blob(rng: random.Random) -> Blob:
    """0 to 64 KiB: a shared block's prefix (dedups) or unique bytes."""
    size = rng.choice((0, 1, 100, 4 * KiB, 20 * KiB, 64 * KiB - 1))
    seed = rng.randrange(POOL) if rng.random() < 0.5 else unique_seed(rng)
    return Blob(((seed, size),))


def large_blob(rng: random.Random, max_size: int = 2 * MiB) -> Blob:
    """Shared blocks in random order, a unique block here and there."""
    blocks: list[tuple[int, int]] = []
    total = rng.randrange(BLOCK, max_size + 1)
    while total > 0:
        size = min(BLOCK, total)
        seed = unique_seed(rng) if rng.random() < 0.25 else rng.randrange(POOL)
        blocks.append((seed, size))
        total -= size
    return Blob(tuple(blocks))


def sized_blob(rng: random.Random, size: int) -> Blob:
    """Exactly ``size`` bytes (a multipart part), mostly shared blocks."""
    blocks = []
    while size > 0:
        piece = min(BLOCK, size)
        blocks.append((unique_seed(rng) if rng.random() < 0.25 else rng.randrange(POOL), piece))
        size -= piece
    return Blob(tuple(blocks))


def unique_seed(rng: random.Random) -> int:
    return rng.randrange(POOL, 1 << 62)
