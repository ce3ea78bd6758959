"""Engine contract (reported to the engine's owner): ``head_bucket`` and the
calls that look a bucket up answer NoSuchBucket for any name, even one the
index cannot hold as a key (empty). The
server now refuses such names itself (server/s3/bucketnames.py); this is the
engine's side."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dedup import errors
from dedup.store import Store


@pytest.mark.parametrize("name", [
    "",
    "b" * 600,
])
def test_head_bucket_of_impossible_name(tmp_path: Path, name: str) -> None:
    async def run() -> None:
        store = await Store.open(tmp_path / "data")
        try:
            with pytest.raises(errors.NoSuchBucket):
                await store.head_bucket(name)
            with pytest.raises(errors.NoSuchBucket):
                await store.list_objects(name)
        finally:
            await store.close()

    asyncio.run(run())
