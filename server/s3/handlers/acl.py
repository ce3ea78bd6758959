"""ACLs: GetBucketAcl, PutBucketAcl, GetObjectAcl, PutObjectAcl (any version).

The ACL a Put*Acl sets was read and checked by dispatch (server/s3/access.py:
headers or an AccessControlPolicy body, the bucket's ownership setting, the
public access block). A bucket's ACL is its ``acl`` document; an object
version's is in its ObjectMeta (nothing stored for private). With ACLs
disabled (BucketOwnerEnforced) the Get*Acl answer is the owner's
FULL_CONTROL alone, whatever was stored before.
"""

from __future__ import annotations

from dataclasses import replace

from starlette.responses import Response

from server.auth import acl
from server.auth.acl import Acl
from server.auth.resources import ACL_DOC, ObjectAccess
from server.http.responses import empty_response, xml_response
from server.s3.acl_xml import policy_nodes
from server.s3.context import RequestContext
from server.s3.versions import version_headers, version_param


def _grants(stored: Acl, owner: str, bucket_owner: str, enabled: bool) -> tuple[acl.Grant, ...]:
    if not enabled:
        return (acl.user(owner, acl.FULL_CONTROL),)
    return acl.grants_of(stored, owner, bucket_owner)


async def get_bucket_acl(ctx: RequestContext) -> Response:
    bucket = ctx.authorized.bucket
    assert bucket is not None
    grants = _grants(bucket.acl, bucket.owner, bucket.owner, bucket.acls_enabled)
    return xml_response("AccessControlPolicy", policy_nodes(bucket.owner, grants))


async def put_bucket_acl(ctx: RequestContext) -> Response:
    stored = ctx.authorized.stored_acl()
    await ctx.store.put_bucket_config(ctx.bucket, ACL_DOC, stored.encode() if stored else None)
    return empty_response(200)


async def get_object_acl(ctx: RequestContext) -> Response:
    bucket = ctx.authorized.bucket
    assert bucket is not None
    info = await ctx.store.head_object(ctx.bucket, ctx.key, version_param(ctx.query))
    owner = ObjectAccess(True, info.meta.owner).owner_in(bucket)
    grants = _grants(Acl.decode(info.meta.acl), owner, bucket.owner, bucket.acls_enabled)
    return xml_response("AccessControlPolicy", policy_nodes(owner, grants), headers=version_headers(info))


async def put_object_acl(ctx: RequestContext) -> Response:
    stored = ctx.authorized.stored_acl()
    info = await ctx.store.update_object_meta(
        ctx.bucket, ctx.key, version_param(ctx.query), lambda meta: replace(meta, acl=stored))
    return empty_response(200, version_headers(info))
