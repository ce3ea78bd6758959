"""DeleteObjects: up to 1000 keys (each with an optional VersionId and ETag
condition) in one XML request, Quiet mode included. Errors are per key.

S3 wants the body protected by Content-MD5 or a checksum
(server/s3/integrity.py). A missing ``<Key>`` fails the whole request (MalformedXML, as
the schema requires it); an empty one, or one over 1024 bytes, gets its own
``<Error>`` and the other keys are deleted. Dispatch read the list: each key
is its own s3:DeleteObject decision (server/s3/access.py), and a key refused
gets an AccessDenied ``<Error>``.
"""

from __future__ import annotations

from starlette.responses import Response

from dedup.types import DeleteRequest, DeleteResult
from server.http.responses import xml_response
from server.s3.conditions import etag_expectation
from server.s3.context import RequestContext
from server.s3.errormap import to_s3_error
from server.s3.errors import ERRORS
from server.s3.objmeta import MAX_KEY_BYTES
from server.s3.xmlparse import DeleteItem
from server.s3.xmlrender import Node


def _key_error(key: str) -> str | None:
    """The S3 code a key is refused with, without deleting anything (None: valid).
    An empty ``<Key></Key>`` names no object: deleting it must not touch anything."""
    if not key:
        return "UserKeyMustBeSpecified"
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        return "KeyTooLongError"
    return None


def _error_node(key: str, code: str, message: str | None = None, version_id: str | None = None) -> Node:
    return ("Error", [("Key", key), ("VersionId", version_id), ("Code", code),
                      ("Message", message or ERRORS[code][1])])


def _deleted_node(item: DeleteItem, result: DeleteResult) -> Node:
    """As S3: VersionId echoes the request; a marker written or removed is
    named by DeleteMarker and DeleteMarkerVersionId."""
    children: list[Node] = [("Key", result.key), ("VersionId", item.version_id)]
    if result.delete_marker:
        children += [("DeleteMarker", True), ("DeleteMarkerVersionId", result.version_id)]
    return ("Deleted", children)


def _request(item: DeleteItem, may_bypass: bool) -> DeleteRequest:
    return DeleteRequest(item.key, item.version_id, etag_expectation(item.etag) if item.etag else None, may_bypass)


async def delete_objects(ctx: RequestContext) -> Response:
    access = ctx.authorized
    quiet, items = access.quiet, access.deletes
    refused = [(item, code) for item in items if (code := _key_error(item.key)) is not None]
    refused += [(item, "AccessDenied") for i, item in enumerate(items)
                if i in access.denied and _key_error(item.key) is None]
    valid = [item for i, item in enumerate(items) if _key_error(item.key) is None and i not in access.denied]
    may_bypass = ctx.authorized.may_bypass
    results = await ctx.store.delete_objects(ctx.bucket, [_request(i, may_bypass) for i in valid]) if valid else []
    nodes: list[Node] = []
    for item, result in zip(valid, results, strict=True):
        if isinstance(result, DeleteResult):
            if not quiet:
                nodes.append(_deleted_node(item, result))
        else:
            error = to_s3_error(result, ctx.bucket, item.key)
            nodes.append(_error_node(item.key, error.code, error.message, item.version_id))
    nodes.extend(_error_node(item.key, code, version_id=item.version_id) for item, code in refused)
    return xml_response("DeleteResult", nodes)
