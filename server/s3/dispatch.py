"""From a routed request to its handler: authenticate, authorize, dispatch.

Authentication (SigV2 or SigV4, header or presigned query; for PostObject
the signature and policy of the form, read up to its file) runs once, before any
handler; a request with no signature at all is anonymous. /_fragstore/health
and /_fragstore/metrics (which may ask for a bearer token instead,
server/admin/api.py) and the CORS preflight (OPTIONS object, anonymous in S3
too: a browser sends it without credentials) skip both steps.

Authorization runs once, after authentication and before the handler
(server/s3/access.py, which asks server/auth/authorize.py): owners, ACLs,
bucket policies and public access blocks decide. Handlers never check
permissions. After an operation that may change a bucket's access documents
the cached copy is dropped (server/s3/access_cache.py).

Two ways in, one path after authentication (:func:`_authorized`):

- :func:`dispatch`: every HTTP request (server/app.py), authenticated here.
- :func:`dispatch_as_session`: the web console's internal requests
  (server/console/s3call.py), made for a user the console session has
  authenticated (server/auth/session_caller.py). It skips only the signature
  check: the operation, the unsupported-header refusal, the authorization and
  the handler are the same calls as for a signed request. It refuses the
  operations that are not a user's S3 actions (health, metrics, preflights,
  form posts, the console itself).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.responses import Response

from server.admin import api as admin
from server.admin import users_api
from server.auth.authenticate import authenticate
from server.auth.post_auth import authenticate_form
from server.auth.session_caller import SessionCaller
from server.auth.sigv4 import AuthRequest
from server.http.form import boundary_of, read_form
from server.http.limits import check_header_section
from server.s3.access import authorize_request
from server.s3.access_cache import CHANGES_ACCESS
from server.s3.bucketnames import check_bucket_name
from server.s3.context import RequestContext
from server.s3.errors import S3Error
from server.s3.handlers import (
    acl,
    attributes,
    buckets,
    copy,
    cors,
    delete_many,
    encryption,
    lifecycle,
    listing,
    locks,
    multipart,
    multipart_listing,
    objects,
    ownership,
    policy,
    post_object,
    service,
    tagging,
    versioning,
)
from server.s3.objmeta import check_key
from server.s3.routing import PREFLIGHT, route, virtual_host_bucket
from server.s3.unsupported import refuse_unsupported

Handler = Callable[[RequestContext], Awaitable[Response]]

HANDLERS: dict[str, Handler] = {
    "ListBuckets": service.list_buckets,
    "Stats": service.stats,
    "CollectGarbage": admin.collect_garbage,
    "Check": admin.check,
    "RunLifecycle": admin.run_lifecycle,
    "ServerStatus": admin.server_status,
    "StatsHistory": admin.stats_history,
    "ListUsers": users_api.list_users,
    "AddUser": users_api.add_user,
    "RotateUserKey": users_api.rotate_user_key,
    "RemoveUser": users_api.remove_user,
    "CreateBucket": buckets.create_bucket,
    "DeleteBucket": buckets.delete_bucket,
    "HeadBucket": buckets.head_bucket,
    "GetBucketLocation": buckets.get_bucket_location,
    "PutBucketCors": cors.put_bucket_cors,
    "GetBucketCors": cors.get_bucket_cors,
    "DeleteBucketCors": cors.delete_bucket_cors,
    "ListObjects": listing.list_objects,
    "ListObjectsV2": listing.list_objects_v2,
    "PutObject": objects.put_object,
    "PostObject": post_object.post_object,
    "GetObject": objects.get_object,
    "HeadObject": objects.head_object,
    "DeleteObject": objects.delete_object,
    "DeleteObjects": delete_many.delete_objects,
    "CopyObject": copy.copy_object,
    "UploadPartCopy": copy.upload_part_copy,
    "CreateMultipartUpload": multipart.create_multipart_upload,
    "UploadPart": multipart.upload_part,
    "CompleteMultipartUpload": multipart.complete_multipart_upload,
    "AbortMultipartUpload": multipart.abort_multipart_upload,
    "ListParts": multipart_listing.list_parts,
    "ListMultipartUploads": multipart_listing.list_multipart_uploads,
    "GetBucketVersioning": versioning.get_bucket_versioning,
    "PutBucketVersioning": versioning.put_bucket_versioning,
    "ListObjectVersions": versioning.list_object_versions,
    "GetObjectTagging": tagging.get_object_tagging,
    "PutObjectTagging": tagging.put_object_tagging,
    "DeleteObjectTagging": tagging.delete_object_tagging,
    "GetBucketTagging": tagging.get_bucket_tagging,
    "PutBucketTagging": tagging.put_bucket_tagging,
    "DeleteBucketTagging": tagging.delete_bucket_tagging,
    "GetObjectAttributes": attributes.get_object_attributes,
    "PutObjectLockConfiguration": locks.put_object_lock_configuration,
    "GetObjectLockConfiguration": locks.get_object_lock_configuration,
    "PutObjectRetention": locks.put_object_retention,
    "GetObjectRetention": locks.get_object_retention,
    "PutObjectLegalHold": locks.put_object_legal_hold,
    "GetObjectLegalHold": locks.get_object_legal_hold,
    "PutBucketLifecycleConfiguration": lifecycle.put_bucket_lifecycle_configuration,
    "GetBucketLifecycleConfiguration": lifecycle.get_bucket_lifecycle_configuration,
    "DeleteBucketLifecycle": lifecycle.delete_bucket_lifecycle,
    "GetBucketAcl": acl.get_bucket_acl,
    "PutBucketAcl": acl.put_bucket_acl,
    "GetObjectAcl": acl.get_object_acl,
    "PutObjectAcl": acl.put_object_acl,
    "PutBucketPolicy": policy.put_bucket_policy,
    "GetBucketPolicy": policy.get_bucket_policy,
    "DeleteBucketPolicy": policy.delete_bucket_policy,
    "GetBucketPolicyStatus": policy.get_bucket_policy_status,
    "GetBucketOwnershipControls": ownership.get_bucket_ownership_controls,
    "PutBucketOwnershipControls": ownership.put_bucket_ownership_controls,
    "DeleteBucketOwnershipControls": ownership.delete_bucket_ownership_controls,
    "GetPublicAccessBlock": ownership.get_public_access_block,
    "PutPublicAccessBlock": ownership.put_public_access_block,
    "DeletePublicAccessBlock": ownership.delete_public_access_block,
    "GetBucketEncryption": encryption.get_bucket_encryption,
    "PutBucketEncryption": encryption.put_bucket_encryption,
    "DeleteBucketEncryption": encryption.delete_bucket_encryption,
}


def _authenticate(ctx: RequestContext) -> None:
    scope = ctx.request.scope
    request = AuthRequest(
        method=ctx.method,
        path=scope.get("raw_path", scope["path"].encode()).decode("latin-1"),
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=ctx.headers,
        host_bucket=virtual_host_bucket(ctx.headers.get("host", ""), ctx.config.domain),
    )
    ctx.auth = authenticate(request, ctx.credentials.secret_for, region=ctx.config.region)
    if ctx.auth.query_headers:  # signed headers a SigV2 URL carries: they may name the operation
        for name, value in ctx.auth.query_headers.items():
            ctx.headers.setdefault(name, value)
        ctx.route = route(ctx.method, request.path, ctx.query, ctx.headers, ctx.config.domain)


async def _authenticate_form(ctx: RequestContext) -> None:
    """PostObject: the form's fields up to the file, then its signature and policy."""
    check_bucket_name(ctx.bucket)
    ctx.form = await read_form(ctx.raw_body(), boundary_of(ctx.headers.get("content-type")))
    filename = ctx.form.file.filename if ctx.form.file is not None else None
    ctx.auth, ctx.grant = authenticate_form(ctx.form.fields, filename, ctx.bucket, ctx.credentials.secret_for,
                                            region=ctx.config.region)


async def dispatch(ctx: RequestContext) -> Response:
    check_header_section(ctx.request.scope["headers"])
    target = ctx.route
    if target.operation == "Health" and target.error is None:
        return await service.health(ctx.store)
    if target.operation == "Metrics" and target.error is None:
        return await admin.metrics(ctx)
    if target.operation == PREFLIGHT:
        return await cors.options_object(ctx)
    if target.operation == "PostObject" and target.error is None:
        await _authenticate_form(ctx)
    else:
        _authenticate(ctx)
    return await _authorized(ctx)


NOT_SESSION_ACTIONS = frozenset({"Health", "Metrics", PREFLIGHT, "PostObject", "Console"})


async def dispatch_as_session(ctx: RequestContext, caller: SessionCaller) -> Response:
    """An internal request of the web console, as ``caller`` (authenticated by
    its console session): the same path as :func:`dispatch` after authentication."""
    if ctx.route.operation in NOT_SESSION_ACTIONS:
        raise S3Error("NotImplemented")
    check_header_section(ctx.request.scope["headers"])
    ctx.auth = caller.auth_result()
    return await _authorized(ctx)


async def _authorized(ctx: RequestContext) -> Response:
    """Everything after authentication: the route's error, the handler, the
    unsupported headers, authorization, the key, then the handler itself."""
    target = ctx.route  # a SigV2 URL's signed query headers may have named another operation
    anonymous = ctx.auth is not None and not ctx.auth.access_key
    if target.error is not None:
        raise S3Error("AccessDenied" if anonymous and target.error == "NotImplemented" else target.error)
    if target.operation not in HANDLERS:
        raise S3Error("AccessDenied" if anonymous else "NotImplemented")
    refuse_unsupported(ctx.headers, target.operation)
    await authorize_request(ctx)
    if target.key is not None:
        check_key(target.key)
    try:
        return await HANDLERS[target.operation](ctx)
    finally:
        if target.operation in CHANGES_ACCESS and target.bucket is not None:
            ctx.request.app.state.bucket_access.invalidate(target.bucket)
