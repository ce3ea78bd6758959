"""Bucket operations: CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation."""

from __future__ import annotations

from starlette.responses import Response

from dedup import errors as engine
from server.auth.resources import ACL_DOC, ALL_BLOCKED, OWNERSHIP_DOC, PUBLIC_BLOCK_DOC
from server.http.responses import XML_TYPE, empty_response
from server.s3.context import RequestContext
from server.s3.errors import S3Error
from server.s3.xmlparse import parse_create_bucket
from server.s3.xmlrender import text_document

LEGACY_REGION = "us-east-1"


async def create_bucket(ctx: RequestContext) -> Response:
    """CreateBucket, owned by the caller, with its ownership controls
    (x-amz-object-ownership, BucketOwnerEnforced by default), a public access
    block with every setting on, and the ACL the request names, all written
    with the bucket. A LocationConstraint must name this region."""
    location = parse_create_bucket(await ctx.read_body())
    if location and location != ctx.config.region:
        raise S3Error(
            "IllegalLocationConstraintException",
            f"The {location} location constraint is incompatible for the region specific endpoint this request was sent to.",
        )
    lock = ctx.headers.get("x-amz-bucket-object-lock-enabled", "false").strip().lower()
    if lock not in ("true", "false"):
        raise S3Error("InvalidArgument", "x-amz-bucket-object-lock-enabled must be true or false",
                      extra={"ArgumentName": "x-amz-bucket-object-lock-enabled", "ArgumentValue": lock})
    try:
        await ctx.store.create_bucket(ctx.bucket, owner=ctx.access_key, configs=_first_documents(ctx),
                                      lock=lock == "true")
    except engine.BucketAlreadyOwnedByYou:
        if ctx.config.region != LEGACY_REGION:
            raise
        # us-east-1 answers success to the owner re-creating its bucket (and keeps it as it is)
    return empty_response(200, {"Location": f"/{ctx.bucket}"})


def _first_documents(ctx: RequestContext) -> dict[str, bytes]:
    access = ctx.authorized
    assert access.bucket is not None and access.bucket.ownership is not None
    docs = {OWNERSHIP_DOC: access.bucket.ownership.encode(), PUBLIC_BLOCK_DOC: ALL_BLOCKED.encode()}
    stored = access.stored_acl()
    if stored:
        docs[ACL_DOC] = stored.encode()
    return docs


async def delete_bucket(ctx: RequestContext) -> Response:
    await ctx.store.delete_bucket(ctx.bucket)
    return empty_response(204)


async def head_bucket(ctx: RequestContext) -> Response:
    """HeadBucket: existence and s3:ListBucket were checked before dispatch."""
    return empty_response(200, {"x-amz-bucket-region": ctx.config.region})


async def get_bucket_location(ctx: RequestContext) -> Response:
    region = "" if ctx.config.region == "us-east-1" else ctx.config.region
    return Response(text_document("LocationConstraint", region), media_type=XML_TYPE)
