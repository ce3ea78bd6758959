"""The one mapping from engine exceptions (dedup.errors) to S3 error codes."""

from __future__ import annotations

from dedup import errors as engine
from server.http.dates import rfc1123
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
    engine.NoSuchVersion: "NoSuchVersion",
    engine.InvalidVersionId: "InvalidArgument",
    engine.DeleteMarkerVersion: "MethodNotAllowed",
    engine.CopyFromDeleteMarker: "InvalidRequest",
    engine.ObjectLocked: "AccessDenied",
    engine.ObjectLockNotEnabled: "InvalidRequest",
    engine.InvalidBucketState: "InvalidBucketState",
    engine.NoSuchUpload: "NoSuchUpload",
    engine.InvalidPart: "InvalidPart",
    engine.InvalidPartOrder: "InvalidPartOrder",
    engine.EntityTooSmall: "EntityTooSmall",
    engine.PreconditionFailed: "PreconditionFailed",
    engine.ConditionalRequestConflict: "ConditionalRequestConflict",
    engine.BadDigest: "BadDigest",
    engine.InvalidRange: "InvalidRange",
    engine.StorageFull: "InsufficientStorage",
    engine.PackStoreUnavailable: "ServiceUnavailable",
    engine.CorruptFragment: "InternalError",
}


def to_s3_error(exc: engine.EngineError, bucket: str | None = None, key: str | None = None) -> S3Error:
    """The S3Error an engine exception answers as, with S3's extra elements."""
    code = next((c for cls, c in CODES.items() if isinstance(exc, cls)), "InternalError")
    extra: dict[str, str] = {}
    headers: dict[str, str] = {}
    if code in ("NoSuchBucket", "BucketNotEmpty", "BucketAlreadyExists", "BucketAlreadyOwnedByYou", "InvalidBucketName") and bucket:
        extra["BucketName"] = bucket
    elif isinstance(exc, engine.NoSuchKey):
        if key is not None:
            extra["Key"] = key
        if exc.marker_version is not None:
            headers.update({"x-amz-delete-marker": "true", "x-amz-version-id": exc.marker_version})
    elif isinstance(exc, engine.NoSuchVersion):
        extra.update({"Key": exc.key, "VersionId": exc.version_id})
    elif isinstance(exc, engine.InvalidVersionId):
        return S3Error("InvalidArgument", "Invalid version id specified",
                       extra={"ArgumentName": "versionId", "ArgumentValue": str(exc)})
    elif isinstance(exc, engine.DeleteMarkerVersion):
        extra.update({"ResourceType": "DeleteMarker"})
        headers.update({"x-amz-delete-marker": "true", "x-amz-version-id": exc.version_id,
                        "Last-Modified": rfc1123(exc.last_modified), "Allow": "DELETE"})
    elif isinstance(exc, engine.ObjectLocked):
        return S3Error("AccessDenied", "Access Denied because object protected by object lock.")
    elif isinstance(exc, engine.ObjectLockNotEnabled):
        return S3Error("InvalidRequest", "Bucket is missing Object Lock Configuration")
    elif isinstance(exc, engine.InvalidBucketState):
        return S3Error("InvalidBucketState", str(exc))
    elif isinstance(exc, engine.CopyFromDeleteMarker):
        return S3Error("InvalidRequest", "The source of a copy request may not specifically refer to a delete marker by version id.")
    elif isinstance(exc, engine.CustomerKeyRequired):
        return S3Error("InvalidRequest", "The object was stored using a form of Server Side Encryption. "
                       "The correct parameters must be provided to retrieve the object.")
    elif isinstance(exc, engine.CustomerKeyMismatch):
        return S3Error("AccessDenied", "Access Denied")
    elif isinstance(exc, engine.CustomerKeyNotApplicable):
        return S3Error("InvalidRequest", "The encryption parameters are not applicable to this object.")
    elif isinstance(exc, engine.InvalidRange):
        extra["ActualObjectSize"] = str(exc.size)
        headers["Content-Range"] = f"bytes */{exc.size}"
    return S3Error(code, extra=extra, headers=headers)  # S3's wording, not the engine's
