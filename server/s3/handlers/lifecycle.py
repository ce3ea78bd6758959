"""Bucket lifecycle: PutBucketLifecycleConfiguration,
GetBucketLifecycleConfiguration (the rules written back as S3 writes them),
DeleteBucketLifecycle. Parsing and S3's checks are server/s3/lifecycle_xml.py;
the rules are carried out by the server's lifecycle loop
(server/admin/lifecycleloop.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import Response

from dedup.lifecycle import Filter, LifecycleConfiguration, Rule
from server.http.responses import empty_response, xml_response
from server.s3.context import RequestContext
from server.s3.errors import S3Error
from server.s3.integrity import read_protected_body
from server.s3.lifecycle_xml import parse_lifecycle
from server.s3.xmlrender import Node

MINIMUM_SIZE = "x-amz-transition-default-minimum-object-size"


async def put_bucket_lifecycle_configuration(ctx: RequestContext) -> Response:
    config = parse_lifecycle(await read_protected_body(ctx), ctx.headers.get(MINIMUM_SIZE))
    await ctx.store.put_bucket_lifecycle(ctx.bucket, config)
    return empty_response(200, {MINIMUM_SIZE: config.minimum_object_size})


async def get_bucket_lifecycle_configuration(ctx: RequestContext) -> Response:
    config = await ctx.store.get_bucket_lifecycle(ctx.bucket)
    if config is None:
        raise S3Error("NoSuchLifecycleConfiguration", extra={"BucketName": ctx.bucket})
    return xml_response("LifecycleConfiguration", render_rules(config),
                        headers={MINIMUM_SIZE: config.minimum_object_size})


async def delete_bucket_lifecycle(ctx: RequestContext) -> Response:
    await ctx.store.put_bucket_lifecycle(ctx.bucket, None)
    return empty_response(204)


def render_rules(config: LifecycleConfiguration) -> list[Node]:
    """The ``<Rule>`` nodes of a GetBucketLifecycleConfiguration answer."""
    return [("Rule", _rule_nodes(r)) for r in config.rules]


def _rule_nodes(rule: Rule) -> list[Node]:
    nodes: list[Node] = [("ID", rule.id)]
    nodes.append(("Prefix", rule.filter.prefix or "") if rule.legacy_prefix else ("Filter", _filter_nodes(rule.filter)))
    nodes.append(("Status", "Enabled" if rule.enabled else "Disabled"))
    e = rule.expiration
    if e is not None:
        nodes.append(("Expiration", [("Days", e.days), ("Date", _iso_date(e.date)),
                                     ("ExpiredObjectDeleteMarker", e.expired_object_delete_marker)]))
    n = rule.noncurrent_version_expiration
    if n is not None:
        nodes.append(("NoncurrentVersionExpiration", [("NoncurrentDays", n.noncurrent_days),
                                                      ("NewerNoncurrentVersions", n.newer_noncurrent_versions)]))
    if rule.abort_days is not None:
        nodes.append(("AbortIncompleteMultipartUpload", [("DaysAfterInitiation", rule.abort_days)]))
    return nodes


def _filter_nodes(f: Filter) -> list[Node]:
    nodes: list[Node] = [("Prefix", f.prefix)]
    nodes += [("Tag", [("Key", k), ("Value", v)]) for k, v in f.tags]
    nodes += [("ObjectSizeGreaterThan", f.size_greater_than), ("ObjectSizeLessThan", f.size_less_than)]
    return [("And", nodes)] if f.conjunction else nodes


def _iso_date(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
