"""IAM action names: which each S3 operation needs, which exist, and which
ACL permission grants them.

The table follows AWS's "Actions, resources, and condition keys for Amazon
S3" (its API-operation-to-action table): ListObjects and ListObjectsV2 (and
HeadBucket) need s3:ListBucket on the bucket, GetObject and HeadObject
s3:GetObject on the object (s3:GetObjectVersion with a versionId), the
multipart operations s3:PutObject, Delete*Cors/Lifecycle/Tagging/
OwnershipControls/PublicAccessBlock the Put* action of their configuration,
and so on. CopyObject and UploadPartCopy also need read access to their
source (server/s3/access.py adds that check); a request that sets an ACL
also needs s3:PutObjectAcl, one that sets tags s3:PutObjectTagging.

Object-resource actions apply to ``arn:aws:s3:::bucket/key``, the others to
``arn:aws:s3:::bucket``. ACLs grant only some actions: a bucket ACL's READ
lists it, WRITE writes and deletes its objects; an object ACL's READ reads
the object; READ_ACP / WRITE_ACP read and change the ACL itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from server.auth import acl

OBJECT_ACTIONS = frozenset("""
AbortMultipartUpload BypassGovernanceRetention DeleteObject DeleteObjectTagging DeleteObjectVersion
DeleteObjectVersionTagging GetObject GetObjectAcl GetObjectAttributes GetObjectLegalHold GetObjectRetention
GetObjectTagging GetObjectTorrent GetObjectVersion GetObjectVersionAcl GetObjectVersionAttributes
GetObjectVersionForReplication GetObjectVersionTagging GetObjectVersionTorrent InitiateReplication
ListMultipartUploadParts ObjectOwnerOverrideToBucketOwner PutObject PutObjectAcl PutObjectLegalHold
PutObjectRetention PutObjectTagging PutObjectVersionAcl PutObjectVersionTagging ReplicateDelete
ReplicateObject ReplicateTags RestoreObject
""".split())
BUCKET_ACTIONS = frozenset("""
CreateBucket CreateBucketMetadataTableConfiguration DeleteBucket DeleteBucketMetadataTableConfiguration
DeleteBucketPolicy DeleteBucketWebsite GetAccelerateConfiguration GetAnalyticsConfiguration GetBucketAcl
GetBucketCORS GetBucketLocation GetBucketLogging GetBucketMetadataTableConfiguration GetBucketNotification
GetBucketObjectLockConfiguration GetBucketOwnershipControls GetBucketPolicy GetBucketPolicyStatus
GetBucketPublicAccessBlock GetBucketRequestPayment GetBucketTagging GetBucketVersioning GetBucketWebsite
GetEncryptionConfiguration GetIntelligentTieringConfiguration GetInventoryConfiguration
GetLifecycleConfiguration GetMetricsConfiguration GetReplicationConfiguration ListBucket
ListBucketMultipartUploads ListBucketVersions PutAccelerateConfiguration PutAnalyticsConfiguration
PutBucketAcl PutBucketCORS PutBucketLogging PutBucketNotification PutBucketObjectLockConfiguration
PutBucketOwnershipControls PutBucketPolicy PutBucketPublicAccessBlock PutBucketRequestPayment
PutBucketTagging PutBucketVersioning PutBucketWebsite PutEncryptionConfiguration
PutIntelligentTieringConfiguration PutInventoryConfiguration PutLifecycleConfiguration
PutMetricsConfiguration PutReplicationConfiguration
""".split())
# Actions on no bucket (a bucket policy naming them has nothing for them to apply to).
ACCOUNT_ACTIONS = frozenset("""
ListAllMyBuckets GetAccountPublicAccessBlock PutAccountPublicAccessBlock ListAccessPoints CreateJob
ListJobs DescribeJob UpdateJobPriority UpdateJobStatus
""".split())
KNOWN = {name.lower(): name for name in OBJECT_ACTIONS | BUCKET_ACTIONS | ACCOUNT_ACTIONS}

# Object actions decided on the object's ACL and owner (reads and changes of one
# version); the other object actions (writes, deletes) are the bucket's to allow.
OWNED_OBJECT_ACTIONS = frozenset({
    "s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAcl", "s3:GetObjectVersionAcl", "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl", "s3:GetObjectAttributes", "s3:GetObjectVersionAttributes", "s3:GetObjectTagging",
    "s3:GetObjectVersionTagging", "s3:PutObjectTagging", "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging",
})
POLICY_ACTIONS = frozenset({"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"})
BUCKET_ACL_PERMISSION: Mapping[str, str] = {
    "s3:ListBucket": acl.READ, "s3:ListBucketVersions": acl.READ, "s3:ListBucketMultipartUploads": acl.READ,
    "s3:PutObject": acl.WRITE, "s3:DeleteObject": acl.WRITE, "s3:DeleteObjectVersion": acl.WRITE,
    "s3:AbortMultipartUpload": acl.WRITE, "s3:GetBucketAcl": acl.READ_ACP, "s3:PutBucketAcl": acl.WRITE_ACP,
}
OBJECT_ACL_PERMISSION: Mapping[str, str] = {
    "s3:GetObject": acl.READ, "s3:GetObjectVersion": acl.READ, "s3:GetObjectAttributes": acl.READ,
    "s3:GetObjectVersionAttributes": acl.READ, "s3:GetObjectAcl": acl.READ_ACP,
    "s3:GetObjectVersionAcl": acl.READ_ACP, "s3:PutObjectAcl": acl.WRITE_ACP, "s3:PutObjectVersionAcl": acl.WRITE_ACP,
}


@dataclass(frozen=True)
class Need:
    """One permission a request needs: ``action`` on the request's object
    (``on_object``) or on its bucket."""

    action: str
    on_object: bool


def _bucket(*actions: str) -> tuple[Need, ...]:
    return tuple(Need(f"s3:{a}", False) for a in actions)


def _object(*actions: str) -> tuple[Need, ...]:
    return tuple(Need(f"s3:{a}", True) for a in actions)


_BUCKET_OPERATIONS: dict[str, str] = {
    "ListObjects": "ListBucket", "ListObjectsV2": "ListBucket", "HeadBucket": "ListBucket",
    "ListObjectVersions": "ListBucketVersions", "ListMultipartUploads": "ListBucketMultipartUploads",
    "DeleteBucket": "DeleteBucket", "GetBucketLocation": "GetBucketLocation",
    "GetBucketCors": "GetBucketCORS", "PutBucketCors": "PutBucketCORS", "DeleteBucketCors": "PutBucketCORS",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration", "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "GetBucketVersioning": "GetBucketVersioning", "PutBucketVersioning": "PutBucketVersioning",
    "GetBucketTagging": "GetBucketTagging", "PutBucketTagging": "PutBucketTagging",
    "DeleteBucketTagging": "PutBucketTagging", "GetBucketAcl": "GetBucketAcl", "PutBucketAcl": "PutBucketAcl",
    "GetBucketPolicy": "GetBucketPolicy", "PutBucketPolicy": "PutBucketPolicy",
    "DeleteBucketPolicy": "DeleteBucketPolicy", "GetBucketPolicyStatus": "GetBucketPolicyStatus",
    "GetBucketOwnershipControls": "GetBucketOwnershipControls",
    "PutBucketOwnershipControls": "PutBucketOwnershipControls",
    "DeleteBucketOwnershipControls": "PutBucketOwnershipControls",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock", "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "PutBucketObjectLockConfiguration",
    "GetBucketEncryption": "GetEncryptionConfiguration", "PutBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
}
# operation -> (action, action with a versionId)
_OBJECT_OPERATIONS: dict[str, tuple[str, str]] = {
    "GetObject": ("GetObject", "GetObjectVersion"), "HeadObject": ("GetObject", "GetObjectVersion"),
    "DeleteObject": ("DeleteObject", "DeleteObjectVersion"),
    "GetObjectTagging": ("GetObjectTagging", "GetObjectVersionTagging"),
    "PutObjectTagging": ("PutObjectTagging", "PutObjectVersionTagging"),
    "DeleteObjectTagging": ("DeleteObjectTagging", "DeleteObjectVersionTagging"),
    "GetObjectAcl": ("GetObjectAcl", "GetObjectVersionAcl"), "PutObjectAcl": ("PutObjectAcl", "PutObjectVersionAcl"),
    "AbortMultipartUpload": ("AbortMultipartUpload", "AbortMultipartUpload"),
    "ListParts": ("ListMultipartUploadParts", "ListMultipartUploadParts"),
    "UploadPart": ("PutObject", "PutObject"), "CompleteMultipartUpload": ("PutObject", "PutObject"),
    "GetObjectRetention": ("GetObjectRetention", "GetObjectRetention"),
    "PutObjectRetention": ("PutObjectRetention", "PutObjectRetention"),
    "GetObjectLegalHold": ("GetObjectLegalHold", "GetObjectLegalHold"),
    "PutObjectLegalHold": ("PutObjectLegalHold", "PutObjectLegalHold"),
}
BYPASS = Need("s3:BypassGovernanceRetention", True)  # x-amz-bypass-governance-retention: true
BYPASSES = frozenset({"DeleteObject", "DeleteObjects", "PutObjectRetention"})
WRITES = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload", "PostObject"})  # may set an ACL and tags


def needs(operation: str, versioned: bool, sets_acl: bool, sets_tags: bool) -> tuple[Need, ...]:
    """What ``operation`` needs on its own bucket or object (a copy's source aside);
    ``versioned``: the request names a versionId. An operation this table does
    not know raises KeyError: a new operation is refused until it is named here."""
    if operation in _BUCKET_OPERATIONS:
        return _bucket(_BUCKET_OPERATIONS[operation])
    if operation in _OBJECT_OPERATIONS:
        plain, version = _OBJECT_OPERATIONS[operation]
        return _object(version if versioned else plain)
    if operation == "GetObjectAttributes":
        return _object("GetObjectVersion", "GetObjectVersionAttributes") if versioned else \
            _object("GetObject", "GetObjectAttributes")
    if operation in WRITES or operation == "UploadPartCopy":
        extra = () if operation == "UploadPartCopy" else \
            (("PutObjectAcl",) if sets_acl else ()) + (("PutObjectTagging",) if sets_tags else ())
        return _object("PutObject", *extra)
    raise KeyError(f"no IAM action for operation {operation}")


def source_need(versioned: bool) -> Need:
    """What a copy needs on its source object."""
    return Need("s3:GetObjectVersion" if versioned else "s3:GetObject", True)


def delete_need(versioned: bool) -> Need:
    """What one key of DeleteObjects needs."""
    return Need("s3:DeleteObjectVersion" if versioned else "s3:DeleteObject", True)
