"""Packs in an S3 bucket (``--packs s3://BUCKET/PREFIX``): the remote pack store.

Every group commit that appends writes one *segment*: an immutable object
``PREFIX/<pack id, 8 hex digits>.pack`` holding the group's records back to
back, in the same record format as a local pack (dedup/format.py), so that a
segment can be scanned (compaction, rebuilding an index) without the index.
The writer thread collects a group's records in a :class:`Segment` and PUTs
it whole (with Content-MD5: the store refuses a body that arrived damaged)
before the index transaction that points at it commits; a 200 from the store
is the durability the engine relies on.

Reads are ranged GETs, one per run of blocks that are not cached, through a
bounded block cache under the data directory (dedup/packcache.py); segments
never change, so the cache is always right. GC deletes whole segments once
nothing points into them (compaction moves what is still live first). S3 has
no holes: ``punches`` is False, and a freed record's bytes come back when
compaction rewrites its segment.

The client is boto3 (botocore) used from threads: the engine's pack I/O
already runs on threads (the writer thread, the readers' worker threads), and
botocore brings SigV4, retries and a pool of kept-alive connections shared by
every thread (docs/DESIGN.md says why not aiobotocore or httpx). This is the
only module of dedup/ that imports boto3; it is imported only when a store is
opened with S3 packs.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from dedup.errors import PackStoreUnavailable
from dedup.format import HEADER_SIZE, RecordHeader, unpack_header
from dedup.packcache import BLOCK, BlockCache
from dedup.packstore import OWNER, PackFigures, PackInfo, PackOps, SegmentedPacks

log = logging.getLogger("fragstore.s3packs")

SUFFIX = ".pack"
READAHEAD = 4  # blocks a cache miss fetches at least (within the segment): sequential reads ask less often
FETCHERS = 8  # background GETs at once (prefetch)
READ_AHEAD_BYTES = 16 * 1024 * 1024  # what a sequential reader plans and prefetches ahead
MISSING = {"NoSuchKey", "404", "NotFound"}


@dataclass(frozen=True)
class S3Target:
    """Where the segments go and how to reach the store."""

    bucket: str
    prefix: str = ""  # "" or ending in "/"
    endpoint: str | None = None
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    region: str = "us-east-1"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass
class OpStats:
    """Requests of one kind: how many, how many failed, seconds spent."""

    count: int = 0
    errors: int = 0
    seconds: float = 0.0


class S3Packs(SegmentedPacks):
    """Segments in one bucket under one prefix, with a local block cache."""

    read_ahead = READ_AHEAD_BYTES
    max_pack = 5 * 1024 * 1024 * 1024  # one PUT's limit in S3

    def __init__(self, target: S3Target, cache_dir: Path, cache_bytes: int) -> None:
        self.target = target
        self.cache = BlockCache(cache_dir, cache_bytes)
        self.ops: dict[str, OpStats] = {}
        self._ops_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(FETCHERS, thread_name_prefix="fragstore-s3-fetch")
        self._inflight: dict[tuple[int, int], Future[dict[int, bytes]]] = {}  # (pack, block) being fetched
        self._inflight_lock = threading.Lock()
        self._fetched = 0  # blocks fetched from the store (cache misses, read-ahead and prefetch included)
        self._waited = 0  # blocks a read found being prefetched (hits of the read-ahead)
        super().__init__()
        config = Config(
            s3={"addressing_style": "path"}, signature_version="s3v4", max_pool_connections=32,
            retries={"mode": "standard", "total_max_attempts": 4}, connect_timeout=10, read_timeout=120,
            # the stores this talks to (Ceph RGW 16, MinIO, ...) do not all take the
            # flexible checksums newer botocore sends by default; Content-MD5 is universal
            request_checksum_calculation="when_required", response_checksum_validation="when_required",
        )
        self.client: Any = boto3.session.Session().client(
            "s3", endpoint_url=target.endpoint, region_name=target.region, config=config,
            aws_access_key_id=target.access_key, aws_secret_access_key=target.secret_key)

    # -- requests ----------------------------------------------------------------
    def key(self, pack_id: int) -> str:
        return f"{self.target.prefix}{pack_id:08x}{SUFFIX}"

    def _call(self, op: str, pack_id: int | None, **kw: Any) -> Any:
        """One request, timed and counted; a missing object is FileNotFoundError,
        a store that cannot be reached or refuses is PackStoreUnavailable."""
        started = time.perf_counter()
        failed = True
        try:
            result = getattr(self.client, op)(Bucket=self.target.bucket, **kw)
            failed = False
            return result
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in MISSING and pack_id is not None:
                failed = False
                raise FileNotFoundError(f"segment {self.key(pack_id)} is not in the pack store") from None
            raise PackStoreUnavailable(f"pack store {op} failed: {code or exc}") from exc
        except BotoCoreError as exc:
            raise PackStoreUnavailable(f"pack store {op} failed: {exc}") from exc
        finally:
            with self._ops_lock:
                stats = self.ops.setdefault(op, OpStats())
                stats.count += 1
                stats.errors += failed
                stats.seconds += time.perf_counter() - started

    def _get(self, pack_id: int, start: int, end: int) -> bytes:
        """Bytes [start, end) of a segment (fewer where it ends first)."""
        got = self._call("get_object", pack_id, Key=self.key(pack_id), Range=f"bytes={start}-{end - 1}")
        try:
            return got["Body"].read()  # type: ignore[no-any-return]
        except BotoCoreError as exc:
            raise PackStoreUnavailable(f"pack store read failed: {exc}") from exc

    @property
    def url(self) -> str:
        return self.target.url

    def _read_owner(self) -> str:
        return self._call("get_object", 0, Key=f"{self.target.prefix}{OWNER}")["Body"].read().decode().strip()  # type: ignore[no-any-return]

    def _write_owner(self, owner: str) -> None:
        self._call("put_object", None, Key=f"{self.target.prefix}{OWNER}", Body=owner.encode())

    def _stat(self, pack_id: int) -> int:
        return int(self._call("head_object", pack_id, Key=self.key(pack_id))["ContentLength"])

    def put_segment(self, pack_id: int, body: bytes) -> None:
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        self._call("put_object", None, Key=self.key(pack_id), Body=body, ContentMD5=md5,
                   ContentType="application/octet-stream")
        self._sizes[pack_id] = len(body)

    # -- the PackStore protocol ----------------------------------------------------
    def read(self, pack_id: int, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        if self.cache.limit <= 0:
            data = self._get(pack_id, offset, offset + length)
        else:
            data = self._cached(pack_id, offset, length)
        if len(data) != length:
            raise OSError(f"short read in segment {pack_id:08x} at {offset}")
        return data

    def _cached(self, pack_id: int, offset: int, length: int) -> bytes:
        first, last = offset // BLOCK, (offset + length - 1) // BLOCK
        blocks: dict[int, bytes] = {}
        missing: list[int] = []
        for n in range(first, last + 1):
            with self._inflight_lock:
                pending = self._inflight.get((pack_id, n))
            if pending is not None:  # being prefetched: wait for it (a failed one is fetched again)
                try:
                    got: bytes | None = pending.result().get(n)
                    self._waited += 1
                except Exception:
                    got = None
            else:
                got = self.cache.get(pack_id, n)
            if got is None:
                missing.append(n)
            else:
                blocks[n] = got
        size = self._sizes.get(pack_id)
        for lo, hi in _runs(missing):  # one ranged GET per run of missing blocks
            if size is not None and hi == missing[-1]:  # read ahead, up to the segment's end
                hi = max(hi, min(lo + READAHEAD, -(-size // BLOCK)) - 1)
            blocks.update(self._fetch(pack_id, lo, hi))
        joined = b"".join(blocks[n] for n in range(first, last + 1))  # (blocks read ahead are cached)
        at = offset - first * BLOCK
        return joined[at : at + length]

    def _fetch(self, pack_id: int, lo: int, hi: int) -> dict[int, bytes]:
        """Blocks lo..hi of a segment (fewer where it ends), with one ranged GET, cached."""
        data = self._get(pack_id, lo * BLOCK, (hi + 1) * BLOCK)
        self._fetched += -(-len(data) // BLOCK)
        blocks = {}
        for n in range(lo, hi + 1):
            block = data[(n - lo) * BLOCK : (n - lo + 1) * BLOCK]
            if not block:
                break
            blocks[n] = block
            if len(block) == BLOCK or n == hi or len(data) < (hi + 1 - lo) * BLOCK:  # short: the segment's last
                self.cache.put(pack_id, n, block)
        return blocks

    def prefetch(self, ranges: Sequence[tuple[int, int, int]]) -> None:
        if self.cache.limit <= 0:
            return
        wanted: dict[int, set[int]] = {}
        for pack_id, offset, length in ranges:
            if length > 0:
                wanted.setdefault(pack_id, set()).update(range(offset // BLOCK, (offset + length - 1) // BLOCK + 1))
        with self._inflight_lock:
            for pack_id, numbers in wanted.items():
                todo = [n for n in sorted(numbers)
                        if (pack_id, n) not in self._inflight and not self.cache.has(pack_id, n)]
                for lo, hi in _runs(todo):
                    future = self._pool.submit(self._prefetched, pack_id, lo, hi)
                    for n in range(lo, hi + 1):
                        self._inflight[(pack_id, n)] = future

    def _prefetched(self, pack_id: int, lo: int, hi: int) -> dict[int, bytes]:
        try:
            return self._fetch(pack_id, lo, hi)
        except Exception as exc:  # the read that needs it fetches it again and reports
            log.debug("prefetch of segment %08x blocks %d-%d failed: %s", pack_id, lo, hi, exc)
            raise
        finally:
            with self._inflight_lock:
                for n in range(lo, hi + 1):
                    self._inflight.pop((pack_id, n), None)

    def list(self) -> list[PackInfo]:
        out = []
        token: str | None = None
        while True:
            kw: dict[str, Any] = {"Prefix": self.target.prefix}
            if token:
                kw["ContinuationToken"] = token
            page = self._call("list_objects_v2", None, **kw)
            for obj in page.get("Contents", []):
                name = obj["Key"][len(self.target.prefix):]
                if not name.endswith(SUFFIX) or "/" in name:
                    continue
                try:
                    pid = int(name[: -len(SUFFIX)], 16)
                except ValueError:
                    continue
                self._sizes[pid] = int(obj["Size"])
                out.append(PackInfo(pid, int(obj["Size"]), int(obj["Size"])))
            if not page.get("IsTruncated"):
                self._listed = True
                return sorted(out, key=lambda p: p.pack_id)
            token = page.get("NextContinuationToken")

    def delete(self, pack_id: int) -> int:
        size = self.disk(pack_id)
        self.forget(pack_id)
        self._call("delete_object", pack_id, Key=self.key(pack_id))
        self._sizes.pop(pack_id, None)
        return size

    def records(self, pack_id: int) -> Iterator[tuple[int, RecordHeader, bytes]]:
        """Stream a whole segment and parse it record by record."""
        body = self._call("get_object", pack_id, Key=self.key(pack_id))["Body"]
        try:
            offset = 0
            while True:
                head = body.read(HEADER_SIZE)
                header = unpack_header(head) if len(head) == HEADER_SIZE else None
                if header is None:  # the end (segments have no holes and no torn tails)
                    return
                data = body.read(header.stored_length)
                if len(data) != header.stored_length:
                    return
                yield offset, header, data
                offset += header.total
        finally:
            body.close()

    def forget(self, pack_id: int) -> None:
        self.cache.forget(pack_id)

    def describe(self) -> dict[str, Any]:
        """Kind, location and whether the bucket answers now (one HEAD)."""
        out: dict[str, Any] = {"kind": "s3", "url": self.target.url, "endpoint": self.target.endpoint or "",
                               "cache_bytes": self.cache.size, "cache_limit": self.cache.limit}
        try:
            self._call("head_bucket", None)
            out["status"] = "ok"
        except PackStoreUnavailable as exc:
            out["status"] = "unavailable"
            out["error"] = str(exc)
        return out

    def figures(self) -> PackFigures:
        with self._ops_lock:
            ops = tuple(PackOps(op, s.count, s.errors, s.seconds) for op, s in sorted(self.ops.items()))
        return PackFigures("s3", ops, self.cache.hits + self._waited, self._fetched, self.cache.size)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()
        self.cache.clear()


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Sorted numbers as (first, last) runs of consecutive ones."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs
