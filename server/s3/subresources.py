"""The query keys S3 routes on: operation parameters, and sub-resources by AWS operation name.

A key in PARAMS never changes the operation. A sub-resource in the tables names
its AWS operation per method; the keys in SPECIAL are routed by
server/s3/routing.py itself (their operation depends on more than the key).
Whether an operation is implemented is dispatch's table, not this one.
"""

from __future__ import annotations

# Query keys that are parameters of an operation, not sub-resources.
PARAMS = frozenset(
    """prefix delimiter marker max-keys list-type continuation-token start-after
    fetch-owner encoding-type key-marker upload-id-marker max-uploads max-parts
    part-number-marker partNumber uploadId versionId x-id response-content-type
    response-content-language response-expires response-cache-control
    response-content-disposition response-content-encoding version-id-marker
    AWSAccessKeyId Signature Expires content-type content-md5""".split()
)  # the last five: a SigV2 presigned URL's (botocore moves Content-Type/MD5 there)
# Keys routed by routing.py itself: (object level?, method) -> keys.
SPECIAL: dict[tuple[bool, str], frozenset[str]] = {
    (False, "GET"): frozenset({"location", "uploads"}),
    (False, "POST"): frozenset({"delete"}),
    (True, "POST"): frozenset({"uploads"}),
}

OBJECT_SUBRESOURCES: dict[str, dict[str, str]] = {
    "acl": {"GET": "GetObjectAcl", "PUT": "PutObjectAcl"},
    "tagging": {"GET": "GetObjectTagging", "PUT": "PutObjectTagging", "DELETE": "DeleteObjectTagging"},
    "retention": {"GET": "GetObjectRetention", "PUT": "PutObjectRetention"},
    "legal-hold": {"GET": "GetObjectLegalHold", "PUT": "PutObjectLegalHold"},
    "attributes": {"GET": "GetObjectAttributes"},
    "torrent": {"GET": "GetObjectTorrent"},
    "restore": {"POST": "RestoreObject"},
    "select": {"POST": "SelectObjectContent"},
    "renameObject": {"PUT": "RenameObject"},
}


def _bucket_ops(name: str, *, delete: bool = True, get: str | None = None) -> dict[str, str]:
    ops = {"GET": get or f"Get{name}", "PUT": f"Put{name}"}
    if delete:
        ops["DELETE"] = f"Delete{name}"
    return ops


BUCKET_SUBRESOURCES: dict[str, dict[str, str]] = {
    "acl": _bucket_ops("BucketAcl", delete=False),
    "tagging": _bucket_ops("BucketTagging"),
    "versioning": _bucket_ops("BucketVersioning", delete=False),
    "versions": {"GET": "ListObjectVersions"},
    "policy": _bucket_ops("BucketPolicy"),
    "policyStatus": {"GET": "GetBucketPolicyStatus"},
    "cors": _bucket_ops("BucketCors"),
    "lifecycle": {"GET": "GetBucketLifecycleConfiguration", "PUT": "PutBucketLifecycleConfiguration", "DELETE": "DeleteBucketLifecycle"},
    "website": _bucket_ops("BucketWebsite"),
    "logging": _bucket_ops("BucketLogging", delete=False),
    "notification": _bucket_ops("BucketNotificationConfiguration", delete=False),
    "replication": _bucket_ops("BucketReplication"),
    "encryption": _bucket_ops("BucketEncryption"),
    "requestPayment": _bucket_ops("BucketRequestPayment", delete=False),
    "object-lock": _bucket_ops("ObjectLockConfiguration", delete=False),
    "accelerate": _bucket_ops("BucketAccelerateConfiguration", delete=False),
    "analytics": _bucket_ops("BucketAnalyticsConfiguration"),
    "inventory": _bucket_ops("BucketInventoryConfiguration"),
    "metrics": _bucket_ops("BucketMetricsConfiguration"),
    "intelligent-tiering": _bucket_ops("BucketIntelligentTieringConfiguration"),
    "ownershipControls": _bucket_ops("BucketOwnershipControls"),
    "publicAccessBlock": _bucket_ops("PublicAccessBlock"),
    "session": {"GET": "CreateSession"},
    "metadataTable": {"GET": "GetBucketMetadataTableConfiguration", "POST": "CreateBucketMetadataTableConfiguration", "DELETE": "DeleteBucketMetadataTableConfiguration"},
}
