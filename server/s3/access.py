"""Dispatch's authorization step: load what the decision needs, ask the one
authorization function (server/auth/authorize.py), refuse or hand the
handler what it learned (server/s3/access_info.py).

What is loaded, and only when the operation needs it:

- the bucket's owner and access documents, from the per-bucket cache
  (server/s3/access_cache.py); none for ListBuckets, CreateBucket and the
  admin endpoints;
- the object version (its owner, ACL and tags), for reads and ACL or tag
  changes of a version, unless the caller is the root key, or the bucket
  owner in a bucket with ACLs disabled whose policy names no object tag;
- a copy's source bucket and version (CopyObject and UploadPartCopy need
  s3:GetObject there too);
- the ACL the request sets (x-amz-acl, x-amz-grant-*, a POST form's ``acl``,
  or PutBucketAcl/PutObjectAcl's body), checked against the ownership
  setting before anything is decided.

Bodies that decide the answer are read here, after the caller is known to
hold the permission: a Put*Acl body or a PutBucketPolicy document (is it
public? BlockPublicAcls / BlockPublicPolicy then refuse it: the function is
asked again with that known), and a DeleteObjects list (each key is its own
s3:DeleteObject decision; the keys refused get AccessDenied in the answer,
the request is refused whole when none is allowed).

A reader of a missing object who may not list the bucket gets AccessDenied,
not NoSuchKey (S3 does not tell such a caller which keys exist). A denial is
logged at INFO with the request id and the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from dedup import errors as engine
from server.auth import acl as acls
from server.auth import actions
from server.auth.acl import Acl
from server.auth.authorize import ADMIN, Check, Decision, Request, authorize
from server.auth.identity import Identity, identify
from server.auth.policy import is_public, parse_policy
from server.auth.resources import ALL_BLOCKED, ENFORCED, OWNERSHIPS, BucketAccess, ObjectAccess
from server.s3 import acl_xml
from server.s3.access_cache import BucketAccessCache
from server.s3.access_facts import request_facts, tag_facts
from server.s3.access_info import Access, check_acl_allowed
from server.s3.bucketnames import check_bucket_name
from server.s3.context import RequestContext
from server.s3.copysource import parse_copy_source
from server.s3.errors import S3Error
from server.s3.integrity import read_protected_body
from server.s3.lockparams import bypass
from server.s3.objmeta import check_key
from server.s3.versions import version_param
from server.s3.xmlparse import parse_delete

log = logging.getLogger("fragstore.server")
SERVICE = {"ListBuckets": "s3:ListAllMyBuckets", "CreateBucket": "s3:CreateBucket", "Stats": "fragstore:Stats",
           "CollectGarbage": ADMIN, "Check": ADMIN, "RunLifecycle": ADMIN, "ListUsers": ADMIN,
           "AddUser": ADMIN, "RemoveUser": ADMIN, "RotateUserKey": ADMIN, "ServerStatus": ADMIN,
           "StatsHistory": ADMIN}
SETS_ACL = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload", "PostObject"})
POLICY_BODY_LIMIT = 1024 * 1024
OWNER_ONLY = ("private", "bucket-owner-read", "bucket-owner-full-control")


def identity(ctx: RequestContext) -> Identity:
    return identify(ctx.auth.access_key if ctx.auth else None, ctx.credentials.root_access_key)


def _known(ctx: RequestContext) -> acl_xml.Known:
    return lambda key: ctx.credentials.secret_for(key) is not None


def _requested_acl(ctx: RequestContext) -> Acl | None:
    fields = ctx.grant.fields if ctx.grant is not None else None
    if fields is not None:
        return acl_xml.from_headers({}, _known(ctx), canned_field=fields.get("acl"))
    return acl_xml.from_headers(ctx.headers, _known(ctx))


def _deny(ctx: RequestContext, decision: Decision) -> S3Error:
    log.info("denied %s %s to %s: %s", ctx.route.operation, ctx.route.bucket or "", identity(ctx), decision.reason)
    return S3Error(decision.code)


class _Step:
    """One request's authorization: its facts, the decision, the refusal."""

    def __init__(self, ctx: RequestContext) -> None:
        self.ctx = ctx
        self.who = identity(ctx)
        presigned = bool(ctx.auth and ctx.auth.presigned)
        self.facts = request_facts(self.who, ctx.route.operation, ctx.request.scope, ctx.headers, ctx.query,
                                   presigned=presigned)

    def decide(self, checks: Sequence[Check], *, public_acl: bool = False, public_policy: bool = False) -> None:
        decision = authorize(Request(self.who, checks, self.facts, public_acl, public_policy))
        if not decision.allowed:
            raise _deny(self.ctx, decision)

    def allowed(self, checks: Sequence[Check]) -> bool:
        return authorize(Request(self.who, checks, self.facts)).allowed


async def _object(ctx: RequestContext, bucket: str, key: str, version: str | None) -> ObjectAccess:
    try:
        info = await ctx.store.head_object(bucket, key, version)
    except (engine.NoSuchKey, engine.NoSuchVersion, engine.InvalidVersionId, engine.DeleteMarkerVersion):
        return ObjectAccess(False)
    if info.delete_marker:
        return ObjectAccess(False)
    return ObjectAccess(True, info.meta.owner, Acl.decode(info.meta.acl), info.meta.tags)


def _wants_object(need: actions.Need, bucket: BucketAccess, who: Identity) -> bool:
    if need.action not in actions.OWNED_OBJECT_ACTIONS or who.is_root:
        return False
    names_tags = bucket.policy is not None and any(
        c.key.startswith("s3:existingobjecttag/") for s in bucket.policy.statements for c in s.conditions)
    return bucket.acls_enabled or names_tags or who.access_key != bucket.owner


def _grants_others(requested: Acl | None) -> bool:
    """Whether a write's ACL needs s3:PutObjectAcl: one that gives only the
    bucket owner rights (private, bucket-owner-read, bucket-owner-full-control)
    does not, as in AWS's cross-account upload example (a policy on
    s3:PutObject with an s3:x-amz-acl condition)."""
    return requested is not None and requested.canned not in OWNER_ONLY


async def _checks(step: _Step, bucket: BucketAccess, key: str | None, needs: Sequence[actions.Need],
                  version: str | None) -> list[Check]:
    """The checks of ``needs`` on ``bucket``/``key``, the object loaded where it matters."""
    ctx, out = step.ctx, []
    loaded: ObjectAccess | None = None
    for need in needs:
        obj = None
        if need.on_object and key is not None and _wants_object(need, bucket, step.who):
            if loaded is None:
                loaded = obj = await _object(ctx, bucket.name, key, version)
                step.facts.update(tag_facts(obj.tags))
                if not obj.exists and step.who.access_key != bucket.owner:
                    out.append(Check(actions.Need("s3:ListBucket", False), bucket))
            obj = loaded
        out.append(Check(need, bucket, key if need.on_object else None, obj))
    return out


async def _service(step: _Step) -> Access:
    ctx, operation = step.ctx, step.ctx.route.operation
    checks = [Check(actions.Need(SERVICE[operation], False))]
    if operation != "CreateBucket":
        step.decide(checks)
        return Access(step.who)
    check_bucket_name(ctx.bucket)
    ownership = ctx.headers.get("x-amz-object-ownership", ENFORCED).strip()
    if ownership not in OWNERSHIPS:
        raise S3Error("InvalidArgument", extra={"ArgumentName": "x-amz-object-ownership", "ArgumentValue": ownership})
    new = BucketAccess(ctx.bucket, step.who.access_key, ownership, public_block=ALL_BLOCKED)
    requested = _requested_acl(ctx)
    public = False
    if requested is not None:
        check_acl_allowed(new, requested, creating=True)
        checks.append(Check(actions.Need("s3:PutBucketAcl", False), new))
        public = acls.is_public(acls.grants_of(requested, new.owner, new.owner))
    step.decide(checks, public_acl=public)
    return Access(step.who, new, requested)


async def _copy_source(step: _Step) -> list[Check]:
    src_bucket, src_key, src_version = parse_copy_source(step.ctx.headers["x-amz-copy-source"])
    check_bucket_name(src_bucket)
    check_key(src_key)
    source = await _bucket(step.ctx, src_bucket)
    return await _checks(step, source, src_key, [actions.source_need(src_version is not None)], src_version)


async def _bucket(ctx: RequestContext, name: str) -> BucketAccess:
    cache: BucketAccessCache = ctx.request.app.state.bucket_access
    return await cache.get(ctx.store, name)


async def _acl_body(step: _Step, bucket: BucketAccess, obj: ObjectAccess | None) -> Acl:
    """The ACL of Put*Acl: headers or an AccessControlPolicy body, not both."""
    ctx = step.ctx
    requested = _requested_acl(ctx)
    body = await ctx.read_body()
    if requested is not None and body.strip():
        raise S3Error("UnexpectedContent")
    if requested is None:
        if not body.strip():
            raise S3Error("MissingSecurityHeader", "Your request was missing a required header",
                          extra={"MissingHeaderName": "x-amz-acl"})
        named_owner, requested = acl_xml.from_xml(body, _known(ctx))
        owner = obj.owner_in(bucket) if obj is not None and obj.exists else bucket.owner
        if named_owner is not None and named_owner != owner:
            raise S3Error("AccessDenied", "The owner of an ACL cannot be changed")
    check_acl_allowed(bucket, requested)
    return requested


async def _deletes(step: _Step, access: Access, bucket: BucketAccess) -> None:
    """DeleteObjects: one s3:DeleteObject(Version) decision per key."""
    ctx = step.ctx
    probe = [Check(actions.delete_need(False), bucket, "")]
    if bucket.policy is None and not step.allowed(probe):
        step.decide(probe)  # nothing here can allow any key: refuse before reading the body
    access.quiet, items = parse_delete(await read_protected_body(ctx))
    access.deletes = tuple(items)
    denied = {i for i, item in enumerate(items) if item.key and not step.allowed(
        [Check(actions.delete_need(item.version_id is not None), bucket, item.key)])}
    if denied and len(denied) == len(items):
        step.decide([Check(actions.delete_need(items[0].version_id is not None), bucket, items[0].key)])
    access.denied = frozenset(denied)


async def _on_bucket(step: _Step) -> Access:
    ctx, operation = step.ctx, step.ctx.route.operation
    check_bucket_name(ctx.bucket)
    bucket = await _bucket(ctx, ctx.bucket)
    expected = ctx.headers.get("x-amz-expected-bucket-owner")
    if expected is not None and expected != bucket.owner:
        raise S3Error("AccessDenied")
    access = Access(step.who, bucket)
    if operation in actions.BYPASSES and bypass(ctx.headers):
        access.may_bypass = step.allowed([Check(actions.BYPASS, bucket, ctx.route.key or "")])
    if operation == "DeleteObjects":
        await _deletes(step, access, bucket)
        return access
    key = ctx.grant.fields.get("key") if ctx.grant is not None else ctx.route.key
    version = version_param(ctx.query)
    requested = _requested_acl(ctx) if operation in SETS_ACL else None
    if requested is not None:
        check_acl_allowed(bucket, requested)
    access.acl = requested
    sets_tags = ("x-amz-tagging" in ctx.headers and operation != "CopyObject") or \
        ctx.headers.get("x-amz-tagging-directive", "").upper() == "REPLACE"
    needs = actions.needs(operation, version is not None, _grants_others(requested), sets_tags)
    checks = await _checks(step, bucket, key, needs, version)
    if operation in ("CopyObject", "UploadPartCopy"):
        checks += await _copy_source(step)
    public = requested is not None and acls.is_public(acls.grants_of(requested, bucket.owner, bucket.owner))
    step.decide(checks, public_acl=public)
    if operation in ("PutBucketAcl", "PutObjectAcl"):
        obj = next((c.obj for c in checks if c.obj is not None), None)
        access.acl = await _acl_body(step, bucket, obj)
        owner = obj.owner_in(bucket) if obj is not None and obj.exists else bucket.owner
        if acls.is_public(acls.grants_of(access.acl, owner, bucket.owner)):
            step.decide(checks, public_acl=True)
    elif operation == "PutBucketPolicy":
        access.policy_text = await _policy_body(step, checks)
    return access


async def _policy_body(step: _Step, checks: Sequence[Check]) -> bytes:
    ctx = step.ctx
    try:
        text = await ctx.read_body(limit=POLICY_BODY_LIMIT)
    except S3Error as exc:
        if exc.code != "MaxMessageLengthExceeded":
            raise
        raise S3Error("PolicyTooLarge") from None
    policy = parse_policy(text, ctx.bucket, _known(ctx))
    if is_public(policy):
        step.decide(checks, public_policy=True)
    return text


async def authorize_request(ctx: RequestContext) -> None:
    """Allow the request or raise S3's refusal; sets ``ctx.access``."""
    step = _Step(ctx)
    if ctx.route.operation in SERVICE:
        ctx.access = await _service(step)
    else:
        ctx.access = await _on_bucket(step)
