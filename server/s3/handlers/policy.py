"""Bucket policies: PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy,
GetBucketPolicyStatus.

The document PutBucketPolicy stores was read and checked by dispatch
(server/s3/access.py with server/auth/policy.py: MalformedPolicy,
PolicyTooLarge, BlockPublicPolicy); it is kept as it was sent and
GetBucketPolicy answers it unchanged (JSON, not XML). GetBucketPolicyStatus
says whether the policy is public (AWS's definition, server/auth/policy.py);
without a policy it is NoSuchBucketPolicy, like GetBucketPolicy.
"""

from __future__ import annotations

from starlette.responses import Response

from server.auth.policy import is_public
from server.auth.resources import POLICY_DOC
from server.http.responses import empty_response, xml_response
from server.s3.context import RequestContext
from server.s3.errors import S3Error


def _missing(ctx: RequestContext) -> S3Error:
    return S3Error("NoSuchBucketPolicy", extra={"BucketName": ctx.bucket})


async def put_bucket_policy(ctx: RequestContext) -> Response:
    await ctx.store.put_bucket_config(ctx.bucket, POLICY_DOC, ctx.authorized.policy_text)
    return empty_response(204)


async def get_bucket_policy(ctx: RequestContext) -> Response:
    text = await ctx.store.get_bucket_config(ctx.bucket, POLICY_DOC)
    if text is None:
        raise _missing(ctx)
    return Response(text, media_type="application/json")


async def delete_bucket_policy(ctx: RequestContext) -> Response:
    await ctx.store.put_bucket_config(ctx.bucket, POLICY_DOC, None)
    return empty_response(204)


async def get_bucket_policy_status(ctx: RequestContext) -> Response:
    bucket = ctx.authorized.bucket
    if bucket is None or bucket.policy is None:
        raise _missing(ctx)
    return xml_response("PolicyStatus", [("IsPublic", is_public(bucket.policy))])
