"""Value types of the engine's public API (frozen dataclasses, no behaviour) and
the protocols at its seams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NewType, Protocol, runtime_checkable

UploadId = NewType("UploadId", str)
ManifestId = NewType("ManifestId", int)
FragmentHash = NewType("FragmentHash", bytes)

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class StoreConfig:
    """Engine settings. Chunker parameters are written to FORMAT on creation and
    checked on every open: changing them would silently end dedup against old data.

    ``compact_threshold``: GC rewrites a sealed pack whose live bytes are below
    this share of the disk space it occupies (its allocated blocks, at most its
    length). Freed records are punched out of their packs at once where the
    filesystem can, so this catches what holes cannot give back (the partial
    blocks around many small holes); where it cannot, a pack's space is its
    length and the rule is the plain live share, the open pack included. 0
    never compacts (packs with nothing live are still deleted); 1 rewrites any
    sealed pack with a dead byte left on disk. See docs/DESIGN.md.
    """

    min_fragment: int = 8 * KiB
    avg_fragment: int = 32 * KiB
    max_fragment: int = 128 * KiB
    pack_size: int = 256 * MiB
    batch_bytes: int = 4 * MiB
    manifest_grace_seconds: float = 300.0
    compact_threshold: float = 0.5
    min_part_size: int = 5 * MiB
    upload_max_age_seconds: float = 7 * 24 * 3600.0
    map_size: int = 1 << 40
    compression: str = "fast"  # off / fast / max: see dedup/codecs.py and benchmarks/README.md
    # longest chain of delta fragments (dedup/delta.py); 0 stores no deltas
    delta_depth: int = 4
    lifecycle_day_seconds: float = 86400.0  # a lifecycle "day" (dedup/lifecycle.py); tests shorten it
    index: str = ""  # "": LMDB in <data>/index; postgresql://...: that database (dedup/kv.py)
    # Where packs live (dedup/packsopen.py): "" is <data>/packs; s3://BUCKET/PREFIX a bucket
    packs: str = ""
    packs_endpoint: str | None = None
    packs_access_key: str | None = field(default=None, repr=False)
    packs_secret_key: str | None = field(default=None, repr=False)
    packs_region: str = "us-east-1"
    packs_cache_bytes: int = 1024 * MiB  # the local cache of remote pack bytes under <data>/cache
    # records sealed under one data key before its domain gets a new one: random
    # 96-bit GCM nonces stay safe for 2^32 (dedup/encryption.py); tests lower it
    seal_limit: int = 1 << 31


DEFAULT_CONTENT_TYPE = "binary/octet-stream"  # what S3 answers for an object stored without one
OWNER_FIELD = "o"  # ObjectMeta.owner's name in the stored JSON (listing looks for it without decoding)


@dataclass(frozen=True)
class ObjectMeta:
    """What the client stored beside the bytes. ``headers`` holds the standard
    representation headers (content-encoding, content-disposition, cache-control,
    content-language, expires) by lower-case name; ``checksums`` maps an algorithm
    name (``CRC32``, ``CRC32C``, ``CRC64NVME``, ``SHA1``, ``SHA256``) to its
    base64 value."""

    content_type: str = DEFAULT_CONTENT_TYPE
    metadata: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    checksums: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)  # S3 object tags (PutObjectTagging)
    # Object Lock (dedup/locks.py): retention mode GOVERNANCE/COMPLIANCE ("" none),
    # retained until this epoch time, and the legal hold
    lock_mode: str = ""
    lock_until: float = 0.0
    legal_hold: bool = False
    # Access control, opaque to the engine (the server's encoding): ``owner`` is
    # the version's owner when it is not the bucket's owner, ``acl`` its ACL when
    # it is not the default (private). Both empty cost nothing in the row.
    owner: str = ""
    acl: str = ""
    # Encryption at rest (dedup/encryption.py): "" none, "AES256" (SSE-S3),
    # "aws:kms" (SSE-KMS, under ``kms_key``) or "SSE-C"; an SSE-C version keeps a
    # salted verifier of its key, never the key
    encryption: str = ""
    key_check: str = ""
    kms_key: str = ""

    def to_json(self) -> dict[str, object]:
        """The fields that differ from the defaults (every object row holds
        this: a boto3 PUT's row is ~45 B shorter without the empty ones)."""
        doc: dict[str, object] = {}
        if self.content_type != DEFAULT_CONTENT_TYPE:
            doc["ct"] = self.content_type
        for name, value in (("m", self.metadata), ("h", self.headers), ("c", self.checksums), ("t", self.tags)):
            if value:
                doc[name] = dict(value)
        if self.lock_mode:
            doc["lm"], doc["lu"] = self.lock_mode, self.lock_until
        if self.legal_hold:
            doc["lh"] = True
        for name, text in ((OWNER_FIELD, self.owner), ("a", self.acl), ("e", self.encryption),
                           ("ek", self.key_check), ("kk", self.kms_key)):
            if text:
                doc[name] = text
        return doc

    @classmethod
    def from_json(cls, d: Mapping[str, object]) -> ObjectMeta:
        return cls(
            content_type=str(d.get("ct", DEFAULT_CONTENT_TYPE)),
            metadata=dict(d.get("m", {})),  # type: ignore[call-overload]
            headers=dict(d.get("h", {})),  # type: ignore[call-overload]
            checksums=dict(d.get("c", {})),  # type: ignore[call-overload]
            tags=dict(d.get("t", {})),  # type: ignore[call-overload]
            lock_mode=str(d.get("lm", "")),
            lock_until=float(d.get("lu", 0.0)),  # type: ignore[arg-type]
            legal_hold=bool(d.get("lh", False)),
            owner=str(d.get(OWNER_FIELD, "")),
            acl=str(d.get("a", "")),
            encryption=str(d.get("e", "")),
            key_check=str(d.get("ek", "")),
            kms_key=str(d.get("kk", "")),
        )


@dataclass(frozen=True)
class ObjectInfo:
    """One object version as HEAD sees it. ``etag`` is unquoted hex (``<md5>`` or
    ``<md5-of-md5s>-N`` for multipart). ``part_sizes`` lists the sizes of the
    parts it was assembled from (one entry for a single PUT). ``version_id`` is
    S3's (``"null"`` for the null version); ``versioned`` says whether the
    bucket has ever had versioning configured (S3 then reports version ids)."""

    bucket: str
    key: str
    size: int
    etag: str
    last_modified: float
    meta: ObjectMeta
    part_sizes: tuple[int, ...] = ()
    version_id: str = "null"
    delete_marker: bool = False
    versioned: bool = False


SSE_S3 = "AES256"  # ObjectMeta.encryption of an SSE-S3 version (S3's own name)
SSE_C = "SSE-C"
SSE_KMS = "aws:kms"


@dataclass(frozen=True)
class Encryption:
    """How a new body is to be encrypted at rest: ``mode`` :data:`SSE_S3`,
    :data:`SSE_KMS` under the named ``kms_key``, or :data:`SSE_C` with the
    32-byte ``customer_key`` (used, never stored)."""

    mode: str
    customer_key: bytes = field(default=b"", repr=False)
    kms_key: str = ""


# Called inside the write transaction with the object the write would
# replace (None when absent); raise to refuse the write (If-Match etc.).
Expectation = Callable[[ObjectInfo | None], None]


@dataclass(frozen=True)
class PutResult:
    info: ObjectInfo
    new_bytes: int


@dataclass(frozen=True)
class DeleteResult:
    """What a delete did. ``version_id`` is the version removed or the delete
    marker created (None in a bucket never versioned); ``delete_marker`` is
    True when a marker was created or the version removed was a marker."""

    key: str
    version_id: str | None
    delete_marker: bool
    removed: bool  # False: nothing was there (S3 still answers success)


@dataclass(frozen=True)
class DeleteRequest:
    """One key of DeleteObjects (or a DeleteObject): a version to remove, or
    none (remove the object / write a delete marker); ``expect`` is called in
    the write transaction with the version it would delete (If-Match)."""

    key: str
    version_id: str | None = None
    expect: Expectation | None = None
    bypass_governance: bool = False  # x-amz-bypass-governance-retention, with the permission it needs


@dataclass(frozen=True)
class VersionEntry:
    """One row of ListObjectVersions: an object version or a delete marker."""

    key: str
    version_id: str
    is_latest: bool
    last_modified: float
    etag: str
    size: int
    delete_marker: bool
    owner: str = ""  # ObjectMeta.owner ("" for the bucket's owner)


@dataclass(frozen=True)
class VersionsPage:
    entries: tuple[VersionEntry, ...]
    common_prefixes: tuple[str, ...]
    is_truncated: bool
    next_key_marker: str | None
    next_version_id_marker: str | None


@dataclass(frozen=True)
class ByteRange:
    """An S3 byte range before it meets the object size: ``bytes=a-b`` is
    (a, b); ``bytes=a-`` is (a, None); ``bytes=-n`` is (None, n)."""

    start: int | None
    end: int | None


@dataclass(frozen=True)
class BucketInfo:
    name: str
    owner: str
    created: float


@dataclass(frozen=True)
class ListEntry:
    """One key of a listing; ``owner`` is ObjectMeta.owner ("" for the bucket's owner)."""

    key: str
    size: int
    etag: str
    last_modified: float
    owner: str = ""


@dataclass(frozen=True)
class ListPage:
    """One page of a listing. ``next_marker`` is the last key or common prefix
    returned (the value to continue after) when ``is_truncated``."""

    entries: tuple[ListEntry, ...]
    common_prefixes: tuple[str, ...]
    is_truncated: bool
    next_marker: str | None


@dataclass(frozen=True)
class UploadInfo:
    upload_id: UploadId
    bucket: str
    key: str
    initiated: float
    meta: ObjectMeta


@dataclass(frozen=True)
class PartInfo:
    part_number: int
    size: int
    etag: str
    last_modified: float
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PartsPage:
    upload: UploadInfo
    parts: tuple[PartInfo, ...]
    is_truncated: bool
    next_marker: int


@dataclass(frozen=True)
class UploadsPage:
    uploads: tuple[UploadInfo, ...]
    common_prefixes: tuple[str, ...]
    is_truncated: bool
    next_key_marker: str | None
    next_upload_id_marker: str | None


@dataclass(frozen=True)
class BucketStats:
    """One bucket; the figures after ``logical_bytes`` need exact stats (None
    otherwise): distinct fragment bytes its objects reference (with the delta
    bases those need), the objects with a fragment stored as a delta (they
    found a base), and the delta fragments they reference with their raw and
    stored bytes."""

    name: str
    objects: int
    logical_bytes: int
    unique_bytes: int | None = None
    delta_objects: int | None = None
    delta_fragments: int | None = None
    delta_raw_bytes: int | None = None
    delta_stored_bytes: int | None = None


@dataclass(frozen=True)
class StoreStats:
    """Where the bytes are. ``logical_bytes``: sum of live object sizes;
    ``unique_bytes``: raw bytes of distinct fragments; ``stored_bytes``: those
    fragments as stored (after compression, record headers included);
    ``pack_bytes``: the pack files' lengths less their punched holes (allocated
    bytes, at most the length); ``disk_bytes``: pack files plus the index on
    the filesystem.

    Fragments stay counted until GC frees them: ``dead_manifests`` deleted or
    overwritten object bodies await GC, and ``dead_unique_bytes`` /
    ``dead_stored_bytes`` (None unless asked for: a scan of those manifests)
    are what freeing them all would take off unique and stored bytes.
    ``pending_manifests``: bodies being written (or left by a crash, freed on
    the next open for writing); ``uploads``: multipart uploads in progress
    (their parts hold fragments but are no object yet)."""

    objects: int
    logical_bytes: int
    fragments: int
    unique_bytes: int
    stored_bytes: int
    pack_bytes: int
    index_bytes: int
    packs: int
    buckets: tuple[BucketStats, ...]
    dead_manifests: int = 0
    pending_manifests: int = 0
    uploads: int = 0
    dead_unique_bytes: int | None = None
    dead_stored_bytes: int | None = None
    # fragments stored as deltas on a base (dedup/delta.py): how many, their
    # raw bytes (part of unique_bytes) and their records (part of stored_bytes)
    delta_fragments: int = 0
    delta_raw_bytes: int = 0
    delta_stored_bytes: int = 0
    delta_depths: tuple[int, ...] = ()  # delta fragments by chain depth 1, 2, ... (exact stats only)

    @property
    def disk_bytes(self) -> int:
        return self.pack_bytes + self.index_bytes

    @property
    def saved_by(self) -> dict[str, int]:
        """Bytes each effect took off the logical bytes, in the order they act:
        dedup (``logical - unique``), delta (delta fragments' raw bytes minus
        their records: the difference from the base, compressed), compression
        (the rest of ``unique - stored``). They add up to ``logical - stored``."""
        return {
            "dedup": self.logical_bytes - self.unique_bytes,
            "delta": self.delta_raw_bytes - self.delta_stored_bytes,
            "compression": (self.unique_bytes - self.delta_raw_bytes) - (self.stored_bytes - self.delta_stored_bytes),
        }

    @property
    def dedup_ratio(self) -> float:
        return self.logical_bytes / self.unique_bytes if self.unique_bytes else 1.0

    @property
    def compression_ratio(self) -> float:
        return self.unique_bytes / self.stored_bytes if self.stored_bytes else 1.0

    @property
    def total_ratio(self) -> float:
        return self.logical_bytes / self.disk_bytes if self.disk_bytes else 1.0


@dataclass(frozen=True)
class GcReport:
    """One GC run. ``bytes_freed``: raw bytes of the fragments freed;
    ``bytes_reclaimed_on_disk``: allocated disk space given back, by punching
    holes in packs and by deleting pack files (of a compacted pack, its whole
    file: the live bytes it rewrote elsewhere are not subtracted);
    ``bytes_punched``: the part of it that holes gave back. A dry run
    estimates both from record sizes."""

    dry_run: bool
    manifests_reclaimed: int
    fragments_freed: int
    bytes_freed: int
    packs_compacted: int
    packs_deleted: int
    bytes_reclaimed_on_disk: int
    bytes_punched: int = 0


@dataclass(frozen=True)
class LifecycleAction:
    """One lifecycle action (dedup/lifecycle.py): ``action`` is the AWS element
    that caused it (Expiration, NoncurrentVersionExpiration,
    ExpiredObjectDeleteMarker, AbortIncompleteMultipartUpload); ``version_id``
    the version it removed or expired ("null" in a bucket never versioned),
    ``marker_version_id`` the delete marker an Expiration wrote."""

    action: str
    bucket: str
    key: str
    version_id: str | None
    rule_id: str
    upload_id: str | None = None
    marker_version_id: str | None = None


@dataclass(frozen=True)
class LifecycleReport:
    """One lifecycle run: buckets with a configuration, object versions and
    uploads looked at, and the actions taken by kind."""

    buckets: int
    versions_scanned: int
    uploads_scanned: int
    actions: Mapping[str, int]


@dataclass(frozen=True)
class CheckReport:
    fragments_checked: int
    corrupt_fragments: tuple[str, ...]
    missing_fragments: tuple[str, ...]
    refcount_errors: int
    orphan_fragments: int
    repaired: bool
    locked_versions: int = 0  # versions under Object Lock (retention or legal hold)
    lock_violations: tuple[str, ...] = ()  # "bucket/key version": locked, yet its bytes are not all there

    @property
    def ok(self) -> bool:
        return not (
            self.corrupt_fragments
            or self.missing_fragments
            or self.refcount_errors
            or self.orphan_fragments
            or self.lock_violations
        )




class BodyDigest(Protocol):
    """A running digest of a body (hashlib objects qualify); the engine feeds it in a worker thread."""

    def update(self, data: memoryview, /) -> None: ...


@runtime_checkable
class CheckedBody(Protocol):
    """A body that checks itself against digests of its bytes and lets the engine
    compute them. ``take_digests`` is called once, before iterating: from then on
    the body leaves hashing to the consumer, which feeds every byte, in order, to
    each digest and then calls ``verify`` (raising if a check fails)."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    def take_digests(self) -> Sequence[BodyDigest]: ...

    def verify(self) -> None: ...
