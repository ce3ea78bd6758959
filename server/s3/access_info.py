"""What dispatch's authorization step (server/s3/access.py) hands the
handler: who the caller is, the bucket's access documents, the ACL the
request sets, and what a version it writes is owned by.

Object ownership (the bucket's ownership controls) decides who owns a new
version: the bucket owner under BucketOwnerEnforced (ACLs disabled), the
writer under ObjectWriter, and under BucketOwnerPreferred the bucket owner
when the writer grants it bucket-owner-full-control, else the writer. An
unsigned (anonymous) write is the bucket owner's. Nothing is stored for a
version the bucket owner owns with the private ACL.

With ACLs disabled, a request may still name an ACL that gives the bucket
owner full control and nothing else (``private``, ``bucket-owner-full-control``
or the same as grants); any other is AccessControlListNotSupported
(InvalidBucketAclWithObjectOwnership on CreateBucket), as in S3.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dedup.types import ObjectMeta
from server.auth import acl
from server.auth.acl import Acl
from server.auth.identity import Identity
from server.auth.resources import PREFERRED, BucketAccess
from server.s3.errors import S3Error
from server.s3.xmlparse import DeleteItem


def owner_full_control_only(requested: Acl, bucket_owner: str) -> bool:
    if requested.canned in ("private", "bucket-owner-full-control"):
        return True
    return not requested.canned and requested.grants == (acl.user(bucket_owner, acl.FULL_CONTROL),)


def check_acl_allowed(bucket: BucketAccess, requested: Acl, *, creating: bool = False) -> None:
    """Refuse an ACL a bucket with ACLs disabled cannot take."""
    if not bucket.acls_enabled and not owner_full_control_only(requested, bucket.owner):
        raise S3Error("InvalidBucketAclWithObjectOwnership" if creating else "AccessControlListNotSupported")


def new_version_owner(bucket: BucketAccess, who: Identity, requested: Acl | None) -> str:
    """ObjectMeta.owner of a version ``who`` writes ("" : the bucket owner)."""
    if not bucket.acls_enabled or who.is_anonymous or who.access_key == bucket.owner:
        return ""
    if bucket.ownership == PREFERRED and requested is not None and requested.canned == "bucket-owner-full-control":
        return ""
    return who.access_key


@dataclass
class Access:
    who: Identity
    bucket: BucketAccess | None = None
    acl: Acl | None = None  # the ACL the request sets, checked (None: it names none)
    deletes: tuple[DeleteItem, ...] = ()  # DeleteObjects: the keys asked for, read by dispatch
    quiet: bool = False  # DeleteObjects: Quiet mode
    denied: frozenset[int] = frozenset()  # DeleteObjects: the positions of keys refused
    policy_text: bytes = b""  # PutBucketPolicy: the document, checked
    may_bypass: bool = False  # x-amz-bypass-governance-retention asked for, and s3:BypassGovernanceRetention held

    @property
    def owner(self) -> str:
        """The bucket's owner (Owner elements of listings)."""
        return self.bucket.owner if self.bucket is not None else self.who.access_key

    def version_owner(self, stored: str) -> str:
        """Who owns a version whose ObjectMeta.owner is ``stored`` (listings)."""
        if self.bucket is None or not self.bucket.acls_enabled or not stored:
            return self.owner
        return stored

    def stored_acl(self) -> str:
        """ObjectMeta.acl / the bucket's acl document for the ACL the request sets."""
        if self.acl is None or self.bucket is None or not self.bucket.acls_enabled:
            return ""
        return self.acl.encode()

    def new_version(self, meta: ObjectMeta) -> ObjectMeta:
        """``meta`` with the owner and ACL of a version this request writes."""
        assert self.bucket is not None
        return replace(meta, owner=new_version_owner(self.bucket, self.who, self.acl), acl=self.stored_acl())
