"""The one mapping from engine exceptions (dedup.errors) to S3 error codes."""

from __future__ import annotations

from dedup import errors as engine
from server.s3.errors import S3Error

# Engine exception class -> S3 error code (same name unless S3 spells it otherwise).
CODES: dict[type[engine.EngineError], str] = {
    engine.InvalidBucketName: "InvalidBucketName",
    engine.InvalidObjectKey: "InvalidArgument",
    engine.BucketAlreadyExists: "BucketAlreadyExists",
    engine.BucketAlreadyOwnedByYou: "BucketAlreadyOwnedByYou",
    engine.NoSuchBucket: "NoSuchBucket",
    engine.BucketNotEmpty: "BucketNotEmpty",
    engine.NoSuchKey: "NoSuchKey",
    engine.NoSuchUpload: "NoSuchUpload",
    engine.InvalidPart: "InvalidPart",
    engine.InvalidPartOrder: "InvalidPartOrder",
    engine.EntityTooSmall: "EntityTooSmall",
    engine.PreconditionFailed: "PreconditionFailed",
    engine.BadDigest: "BadDigest",
    engine.InvalidRange: "InvalidRange",
    engine.StorageFull: "InsufficientStorage",
    engine.CorruptFragment: "InternalError",
}


def to_s3_error(exc: engine.EngineError, bucket: str | None = None, key: str | None = None) -> S3Error:
    """The S3Error an engine exception answers as, with S3's extra elements."""
    code = next((c for cls, c in CODES.items() if isinstance(exc, cls)), "InternalError")
    extra: dict[str, str] = {}
    headers: dict[str, str] = {}
    if code in ("NoSuchBucket", "BucketNotEmpty", "BucketAlreadyExists", "BucketAlreadyOwnedByYou", "InvalidBucketName") and bucket:
        extra["BucketName"] = bucket
    elif code == "NoSuchKey" and key is not None:
        extra["Key"] = key
    elif isinstance(exc, engine.InvalidRange):
        extra["ActualObjectSize"] = str(exc.size)
        headers["Content-Range"] = f"bytes */{exc.size}"
    return S3Error(code, extra=extra, headers=headers)  # S3's wording, not the engine's
