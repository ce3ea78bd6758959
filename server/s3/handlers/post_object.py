"""PostObject: a browser form upload, its form already verified by dispatch.

The file streams into the engine like a PutObject body (the body pipeline's
Payload, at most 5 GiB, MD5 and checksums verified before anything is
published), held to the policy's ``content-length-range``: EntityTooLarge as
soon as it runs past the maximum, EntityTooSmall at its end. The answer is a
303 to ``success_action_redirect`` with bucket, key and ETag in its query, or
``success_action_status`` 200 / 201 (PostResponse XML) / 204 (the default),
with ETag, Location and, in a versioned bucket, x-amz-version-id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import quote

from starlette.responses import Response

from dedup.types import ObjectInfo
from server.http.payload import Payload
from server.http.responses import XML_TYPE, empty_response
from server.http.upload import LiveChecksums, UploadStream
from server.s3.context import RequestContext
from server.s3.errors import S3Error
from server.s3.objmeta import check_key
from server.s3.post_fields import SSE_FIELD, form_object, success_action
from server.s3.routing import virtual_host_bucket
from server.s3.sse import CONFIG_DOC, caller, new_encryption, response_headers
from server.s3.xmlrender import document


async def sized(data: AsyncIterator[bytes], length_range: tuple[int, int] | None) -> AsyncIterator[bytes]:
    """``data`` held to content-length-range (inclusive)."""
    low, high = length_range or (0, None)
    total = 0
    async for piece in data:
        total += len(piece)
        if high is not None and total > high:
            raise S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
                          extra={"MaxSizeAllowed": str(high)})
        yield piece
    if total < low:
        raise S3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size",
                      extra={"ProposedSize": str(total), "MinSizeAllowed": str(low)})


def object_url(ctx: RequestContext, key: str) -> str:
    """Where the stored object is, in the addressing style of the request."""
    host = ctx.headers.get("host", "")
    path = quote(key, safe="/~") if virtual_host_bucket(host, ctx.config.domain) else f"{ctx.bucket}/{quote(key, safe='/~')}"
    return f"{ctx.request.url.scheme}://{host}/{path}"


async def post_object(ctx: RequestContext) -> Response:
    assert ctx.form is not None and ctx.grant is not None and ctx.auth is not None
    fields = ctx.grant.fields
    key = fields["key"]
    if not key:
        raise S3Error("InvalidArgument", "User key must have a length greater than 0.",
                      extra={"ArgumentName": "key", "ArgumentValue": ""})
    check_key(key)
    stored = form_object(fields)
    if ctx.form.file is None:
        raise S3Error("IncorrectNumberOfFilesInPostRequest")
    requested = {SSE_FIELD: fields[SSE_FIELD]} if SSE_FIELD in fields else {}
    encryption = new_encryption(requested, False, await ctx.store.get_bucket_config(ctx.bucket, CONFIG_DOC),
                                caller(ctx))
    payload = Payload(sized(ctx.form.file.data, ctx.grant.length_range), ctx.auth, stored.checksum_headers)
    result = await ctx.store.put_object(
        ctx.bucket, key, UploadStream(payload),
        replace(ctx.authorized.new_version(stored.meta), checksums=LiveChecksums(payload)),
        content_md5=stored.content_md5, encryption=encryption,
    )
    return _answer(ctx, result.info, success_action(fields))


def _answer(ctx: RequestContext, info: ObjectInfo, action: tuple[str | None, int]) -> Response:
    etag = f'"{info.etag}"'
    headers = {"ETag": etag, "Location": object_url(ctx, info.key)}
    if info.versioned:
        headers["x-amz-version-id"] = info.version_id
    headers.update(response_headers(info.meta))
    redirect, status = action
    if redirect is not None:
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in (("bucket", info.bucket), ("key", info.key), ("etag", etag)))
        headers["Location"] = redirect + ("&" if "?" in redirect else "?") + query
        return empty_response(303, headers)
    if status == 201:
        body = document("PostResponse", [("Location", headers["Location"]), ("Bucket", info.bucket),
                                         ("Key", info.key), ("ETag", etag)], namespace=False)
        return Response(body, status_code=201, headers=headers, media_type=XML_TYPE)
    return empty_response(status, headers)
