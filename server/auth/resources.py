"""What access control knows of a bucket and of an object version: the values
the authorization function decides from (server/auth/authorize.py), loaded by
server/s3/access.py.

A bucket's owner is the access key that created it (the ``buckets`` table).
Its other documents are bucket configuration rows (``bconfig``), each absent
until set:

    acl                the bucket ACL (server/auth/acl.py's stored form)
    policy             the bucket policy, the JSON text as it was put
    ownershipControls  BucketOwnerEnforced | BucketOwnerPreferred | ObjectWriter
    publicAccessBlock  JSON {"BlockPublicAcls": true, ...}

CreateBucket writes ownershipControls (BucketOwnerEnforced unless
x-amz-object-ownership says otherwise) and a publicAccessBlock with all four
settings on, in the transaction that creates the bucket, as AWS creates
buckets since April 2023. A bucket without an ownershipControls row (deleted,
or made before fragstore had them) behaves as ObjectWriter, as AWS's do.

An object version's owner and ACL are in its ObjectMeta (``owner``: empty
for the bucket's owner; ``acl``: empty for private). With BucketOwnerEnforced
the bucket owner owns every object and ACLs grant nothing, whatever is stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from server.auth.acl import PRIVATE, Acl
from server.auth.policy import Policy

ACL_DOC, POLICY_DOC, OWNERSHIP_DOC, PUBLIC_BLOCK_DOC = "acl", "policy", "ownershipControls", "publicAccessBlock"
DOCUMENTS = (ACL_DOC, POLICY_DOC, OWNERSHIP_DOC, PUBLIC_BLOCK_DOC)
ENFORCED, PREFERRED, WRITER = "BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"
OWNERSHIPS = (ENFORCED, PREFERRED, WRITER)
BLOCK_SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@dataclass(frozen=True)
class PublicAccessBlock:
    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False

    def encode(self) -> bytes:
        return json.dumps(dict(zip(BLOCK_SETTINGS, self.values(), strict=True))).encode()

    def values(self) -> tuple[bool, bool, bool, bool]:
        return (self.block_public_acls, self.ignore_public_acls, self.block_public_policy,
                self.restrict_public_buckets)

    @classmethod
    def decode(cls, raw: bytes) -> PublicAccessBlock:
        doc = json.loads(raw)
        return cls(*(bool(doc.get(name, False)) for name in BLOCK_SETTINGS))


ALL_BLOCKED = PublicAccessBlock(True, True, True, True)
NONE_BLOCKED = PublicAccessBlock()


@dataclass(frozen=True)
class BucketAccess:
    """A bucket's owner and access documents, parsed."""

    name: str
    owner: str
    ownership: str | None = ENFORCED  # None: never configured (behaves as ObjectWriter)
    acl: Acl = PRIVATE
    policy: Policy | None = None
    public_block: PublicAccessBlock | None = None

    @property
    def acls_enabled(self) -> bool:
        return self.ownership != ENFORCED

    @property
    def block(self) -> PublicAccessBlock:
        return self.public_block or NONE_BLOCKED


@dataclass(frozen=True)
class ObjectAccess:
    """One object version as access control sees it (``exists`` False: no such
    key or version, or a delete marker)."""

    exists: bool
    owner: str = ""  # "" : the bucket's owner
    acl: Acl = PRIVATE
    tags: Mapping[str, str] = field(default_factory=dict)

    def owner_in(self, bucket: BucketAccess) -> str:
        """Who owns the version: the bucket owner under BucketOwnerEnforced."""
        return bucket.owner if not bucket.acls_enabled or not self.owner else self.owner
