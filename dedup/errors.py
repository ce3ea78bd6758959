"""Engine exceptions: S3 meaning, no HTTP.

The server maps each class to one S3 error code (server/s3/errors.py); the engine
never knows status codes.

    EngineError
    +-- InvalidBucketName
    +-- InvalidObjectKey
    +-- BucketAlreadyExists          (owned by someone else)
    +-- BucketAlreadyOwnedByYou
    +-- NoSuchBucket
    +-- BucketNotEmpty
    +-- NoSuchKey                    (marker_version: the delete marker that hides it)
    +-- NoSuchVersion
    +-- InvalidVersionId
    +-- DeleteMarkerVersion          (a version id that names a delete marker, on GET/HEAD)
    +-- CopyFromDeleteMarker         (a copy source that names a delete marker)
    +-- ObjectLocked                 (Object Lock forbids deleting or weakening a version)
    +-- ObjectLockNotEnabled         (a lock setting on a bucket without Object Lock)
    +-- InvalidBucketState           (suspending versioning on a bucket with Object Lock)
    +-- NoSuchUpload
    +-- InvalidPart                  (a listed part is missing or its ETag differs)
    +-- InvalidPartOrder
    +-- EntityTooSmall               (a non-last part under the minimum size)
    +-- PreconditionFailed           (If-Match / If-None-Match on writes)
    +-- ConditionalRequestConflict   (a conditional completion whose key changed during the upload)
    +-- BadDigest                    (Content-MD5 or checksum mismatch)
    +-- InvalidRange
    +-- StorageFull                  (ENOSPC while writing; nothing was published)
    +-- PackStoreUnavailable         (the remote pack store failed or cannot be reached)
    +-- WrongPackStore               (a data directory opened with packs other than its own)
    +-- CorruptFragment              (a fragment failed its hash check on read)
    +-- DataDirLocked                (another process has the data directory open)
    +-- NotADataDir                  (no FORMAT file: nothing was ever stored there)
    +-- ReadOnlyRefused              (a read-only open of a directory that needs a writer first)
    +-- EncryptionKeyError           (a key for encrypted data is unavailable: dedup/encryption.py)
    |   +-- MasterKeyMissing         (encrypted data, and no master key configured)
    |   +-- WrongMasterKey           (the keyring was wrapped with another master key)
    |   +-- UndecryptableFragment    (a sealed record fails authentication)
    +-- CustomerKeyRequired          (an SSE-C object read without its key)
    +-- CustomerKeyMismatch          (an SSE-C object read with another key)
    +-- CustomerKeyNotApplicable     (a customer key given for an object not stored with one)
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class InvalidBucketName(EngineError):
    pass


class InvalidObjectKey(EngineError):
    pass


class BucketAlreadyExists(EngineError):
    pass


class BucketAlreadyOwnedByYou(EngineError):
    pass


class NoSuchBucket(EngineError):
    pass


class BucketNotEmpty(EngineError):
    pass


class NoSuchKey(EngineError):
    def __init__(self, key: str, marker_version: str | None = None) -> None:
        super().__init__(key)
        self.key = key
        self.marker_version = marker_version


class NoSuchVersion(EngineError):
    def __init__(self, key: str, version_id: str) -> None:
        super().__init__(f"{key} has no version {version_id}")
        self.key = key
        self.version_id = version_id


class InvalidVersionId(EngineError):
    pass


class DeleteMarkerVersion(EngineError):
    def __init__(self, key: str, version_id: str, last_modified: float) -> None:
        super().__init__(f"{key} version {version_id} is a delete marker")
        self.version_id = version_id
        self.last_modified = last_modified


class CopyFromDeleteMarker(EngineError):
    pass


class ObjectLocked(EngineError):
    pass


class ObjectLockNotEnabled(EngineError):
    pass


class InvalidBucketState(EngineError):
    pass


class NoSuchUpload(EngineError):
    pass


class InvalidPart(EngineError):
    pass


class InvalidPartOrder(EngineError):
    pass


class EntityTooSmall(EngineError):
    pass


class PreconditionFailed(EngineError):
    pass


class ConditionalRequestConflict(EngineError):
    pass


class BadDigest(EngineError):
    pass


class InvalidRange(EngineError):
    def __init__(self, size: int) -> None:
        super().__init__(f"range not satisfiable for object of size {size}")
        self.size = size


class StorageFull(EngineError):
    pass


class PackStoreUnavailable(EngineError, OSError):
    """The remote pack store (S3) refused a request or could not be reached;
    nothing that depended on it was published."""


class WrongPackStore(EngineError):
    """The data directory's packs are elsewhere than the settings say: its index
    would point at packs that are not there."""

class CorruptFragment(EngineError):
    pass


class DataDirLocked(EngineError):
    pass


class NotADataDir(EngineError):
    pass


class ReadOnlyRefused(EngineError):
    pass


class EncryptionKeyError(EngineError):
    """A key needed to read or write encrypted data is unavailable or wrong."""


class MasterKeyMissing(EncryptionKeyError):
    """Encrypted data exists (or is asked for) but no master key is configured."""


class WrongMasterKey(EncryptionKeyError):
    """The master key given is not the one the keyring was wrapped with."""


class UndecryptableFragment(EncryptionKeyError):
    """A sealed record fails authentication (damaged, or opened with the wrong key)."""


class CustomerKeyRequired(EngineError):
    """The object is encrypted with a customer key (SSE-C) and none was given."""


class CustomerKeyMismatch(EngineError):
    """The customer key given is not the one the object was stored with."""


class CustomerKeyNotApplicable(EngineError):
    """A customer key was given for an object that was not stored with one."""
