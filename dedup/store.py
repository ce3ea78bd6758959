"""The engine's facade: buckets, objects, listing, multipart and maintenance,
with S3 meaning and no HTTP types.

Invariants (the rest of the engine keeps them; ``check`` verifies them):

1. An index row points only at pack bytes that are already durable.
2. Every fragment named by a manifest exists.
3. A fragment's refcount equals the number of manifest rows naming it.
4. An object key points only at a complete manifest.
5. A manifest's refcount equals the number of object and part rows naming it.

Crash protocol: a PUT streams fragments into a *pending* manifest (rows and
fragment references committed batch by batch, each batch after its pack bytes
are fsynced); a last transaction publishes the key. A freed fragment's record
is queued in the transaction that frees it and punched out of its pack only
after that commit (dedup/holes.py). On open, the open pack is cut back to its
committed length, retired packs' files are removed, tmp/ is cleared, stale
uploads aborted, abandoned pending manifests reclaimed and queued holes
punched. Manifests of deleted versions are left to GC and its grace period,
restart or not (so `gc --grace N` on a stopped directory frees what N says,
and reports it). Only a writer recovers: dedup/readonly.py opens a directory
as it is.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import time
from collections.abc import AsyncIterable, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from dedup import errors, gc, lifecycle, locks, multipart, objects, versioning
from dedup.bases import Target
from dedup.check import repair as repair_refcounts
from dedup.check import run_check
from dedup.chunking import ChunkerParams
from dedup.encryption import CUSTOMER_KEY_ID, Domain, same_domain
from dedup.format import FORMAT_VERSION, read_format, write_format
from dedup.fsutil import lock_data_dir
from dedup.gateways import MID_BLOCK, reap_dead, reserve_mids
from dedup.index import U32, U64, Index, ObjectRow, Txn
from dedup.ingest import Ingest, IngestResult
from dedup.keyring import Keyring
from dedup.lifecycle import Due, LifecycleConfiguration
from dedup.lifecycle_jobs import config_of
from dedup.lifecycle_run import OnAction, run_lifecycle
from dedup.listing import list_page, list_versions
from dedup.manifests import abandon_pending, require_complete, sealed_counter
from dedup.migrate import upgrade
from dedup.names import encode_key, validate_bucket_name
from dedup.packsopen import open_packs, record_packs
from dedup.reader import ObjectReader
from dedup.stats import collect_stats
from dedup.types import (
    BucketInfo,
    ByteRange,
    CheckReport,
    DeleteRequest,
    DeleteResult,
    Encryption,
    Expectation,
    GcReport,
    LifecycleReport,
    ListPage,
    ObjectInfo,
    ObjectMeta,
    PartInfo,
    PartsPage,
    PutResult,
    StoreConfig,
    StoreStats,
    UploadInfo,
    UploadsPage,
    VersionsPage,
)
from dedup.writer import Writer, WriteTxn


class Store:
    """One data directory. Open with ``await Store.open(path)``."""

    def __init__(self, path: Path, config: StoreConfig, params: ChunkerParams, lock_fd: int, found: int,
                 master_key: bytes | None = None, kms_keys: Mapping[str, bytes] | None = None) -> None:
        self.path = path
        self.keyring = Keyring(path, master_key, kms_keys)
        self._lock_fd = lock_fd
        self.config = config
        self.params = params
        self.packs_dir = path / "packs"
        self.index = Index(path / "index", config.map_size, url=config.index)
        upgrade(self.index, path, params, found)
        self.packs = open_packs(path, config)
        self.gateway = self.index.kv.join()
        self.writer = Writer(self.index, self.packs, config.pack_size, self.gateway)
        self.ingest = Ingest(self.writer, params, config.batch_bytes, buffers=8, policy=config.compression)
        # one process counts manifest ids here (the writer records the highest);
        # many take blocks of them from the index (dedup/gateways.py)
        self._mids: Iterator[int]
        if self.index.kv.shared:
            with self.index.write() as txn:
                start = reserve_mids(self.index, txn, MID_BLOCK)
            self._mids = iter(range(start, start + MID_BLOCK))
        else:
            with self.index.read() as txn:
                start = self.index.counter(txn, "next_mid")
            self._mids = itertools.count(max(start, 1))

    @classmethod
    async def open(cls, path: Path | str, config: StoreConfig | None = None, *, create: bool = True,
                   master_key: bytes | None = None, kms_keys: Mapping[str, bytes] | None = None) -> Store:
        """Open (``create``: or make) the data directory and recover it; to read
        without writing a byte, use dedup/readonly.py instead. ``master_key``
        unwraps the data keys of encrypted objects (dedup/encryption.py):
        without it, SSE-S3 objects can be neither written nor read. ``kms_keys``:
        the material of the SSE-KMS keys, by name."""
        config = config or StoreConfig()
        root = Path(path)
        if not create and not (root / "FORMAT").exists():
            raise errors.NotADataDir(f"{root} holds no fragstore data (no FORMAT file)")
        root.mkdir(parents=True, exist_ok=True)
        # Held while open: with LMDB, two processes never write one data directory; with
        # a shared index, many may (each to packs of its own: dedup/gateways.py), never
        # beside one with LMDB.
        lock_fd = lock_data_dir(root, many=bool(config.index))
        for sub in ("packs", "tmp") if config.index else ("index", "packs", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        if not config.index:  # (with many processes, another one's scratch may be there)
            shutil.rmtree(root / "tmp", ignore_errors=True)
            (root / "tmp").mkdir()
        try:
            stored = read_format(root)
        except BaseException:
            os.close(lock_fd)
            raise
        if stored is None:
            params, found = ChunkerParams(config.min_fragment, config.avg_fragment, config.max_fragment), FORMAT_VERSION
            write_format(root, params)
            record_packs(root, config)
        else:
            params, found = stored
        try:
            store = await asyncio.to_thread(cls, root, config, params, lock_fd, found, master_key, kms_keys)
        except BaseException:
            os.close(lock_fd)
            raise
        await store._recover()
        return store

    async def _recover(self) -> None:
        if self.index.kv.shared:  # only what dead processes left
            await reap_dead(self.writer)
        else:
            with self.index.read() as txn:
                pending = [U64.unpack(k)[0] for k, _ in txn.cursor(db=self.index.db["pending"])]
            for mid in pending:
                await self.writer.run(lambda w, v=mid: abandon_pending(w, v))  # type: ignore[misc]
        await gc.remove_retired(self.writer)
        cutoff = time.time() - self.config.upload_max_age_seconds
        await self.writer.run(lambda w: multipart.abort_stale(w, cutoff))
        await self._reclaim_due(0)  # what crashes left (queued at time 0); deleted versions wait for GC
        await gc.punch_queued(self.writer)

    async def _new_mid(self) -> int:
        for mid in self._mids:
            return mid
        start = await self.writer.run(lambda w: reserve_mids(w.index, w.txn, MID_BLOCK))
        self._mids = iter(range(start + 1, start + MID_BLOCK))
        return start

    def lease(self, name: str) -> bool:
        """Whether this process holds the lease ``name`` (taking it if it is free):
        background work runs where it is held, on one process of many (dedup/kv.py)."""
        return self.index.kv.lease(name)

    async def close(self) -> None:
        await asyncio.to_thread(self.writer.stop)
        self.packs.close()
        self.ingest.close()
        self.index.close()
        os.close(self._lock_fd)  # releases the lock

    # -- buckets ---------------------------------------------------------------
    async def create_bucket(self, name: str, owner: str, versioning: str = "",
                            configs: Mapping[str, bytes] | None = None, lock: bool = False) -> BucketInfo:
        """A new bucket of ``owner``, with its first configuration documents
        ``configs`` (name -> value) written in the same transaction; with
        ``lock``, Object Lock on (versioning Enabled for good)."""
        validate_bucket_name(name)
        return await self.writer.run(lambda w: objects.create_bucket(w, name, owner, versioning, configs, lock))

    async def delete_bucket(self, name: str) -> None:
        await self.writer.run(lambda w: objects.delete_bucket(w, name, multipart.abort_bucket))

    def _bucket_doc(self, txn: Txn, name: str) -> dict:
        doc = self.index.bucket(txn, name)
        if doc is None:
            raise errors.NoSuchBucket(name)
        return doc

    async def head_bucket(self, name: str) -> BucketInfo:
        with self.index.read() as txn:
            doc = self._bucket_doc(txn, name)
        return BucketInfo(name, doc["owner"], doc["created"])

    async def list_buckets(self) -> list[BucketInfo]:
        with self.index.read() as txn:
            return [
                BucketInfo(k.decode(), d["owner"], d["created"])
                for k, d in ((k, json.loads(v)) for k, v in txn.cursor(db=self.index.db["buckets"]))
            ]

    async def get_bucket_versioning(self, bucket: str) -> str:
        """"" (never configured), "Enabled" or "Suspended"."""
        with self.index.read() as txn:
            return versioning.state_of(self._bucket_doc(txn, bucket))

    async def put_bucket_versioning(self, bucket: str, state: str) -> None:
        await self.writer.run(lambda w: objects.set_versioning(w, bucket, state))

    async def get_bucket_config(self, bucket: str, name: str) -> bytes | None:
        """A bucket's configuration document ``name`` (lifecycle, tagging, ...), as stored."""
        with self.index.read() as txn:
            bid = int(self._bucket_doc(txn, bucket)["id"])
            return txn.get(U32.pack(bid) + name.encode(), db=self.index.db["bconfig"])

    async def bucket_configs(self, bucket: str, names: Sequence[str]) -> tuple[BucketInfo, dict[str, bytes]]:
        """The bucket and those of its configuration documents ``names`` it has, read at once."""
        with self.index.read() as txn:
            doc = self._bucket_doc(txn, bucket)
            prefix = U32.pack(int(doc["id"]))
            keys = {prefix + name.encode(): name for name in names}
            found = self.index.kv.get_many(txn, list(keys), self.index.db["bconfig"])
        return BucketInfo(bucket, doc["owner"], doc["created"]), {keys[k]: v for k, v in found.items()}

    async def put_bucket_config(self, bucket: str, name: str, value: bytes | None) -> None:
        """Store (or, with None, delete) a bucket's configuration document ``name``."""
        await self.writer.run(lambda w: objects.put_config(w, bucket, name, value))

    # -- objects ---------------------------------------------------------------
    async def put_object(
        self, bucket: str, key: str, body: AsyncIterable[bytes], meta: ObjectMeta, *,
        content_md5: bytes | None = None, expect: Expectation | None = None, encryption: Encryption | None = None,
    ) -> PutResult:
        """Store a new version; ``encryption``: encrypted at rest, as it says."""
        encode_key(key)
        with self.index.read() as txn:
            bid = int(self._bucket_doc(txn, bucket)["id"])
        domain, meta = self._write_domain(encryption, meta)
        mid = await self._new_mid()

        def finish(got: IngestResult) -> Callable[[WriteTxn], ObjectInfo]:
            _check_md5(content_md5, got.md5)
            segments = ((mid, got.size),) if got.size else ()
            etag = got.md5.hex() if domain is None else domain.etag(got.md5)
            row = ObjectRow(key, got.size, time.time(), segments, etag, meta)

            def publish(w: WriteTxn) -> ObjectInfo:
                require_complete(w, mid, got.size)
                return objects.publish(w, bucket, row, expect)

            return publish

        target = Target(bid, key, self.config.delta_depth)
        got, info = await self.ingest.run(mid, body, finish, target, domain)
        return PutResult(info, got.new_bytes)

    # -- encryption (dedup/encryption.py, dedup/keyring.py) -----------------------------
    def _write_domain(self, encryption: Encryption | None, meta: ObjectMeta) -> tuple[Domain | None, ObjectMeta]:
        """The domain a new body is written in (its data key replaced first if
        ``seal_limit`` records were sealed with it), and its metadata."""
        domain, meta = self.keyring.for_write(encryption, meta)
        if domain is not None and domain.key_id != CUSTOMER_KEY_ID:
            with self.index.read() as txn:
                sealed = self.index.counter(txn, sealed_counter(domain.key_id))
            if sealed >= self.config.seal_limit:
                domain = self.keyring.roll(domain)
        return domain, meta

    def read_domain(self, meta: ObjectMeta, customer_key: bytes | None = None) -> Domain | None:
        """The domain a version (or an upload) with ``meta`` is read in; for an
        SSE-C one, ``customer_key`` must be its key (CustomerKeyRequired,
        CustomerKeyMismatch; CustomerKeyNotApplicable for a key not needed)."""
        return self.keyring.for_read(meta, customer_key)

    def _locate(self, bucket: str, key: str, version_id: str | None) -> tuple[ObjectRow, bool]:
        """(the row of the version asked for, whether the bucket is versioned)."""
        with self.index.read() as txn:
            doc = self._bucket_doc(txn, bucket)
            _, row = objects.locate(txn, self.index, int(doc["id"]), key, version_id)
            return row, bool(versioning.state_of(doc))

    async def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        row, versioned = self._locate(bucket, key, version_id)
        return objects.object_info(bucket, row, versioned)

    async def open_object(
        self, bucket: str, key: str, byte_range: ByteRange | None = None, part_number: int | None = None,
        version_id: str | None = None, customer_key: bytes | None = None,
    ) -> ObjectReader:
        """A reader of the version's bytes; ``customer_key``: an SSE-C version's key."""
        row, versioned = self._locate(bucket, key, version_id)
        info = objects.object_info(bucket, row, versioned)
        domain = self.read_domain(row.meta, customer_key)
        start, length = 0, row.size
        if part_number is not None:
            if not 1 <= part_number <= max(1, len(row.segments)):
                raise errors.InvalidPart(str(part_number))
            if row.segments:
                start = sum(n for _, n in row.segments[: part_number - 1])
                length = row.segments[part_number - 1][1]
        elif byte_range is not None:
            start, length = _resolve(byte_range, row.size)
        reader = ObjectReader(self.index, self.packs, info, row.segments, start, length, domain)
        await reader.prime()
        return reader

    async def delete_object(
        self, bucket: str, key: str, version_id: str | None = None, expect: Expectation | None = None,
        bypass: bool = False,
    ) -> DeleteResult:
        """Remove a version (``version_id``) or the object (a delete marker in a
        versioned bucket); ``bypass``: the caller may bypass GOVERNANCE retention."""
        result = (await self.delete_objects(bucket, [DeleteRequest(key, version_id, expect, bypass)]))[0]
        if isinstance(result, errors.EngineError):
            raise result
        return result

    async def delete_objects(
        self, bucket: str, requests: Sequence[DeleteRequest],
    ) -> list[DeleteResult | errors.EngineError]:
        """Per request, what was deleted, or the error of that key alone."""
        return await self.writer.run(lambda w: objects.delete_objects(w, bucket, requests))

    async def copy_object(
        self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str,
        meta: ObjectMeta | Callable[[ObjectMeta], ObjectMeta] | None = None, *,
        src_version_id: str | None = None, expect_source: Callable[[ObjectInfo], None] | None = None,
        expect: Expectation | None = None, encryption: Encryption | None = None,
        src_customer_key: bytes | None = None,
    ) -> tuple[ObjectInfo, ObjectInfo]:
        """(the source version copied, the new version). ``meta``: the new
        version's metadata, or a function of the source's, or None to keep it
        (Object Lock settings are never copied: dedup/locks.py). ``encryption``:
        the new version's (none: plaintext); ``src_customer_key``: an SSE-C
        source's key. A copy within one encryption domain shares the source's
        manifests; across domains its bytes are read and written again."""
        encode_key(dst_key)
        try:
            src = self._locate(src_bucket, src_key, src_version_id)[0].meta
        except errors.EngineError:  # the copy itself answers with its own error
            src = ObjectMeta()
        src_domain = self.read_domain(src, src_customer_key)
        dst_domain, enc_meta = self._write_domain(encryption, ObjectMeta())

        def new_meta(src: ObjectMeta) -> ObjectMeta:
            base = locks.without_lock(src)
            chosen = base if meta is None else meta if isinstance(meta, ObjectMeta) else meta(base)
            return replace(chosen, encryption=enc_meta.encryption, key_check=enc_meta.key_check,
                           kms_key=enc_meta.kms_key)

        if not same_domain(src_domain, dst_domain):
            return await self._copy_across(src_bucket, src_key, src_version_id, dst_bucket, dst_key, new_meta,
                                           expect_source, expect, encryption, src_customer_key)

        def new_row(src: ObjectRow) -> ObjectRow:
            return ObjectRow(dst_key, src.size, time.time(), src.segments, src.etag, new_meta(src.meta))

        def same_source(found: ObjectInfo) -> None:
            if (found.meta.encryption, found.meta.key_check, found.meta.kms_key) != (
                    src.encryption, src.key_check, src.kms_key):
                # replaced meanwhile by a version in another domain: not what was checked
                raise errors.PreconditionFailed("the copy source changed")
            if expect_source is not None:
                expect_source(found)

        return await self.writer.run(lambda w: objects.copy_object(
            w, (src_bucket, src_key, src_version_id), (dst_bucket, dst_key), new_row, same_source, expect))

    async def _copy_across(
        self, src_bucket: str, src_key: str, src_version: str | None, dst_bucket: str, dst_key: str,
        new_meta: Callable[[ObjectMeta], ObjectMeta], expect_source: Callable[[ObjectInfo], None] | None,
        expect: Expectation | None, encryption: Encryption | None, src_customer_key: bytes | None,
    ) -> tuple[ObjectInfo, ObjectInfo]:
        """A copy into another encryption domain: the source version's bytes,
        streamed through a reader into a new put."""
        reader = await self.open_object(src_bucket, src_key, version_id=src_version, customer_key=src_customer_key)
        try:
            if expect_source is not None:
                expect_source(reader.info)
            body = (bytes(view) async for view in reader)
            meta = new_meta(reader.info.meta)
            put = await self.put_object(dst_bucket, dst_key, body, meta, expect=expect, encryption=encryption)
        finally:
            await reader.aclose()
        return reader.info, put.info

    async def update_object_meta(
        self, bucket: str, key: str, version_id: str | None, change: Callable[[ObjectMeta], ObjectMeta],
        lock: bool = False,
    ) -> ObjectInfo:
        """Rewrite one version's metadata in place (tags; with ``lock``, its
        Object Lock settings: ``change`` applies dedup/locks.py's rules): same
        bytes, same version id."""
        return await self.writer.run(lambda w: objects.rewrite_meta(
            w, bucket, key, version_id, lambda row: replace(row, meta=change(row.meta)), lock))

    async def get_object_lock(self, bucket: str) -> tuple[bool, Mapping[str, object] | None]:
        """(Object Lock enabled, the default retention or None)."""
        with self.index.read() as txn:
            doc = self._bucket_doc(txn, bucket)
            raw = txn.get(U32.pack(int(doc["id"])) + objects.LOCK_CONFIG.encode(), db=self.index.db["bconfig"])
            return bool(doc.get("lock")), (json.loads(raw) if raw else None)

    async def put_object_lock(self, bucket: str, default: Mapping[str, object] | None) -> None:
        """Turn Object Lock on (for good) and set or clear the default retention."""
        await self.writer.run(lambda w: objects.set_object_lock(w, bucket, default))

    async def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", after: str = "", max_keys: int = 1000
    ) -> ListPage:
        with self.index.read() as txn:
            doc = self._bucket_doc(txn, bucket)
            return list_page(txn, self.index.db["objects"], int(doc["id"]), prefix, delimiter, after, max_keys)

    async def list_object_versions(
        self, bucket: str, prefix: str = "", delimiter: str = "", key_marker: str = "",
        version_id_marker: str | None = None, max_keys: int = 1000,
    ) -> VersionsPage:
        with self.index.read() as txn:
            doc = self._bucket_doc(txn, bucket)
            return list_versions(txn, self.index, int(doc["id"]), prefix, delimiter, key_marker,
                                 version_id_marker, max_keys)

    # -- multipart ---------------------------------------------------------------
    async def create_multipart_upload(self, bucket: str, key: str, meta: ObjectMeta,
                                      encryption: Encryption | None = None) -> UploadInfo:
        """A new upload; its parts are encrypted as ``encryption`` says (SSE-C:
        each part with the same key)."""
        encode_key(key)
        _, meta = self._write_domain(encryption, meta)
        return await self.writer.run(lambda w: multipart.create(w, bucket, key, meta))

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: AsyncIterable[bytes], *,
        content_md5: bytes | None = None, checksums: Mapping[str, str] | None = None,
        customer_key: bytes | None = None,
    ) -> tuple[PartInfo, int]:
        """Store a part, encrypted as its upload says (``customer_key``: SSE-C's)."""
        with self.index.read() as txn:
            doc = multipart.load_upload(txn, self.index, bucket, key, upload_id)
            bid = int(self._bucket_doc(txn, bucket)["id"])
        domain = self.read_domain(ObjectMeta.from_json(doc["m"]), customer_key)
        mid = await self._new_mid()

        def finish(got: IngestResult) -> Callable[[WriteTxn], PartInfo]:
            _check_md5(content_md5, got.md5)
            etag = got.md5.hex() if domain is None else domain.etag(got.md5)
            part = PartInfo(part_number, got.size, etag, time.time(), dict(checksums or {}))

            def add(w: WriteTxn) -> PartInfo:
                require_complete(w, mid, got.size)
                return multipart.add_part(w, bucket, key, upload_id, part, mid)

            return add

        target = Target(bid, key, self.config.delta_depth, part=True)
        got, part = await self.ingest.run(mid, body, finish, target, domain)
        return part, got.new_bytes

    async def get_upload(self, bucket: str, key: str, upload_id: str) -> UploadInfo:
        with self.index.read() as txn:
            return multipart.upload_info(upload_id, multipart.load_upload(txn, self.index, bucket, key, upload_id))

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> PartsPage:
        with self.index.read() as txn:
            return multipart.list_parts(txn, self.index, bucket, key, upload_id, part_number_marker, max_parts)

    async def complete_multipart_upload(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[tuple[int, str]], *,
        checksums: Mapping[str, str] | None = None, expect: Expectation | None = None,
    ) -> ObjectInfo:
        return await self.writer.run(
            lambda w: multipart.complete(w, bucket, key, upload_id, parts, self.config.min_part_size, checksums, expect)
        )

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        await self.writer.run(lambda w: multipart.abort(w, bucket, key, upload_id))

    async def list_multipart_uploads(
        self, bucket: str, prefix: str = "", delimiter: str = "", key_marker: str = "",
        upload_id_marker: str = "", max_uploads: int = 1000,
    ) -> UploadsPage:
        await self.head_bucket(bucket)
        with self.index.read() as txn:
            return multipart.list_uploads(txn, self.index, bucket, prefix, delimiter, key_marker, upload_id_marker, max_uploads)

    # -- lifecycle (dedup/lifecycle.py) ----------------------------------------------
    async def get_bucket_lifecycle(self, bucket: str) -> LifecycleConfiguration | None:
        raw = await self.get_bucket_config(bucket, lifecycle.CONFIG_NAME)
        return lifecycle.from_json(raw) if raw is not None else None

    async def put_bucket_lifecycle(self, bucket: str, config: LifecycleConfiguration | None) -> None:
        """Store (None: delete) the bucket's lifecycle configuration."""
        await self.put_bucket_config(bucket, lifecycle.CONFIG_NAME, config.to_json() if config else None)

    def object_expiration(self, info: ObjectInfo) -> Due | None:
        """When the current version ``info`` expires and by which rule
        (``x-amz-expiration``); one short read, so it is not a coroutine."""
        if info.delete_marker:
            return None
        with self.index.read() as txn:
            doc = self.index.bucket(txn, info.bucket)
            config = config_of(txn, self.index, int(doc["id"])) if doc is not None else None
        if config is None:
            return None
        return lifecycle.current_expiry(config, info.key, info.size, info.meta.tags, info.last_modified,
                                        self.config.lifecycle_day_seconds)

    async def run_lifecycle(self, now: float | None = None, on_action: OnAction | None = None) -> LifecycleReport:
        """Carry out every bucket's lifecycle rules as of ``now`` (default: the
        clock); ``on_action`` hears of each action once it is committed."""
        return await run_lifecycle(self.writer, time.time() if now is None else now,
                                   self.config.lifecycle_day_seconds, on_action)

    # -- maintenance -------------------------------------------------------------
    async def stats(self, exact: bool = False, dead: bool = False) -> StoreStats:
        return await asyncio.to_thread(collect_stats, self.index, self.packs, exact, dead)

    async def collect_garbage(self, dry_run: bool = False, grace_seconds: float | None = None) -> GcReport:
        grace = self.config.manifest_grace_seconds if grace_seconds is None else grace_seconds
        if not dry_run:
            await reap_dead(self.writer)
        return await gc.collect(self.writer, grace, self.config.compact_threshold, dry_run)

    async def _reclaim_due(self, cutoff_ns: int) -> None:
        for key, mid in gc.due_manifests(self.index, cutoff_ns):
            await gc.reclaim(self.writer, key, mid)

    async def check(self, repair: bool = False, verify: bool = True) -> CheckReport:
        if repair:
            await self.writer.run(repair_refcounts)
            await gc.punch_queued(self.writer)  # the orphans it freed
        report = await asyncio.to_thread(run_check, self.index, self.packs, verify, self.keyring)
        return replace(report, repaired=True) if repair else report

    def writer_queue_depth(self) -> int:
        return self.writer.depth()

    @property
    def index_backend(self) -> str:
        return "postgresql" if self.index.kv.shared else "lmdb"

    def index_counters(self) -> Mapping[str, float]:
        """The index store's running totals (dedup/kv.py ``counters``)."""
        return self.index.kv.counters()

    async def index_health(self) -> dict[str, object]:
        """Whether the index answers now: backend, ok, latency (ms), this process's gateway id."""
        t0 = time.perf_counter()
        try:
            await asyncio.to_thread(self.index.kv.ping)
        except Exception as exc:  # any failure to reach it is the answer
            return {"backend": self.index_backend, "ok": False, "error": type(exc).__name__}
        return {"backend": self.index_backend, "ok": True, "gateway": self.gateway,
                "latency_ms": round((time.perf_counter() - t0) * 1000, 3)}


def _check_md5(expected: bytes | None, got: bytes) -> None:
    if expected is not None and expected != got:
        raise errors.BadDigest("Content-MD5 mismatch")


def _resolve(r: ByteRange, size: int) -> tuple[int, int]:
    """(start, length) of an S3 range against ``size``; InvalidRange if unsatisfiable."""
    if r.start is None:  # suffix: the last n bytes
        n = r.end or 0
        if n <= 0 or size == 0:
            raise errors.InvalidRange(size)
        n = min(n, size)
        return size - n, n
    if r.start >= size:
        raise errors.InvalidRange(size)
    end = size - 1 if r.end is None else min(r.end, size - 1)
    if end < r.start:
        raise errors.InvalidRange(size)
    return r.start, end - r.start + 1


