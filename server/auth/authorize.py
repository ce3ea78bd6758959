"""The one authorization function: (identity, what the request needs, its
context) -> allow or deny, with the reason. Pure: dispatch
(server/s3/access.py) loads the bucket's owner and documents, and the object
version's owner, ACL and tags where the decision needs them.

A request needs one or more permissions (server/auth/actions.py), each an
IAM action on a bucket or an object; it is allowed when every one is. Each
is decided in AWS's order:

1. Public access block guardrails, for every caller, root included:
   BlockPublicAcls refuses a request that sets a public ACL (canned or
   granted to AllUsers / AuthenticatedUsers), BlockPublicPolicy a public
   bucket policy.
2. The root key is allowed everything else (an administrator, above the
   users; bucket policies do not bind it).
3. An explicit Deny of the bucket policy wins. The bucket owner is never
   denied Get/Put/DeleteBucketPolicy (AWS's lockout protection for the owning
   account), so a policy that denies everyone can still be repaired.
4. The bucket owner is allowed, except for reading or changing an object
   version another user owns (ObjectWriter / BucketOwnerPreferred buckets): as
   in AWS, that needs the object's ACL. An object's owner may do anything
   with its own version.
5. Policy ops (Get/Put/DeleteBucketPolicy) belong to the owner alone: another
   caller is refused, with MethodNotAllowed when the policy would allow it (S3's answer).
6. An Allow of the bucket policy, unless RestrictPublicBuckets is on and
   the policy is public (then only the owner's own statements count: none of
   another caller's). A policy speaks only for objects the bucket owner owns.
7. An ACL grant: the bucket ACL for bucket reads (READ: list) and writes
   (WRITE: put and delete objects) and its own READ_ACP/WRITE_ACP; an object
   version's ACL for reading it and its ACL. Public grants are skipped under
   IgnorePublicAcls; no ACL counts under BucketOwnerEnforced.
8. Otherwise denied (implicit deny).

Requests with no bucket: ListBuckets and CreateBucket need a signed caller,
fragstore's admin endpoints the root key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from server.auth import acl
from server.auth.actions import (
    BUCKET_ACL_PERMISSION,
    OBJECT_ACL_PERMISSION,
    OWNED_OBJECT_ACTIONS,
    POLICY_ACTIONS,
    Need,
)
from server.auth.identity import Identity
from server.auth.policy import is_public
from server.auth.policy_conditions import Facts
from server.auth.policy_eval import Match, evaluate, resource_arn
from server.auth.resources import BucketAccess, ObjectAccess

ADMIN = "fragstore:Admin"  # the admin endpoints (gc, check, lifecycle, users)
ACL_WRITES = frozenset({"s3:PutObjectAcl", "s3:PutObjectVersionAcl", "s3:PutBucketAcl"})


@dataclass(frozen=True)
class Check:
    """One permission to decide: ``need`` on ``bucket`` (None: a request on no
    bucket), on object ``key`` when the action is an object's; ``obj`` is the
    version, when loaded."""

    need: Need
    bucket: BucketAccess | None = None
    key: str | None = None
    obj: ObjectAccess | None = None


@dataclass(frozen=True)
class Request:
    who: Identity
    checks: Sequence[Check]
    facts: Facts = field(default_factory=dict)
    public_acl: bool = False  # the request sets an ACL with public grants
    public_policy: bool = False  # PutBucketPolicy of a public policy


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    code: str = "AccessDenied"  # the S3 error of a denial


def _allow(reason: str) -> Decision:
    return Decision(True, reason)


def _deny(reason: str, code: str = "AccessDenied") -> Decision:
    return Decision(False, reason, code)


def _named(sid: str) -> str:
    return f" (Sid {sid})" if sid else ""


def _service(who: Identity, action: str) -> Decision:
    if who.is_anonymous:
        return _deny(f"{action} needs a signed request")
    if action == ADMIN and not who.is_root:
        return _deny("the admin endpoints are the root key's")
    return _allow("signed caller" if action != ADMIN else "root")


def _guardrail(request: Request, check: Check, bucket: BucketAccess) -> Decision | None:
    block = bucket.block
    if request.public_acl and check.need.action in ACL_WRITES and block.block_public_acls:
        return _deny(f"BlockPublicAcls of {bucket.name} refuses public ACLs")
    if request.public_policy and check.need.action == "s3:PutBucketPolicy" and block.block_public_policy:
        return _deny(f"BlockPublicPolicy of {bucket.name} refuses public policies")
    return None


def _acl_grant(who: Identity, check: Check, bucket: BucketAccess, governed: bool) -> Decision | None:
    if not bucket.acls_enabled:
        return None
    action = check.need.action
    if governed:
        assert check.obj is not None
        owner = check.obj.owner_in(bucket)
        grants = acl.grants_of(check.obj.acl, owner, bucket.owner)
        permission = OBJECT_ACL_PERMISSION.get(action)
        where = "object ACL"
    else:
        grants = acl.grants_of(bucket.acl, bucket.owner, bucket.owner)
        permission = BUCKET_ACL_PERMISSION.get(action)
        where = "bucket ACL"
    if permission is None:
        return None
    grant = acl.allows(grants, who, permission, ignore_public=bucket.block.ignore_public_acls)
    if grant is None:
        return None
    return _allow(f"{where} grants {grant.permission} to {grant.grantee}")


def _decide(request: Request, check: Check) -> Decision:
    who, action, bucket = request.who, check.need.action, check.bucket
    if bucket is None:
        return _service(who, action)
    refused = _guardrail(request, check, bucket)
    if refused is not None:
        return refused
    if who.is_root:
        return _allow("root")
    key = check.key if check.need.on_object else None
    match = Match(None, None)
    if bucket.policy is not None:
        match = evaluate(bucket.policy, who, action, resource_arn(bucket.name, key), request.facts)
    is_owner = not who.is_anonymous and who.access_key == bucket.owner
    if match.deny is not None and not (is_owner and action in POLICY_ACTIONS):
        return _deny(f"explicit Deny in the bucket policy of {bucket.name}{_named(match.deny.sid)}")
    governed = action in OWNED_OBJECT_ACTIONS and check.obj is not None and check.obj.exists
    object_owner = check.obj.owner_in(bucket) if governed and check.obj is not None else bucket.owner
    if is_owner and object_owner == bucket.owner:
        return _allow("bucket owner")
    if governed and not who.is_anonymous and who.access_key == object_owner:
        return _allow("object owner")
    if action in POLICY_ACTIONS:
        code = "MethodNotAllowed" if match.allow is not None else "AccessDenied"
        return _deny(f"{action} is the bucket owner's", code)
    if match.allow is not None and object_owner == bucket.owner:
        if bucket.block.restrict_public_buckets and bucket.policy is not None and is_public(bucket.policy):
            pass  # RestrictPublicBuckets: a public policy grants nothing to anyone but the owner
        else:
            return _allow(f"bucket policy of {bucket.name} allows it{_named(match.allow.sid)}")
    granted = _acl_grant(who, check, bucket, governed)
    if granted is not None:
        return granted
    if match.allow is not None:
        return _deny(f"the policy's Allow is ignored (RestrictPublicBuckets, or object of {object_owner})")
    return _deny(f"no policy statement or ACL grant of {bucket.name} allows {action} to {who}")


def authorize(request: Request) -> Decision:
    """Allowed when every check is; else the first denial and its reason."""
    request = replace(request, facts={**request.facts, **request.who.facts()})
    reasons = []
    for check in request.checks:
        decision = _decide(request, check)
        if not decision.allowed:
            return Decision(False, f"{check.need.action}: {decision.reason}", decision.code)
        reasons.append(f"{check.need.action}: {decision.reason}")
    return Decision(True, "; ".join(reasons) or "nothing to check")
