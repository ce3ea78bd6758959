"""Object ownership and public access block, both bucket documents
(server/auth/resources.py):

    Get/Put/DeleteBucketOwnershipControls   <OwnershipControls><Rule><ObjectOwnership>
    Get/Put/DeletePublicAccessBlock         <PublicAccessBlockConfiguration><BlockPublicAcls>...

New buckets have BucketOwnerEnforced and all four public access block
settings on (CreateBucket writes them). Get without a document answers
OwnershipControlsNotFoundError / NoSuchPublicAccessBlockConfiguration, as S3
does once they were deleted. BucketOwnerEnforced is refused while the
bucket's ACL grants anyone but the owner (InvalidBucketAclWithObjectOwnership:
S3 wants such grants moved to a policy first). A settings element left out
is false; a value other than true/false is MalformedXML.
"""

from __future__ import annotations

from starlette.responses import Response

from server.auth import acl
from server.auth.resources import (
    BLOCK_SETTINGS,
    ENFORCED,
    OWNERSHIP_DOC,
    OWNERSHIPS,
    PUBLIC_BLOCK_DOC,
    PublicAccessBlock,
)
from server.http.responses import empty_response, xml_response
from server.s3.context import RequestContext
from server.s3.errors import S3Error
from server.s3.integrity import read_checked_body
from server.s3.xmlparse import child_text, children, expect_root


async def get_bucket_ownership_controls(ctx: RequestContext) -> Response:
    bucket = ctx.authorized.bucket
    if bucket is None or bucket.ownership is None:
        raise S3Error("OwnershipControlsNotFoundError", extra={"BucketName": ctx.bucket})
    return xml_response("OwnershipControls", [("Rule", [("ObjectOwnership", bucket.ownership)])])


def _parse_ownership(body: bytes) -> str:
    rules = children(expect_root(body, "OwnershipControls"), "Rule")
    if len(rules) != 1:
        raise S3Error("MalformedXML")
    value = (child_text(rules[0], "ObjectOwnership") or "").strip()
    if value not in OWNERSHIPS:
        raise S3Error("MalformedXML")
    return value


async def put_bucket_ownership_controls(ctx: RequestContext) -> Response:
    value = _parse_ownership(await read_checked_body(ctx))
    bucket = ctx.authorized.bucket
    assert bucket is not None
    if value == ENFORCED and bucket.acls_enabled:
        grants = acl.grants_of(bucket.acl, bucket.owner, bucket.owner)
        if any(g.group or g.grantee != bucket.owner for g in grants):
            raise S3Error("InvalidBucketAclWithObjectOwnership")
    await ctx.store.put_bucket_config(ctx.bucket, OWNERSHIP_DOC, value.encode())
    return empty_response(200)


async def delete_bucket_ownership_controls(ctx: RequestContext) -> Response:
    await ctx.store.put_bucket_config(ctx.bucket, OWNERSHIP_DOC, None)
    return empty_response(204)


async def get_public_access_block(ctx: RequestContext) -> Response:
    bucket = ctx.authorized.bucket
    if bucket is None or bucket.public_block is None:
        raise S3Error("NoSuchPublicAccessBlockConfiguration", extra={"BucketName": ctx.bucket})
    values = bucket.public_block.values()
    return xml_response("PublicAccessBlockConfiguration", list(zip(BLOCK_SETTINGS, values, strict=True)))


def _parse_block(body: bytes) -> PublicAccessBlock:
    root = expect_root(body, "PublicAccessBlockConfiguration")
    values = []
    for name in BLOCK_SETTINGS:
        text = (child_text(root, name) or "false").strip().lower()
        if text not in ("true", "false"):
            raise S3Error("MalformedXML")
        values.append(text == "true")
    return PublicAccessBlock(*values)


async def put_public_access_block(ctx: RequestContext) -> Response:
    block = _parse_block(await read_checked_body(ctx))
    await ctx.store.put_bucket_config(ctx.bucket, PUBLIC_BLOCK_DOC, block.encode())
    return empty_response(200)


async def delete_public_access_block(ctx: RequestContext) -> Response:
    await ctx.store.put_bucket_config(ctx.bucket, PUBLIC_BLOCK_DOC, None)
    return empty_response(204)
