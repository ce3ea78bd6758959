"""Helpers shared by the engine tests: a small store configuration, bodies
streamed in arbitrary pieces, reading an object back whole, and deterministic
contents (so a subprocess and the test can regenerate the same bytes)."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from dedup import Store, holes
from dedup.types import ByteRange, KiB, ObjectMeta, PartInfo, PutResult, StoreConfig, UploadInfo

T = TypeVar("T")

# Small fragments and packs so that a few hundred KiB exercise every path.
SMALL = StoreConfig(
    min_fragment=2 * KiB,
    avg_fragment=8 * KiB,
    max_fragment=32 * KiB,
    pack_size=256 * KiB,
    batch_bytes=64 * KiB,
    min_part_size=64 * KiB,
)
OWNER = "owner-a"
META = ObjectMeta()


def content(seed: int | str, size: int) -> bytes:
    """``size`` pseudo-random bytes determined by ``seed`` (incompressible, no
    accidental dedup between different seeds)."""
    return random.Random(seed).randbytes(size)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def split(data: bytes, sizes: Iterable[int]) -> list[bytes]:
    """``data`` cut into pieces of the given sizes (cycled; zero-length pieces kept)."""
    sizes = list(sizes) or [len(data) or 1]
    out, pos, i = [], 0, 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        out.append(data[pos : pos + n])
        pos += n
        i += 1
    return out


async def stream(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        await asyncio.sleep(0)
        yield piece


async def put(
    store: Store, bucket: str, key: str, data: bytes, piece: int = 40 * KiB,
    meta: ObjectMeta = META, **kw: object,
) -> PutResult:
    return await store.put_object(bucket, key, stream(split(data, [piece])), meta, **kw)  # type: ignore[arg-type]


async def read(
    store: Store, bucket: str, key: str, byte_range: ByteRange | None = None,
    part_number: int | None = None, version_id: str | None = None,
) -> bytes:
    """The bytes a GET returns, consumed the way a response streamer does."""
    reader = await store.open_object(bucket, key, byte_range, part_number, version_id)
    out = bytearray()
    try:
        async for chunk in reader:
            out += chunk
    finally:
        await reader.aclose()
    assert len(out) == reader.length
    return bytes(out)


async def gather(*aws: Awaitable[T]) -> list[T]:
    return list(await asyncio.gather(*aws))


Runner = Callable[[Awaitable[T]], T]


def assert_same(got: bytes, want: bytes) -> None:
    """Byte equality with a short message (pytest's diff of megabytes is useless)."""
    if got == want:
        return
    at = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), min(len(got), len(want)))
    raise AssertionError(f"{len(got)} bytes (md5 {md5(got)}) != {len(want)} bytes (md5 {md5(want)}); first difference at {at}")


def start_upload(store: Store, run: Runner[UploadInfo], bucket: str, key: str = "mp", meta: ObjectMeta = META) -> str:
    """A new multipart upload's id."""
    return run(store.create_multipart_upload(bucket, key, meta)).upload_id


async def upload_part(
    store: Store, bucket: str, key: str, upload_id: str, number: int, data: bytes,
    piece: int = 17 * KiB, **kw: Any,
) -> tuple[PartInfo, int]:
    return await store.upload_part(bucket, key, upload_id, number, stream(split(data, [piece])), **kw)


def can_punch(path: Path) -> bool:
    """Whether the filesystem of the directory ``path`` punches holes."""
    return holes.Holes(path).supported
