"""Data written under one compression policy stays readable under any other,
and a store holding several codecs checks clean."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np

from dedup import ObjectMeta, Store, StoreConfig


async def _chunks(data: bytes, step: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), step):
        yield data[i : i + step]


async def _read(store: Store, key: str) -> bytes:
    reader = await store.open_object("b-policy", key)
    out = bytearray()
    async for chunk in reader:
        out += chunk
    return bytes(out)


def _floats(seed: int) -> bytes:
    return np.random.default_rng(seed).normal(size=400_000).astype(np.float32).tobytes()


def test_policy_change_keeps_every_object_readable(tmp_path: Path) -> None:
    async def scenario() -> None:
        written: dict[str, bytes] = {}
        for n, policy in enumerate(("off", "fast", "max", "off")):
            store = await Store.open(tmp_path, StoreConfig(compression=policy))
            if n == 0:
                await store.create_bucket("b-policy", "owner")
            key = f"{policy}-{n}"
            written[key] = _floats(n)
            await store.put_object("b-policy", key, _chunks(written[key]), ObjectMeta())
            for k, data in written.items():
                assert await _read(store, k) == data, (policy, k)
            report = await store.check()
            assert report.ok, report
            await store.close()
        store = await Store.open(tmp_path, StoreConfig(compression="off"))
        stats = await store.stats()
        await store.close()
        # the fast and max objects were stored compressed, the off ones raw
        assert stats.stored_bytes < stats.unique_bytes

    asyncio.run(scenario())
