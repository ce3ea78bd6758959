"""Training batches read from the store, with a local cache.

:class:`StoreImages` lists the dataset's image objects once, then serves
batches by index. Each image is fetched from the store the first time a batch
needs it (concurrently, for the whole batch), decoded and kept in memory; with
a cache directory the raw bytes also persist on disk, named by bucket, key and
ETag, so a later run (or a resumed one) reads from disk unless the object changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from benchmarks.gan.data import decode_image
from benchmarks.gan.store import Store


class StoreImages:
    """The images under ``bucket/prefix`` as an indexable, cached dataset."""

    def __init__(
        self, store: Store, bucket: str, prefix: str, size: int, cache_dir: Path | None = None
    ) -> None:
        self.store, self.bucket, self.size = store, bucket, size
        self.entries = [(k, e) for k, _, e in store.list(bucket, prefix) if k.lower().endswith(".png")]
        if not self.entries:
            raise ValueError(f"no PNG images under s3://{bucket}/{prefix}")
        self.cache_dir = cache_dir
        self._decoded: dict[int, torch.Tensor] = {}
        self.fetched = 0  # objects read from the store (not from a cache)

    def __len__(self) -> int:
        return len(self.entries)

    def batch(self, indices: Sequence[int]) -> torch.Tensor:
        """Images ``indices`` stacked as (N, 3, size, size) in [-1, 1]."""
        missing = [i for i in indices if i not in self._decoded]
        if missing:
            with ThreadPoolExecutor(8) as pool:
                for i, data in zip(missing, pool.map(self._raw, missing), strict=True):
                    self._decoded[i] = decode_image(data, self.size)
        return torch.stack([self._decoded[i] for i in indices])

    def _raw(self, index: int) -> bytes:
        key, etag = self.entries[index]
        path = self._cache_path(key, etag)
        if path is not None and path.exists():
            return path.read_bytes()
        data = self.store.get(self.bucket, key)
        self.fetched += 1
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return data

    def _cache_path(self, key: str, etag: str) -> Path | None:
        if self.cache_dir is None:
            return None
        name = hashlib.sha256(f"{self.bucket}\0{key}\0{etag}".encode()).hexdigest()
        return self.cache_dir / name[:2] / f"{name}.png"
