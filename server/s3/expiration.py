"""``x-amz-expiration``: when the current version of an object expires under
its bucket's lifecycle rules, and by which rule, on the answers S3 sends it
with (PutObject, GetObject, HeadObject, CopyObject, CompleteMultipartUpload):
``expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="<URL-encoded ID>"``.
A request for a version by id gets none (the rules expire current versions)."""

from __future__ import annotations

from urllib.parse import quote

from dedup.types import ObjectInfo
from server.http.dates import rfc1123
from server.s3.context import RequestContext

HEADER = "x-amz-expiration"


def expiration_headers(ctx: RequestContext, info: ObjectInfo) -> dict[str, str]:
    """The header for ``info`` (empty when no Expiration rule applies)."""
    if "versionId" in ctx.query:
        return {}
    due = ctx.store.object_expiration(info)
    if due is None:
        return {}
    return {HEADER: f'expiry-date="{rfc1123(due.at)}", rule-id="{quote(due.rule_id, safe="")}"'}
