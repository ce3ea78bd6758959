"""DeleteObjects: up to 1000 keys in one XML request, Quiet mode included.

S3 wants the body protected by Content-MD5 or a checksum
(server/s3/integrity.py). A missing ``<Key>`` fails the whole request (MalformedXML, as
the schema requires it); an empty one, or one over 1024 bytes, gets its own
``<Error>`` and the other keys are deleted.
"""

from __future__ import annotations

from starlette.responses import Response

from dedup.types import DeleteRequest, DeleteResult
from server.http.responses import xml_response
from server.s3.context import RequestContext
from server.s3.errors import ERRORS
from server.s3.integrity import read_protected_body
from server.s3.objmeta import MAX_KEY_BYTES
from server.s3.xmlparse import parse_delete
from server.s3.xmlrender import Node


def _key_error(key: str) -> str | None:
    """The S3 code a key is refused with, without deleting anything (None: valid).
    An empty ``<Key></Key>`` names no object: deleting it must not touch anything."""
    if not key:
        return "UserKeyMustBeSpecified"
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        return "KeyTooLongError"
    return None


def _error_node(key: str, code: str) -> Node:
    return ("Error", [("Key", key), ("Code", code), ("Message", ERRORS[code][1])])


async def delete_objects(ctx: RequestContext) -> Response:
    quiet, keys = parse_delete(await read_protected_body(ctx))
    refused = [(key, code) for key in keys if (code := _key_error(key)) is not None]
    rejected = {key for key, _code in refused}
    valid = [k for k in keys if k not in rejected]
    results = await ctx.store.delete_objects(ctx.bucket, [DeleteRequest(k) for k in valid]) if valid else []
    nodes: list[Node] = []
    if not quiet:
        nodes.extend(("Deleted", [("Key", r.key)]) for r in results if isinstance(r, DeleteResult))
    nodes.extend(_error_node(key, code) for key, code in refused)
    return xml_response("DeleteResult", nodes)
