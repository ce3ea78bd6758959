"""GetObjectAttributes: what HEAD would say, as one XML document, chosen by
``x-amz-object-attributes`` (ETag, Checksum, ObjectParts, StorageClass,
ObjectSize). ObjectParts lists the part sizes of a multipart object, paged by
``x-amz-max-parts`` / ``x-amz-part-number-marker``; per-part checksums are not
kept after completion, so parts carry their sizes only. An SSE-C object's
attributes need its key, as its HEAD does."""

from __future__ import annotations

from starlette.responses import Response

from dedup.types import ObjectInfo
from server.http.dates import rfc1123
from server.http.responses import xml_response
from server.s3 import sse
from server.s3.context import RequestContext
from server.s3.errors import S3Error
from server.s3.objmeta import checksum_type
from server.s3.params import int_param
from server.s3.versions import version_headers, version_param
from server.s3.xmlrender import Node

ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
MAX_PARTS = 1000


def _wanted(header: str | None) -> set[str]:
    names = {n.strip() for n in (header or "").split(",") if n.strip()}
    if not names:
        raise S3Error("InvalidRequest", "The x-amz-object-attributes header specifying the attributes to be "
                      "retrieved is either missing or empty")
    unknown = names - set(ATTRIBUTES)
    if unknown:
        raise S3Error("InvalidArgument", "Invalid attribute name specified.",
                      extra={"ArgumentName": "x-amz-object-attributes", "ArgumentValue": sorted(unknown)[0]})
    return names


def _parts(ctx: RequestContext, info: ObjectInfo) -> Node | None:
    if "-" not in info.etag:  # a single PUT has no parts to list
        return None
    query = {"max": ctx.headers.get("x-amz-max-parts", ""), "marker": ctx.headers.get("x-amz-part-number-marker", "")}
    max_parts = int_param(query, "max", MAX_PARTS, maximum=MAX_PARTS)
    marker = int_param(query, "marker", 0)
    sizes = list(enumerate(info.part_sizes, start=1))[marker:]
    page, truncated = sizes[:max_parts], len(sizes) > max_parts
    children: list[Node] = [
        ("PartsCount", len(info.part_sizes)),  # boto3 calls it TotalPartsCount
        ("PartNumberMarker", marker),
        ("NextPartNumberMarker", page[-1][0] if page else marker),
        ("MaxParts", max_parts),
        ("IsTruncated", truncated),
    ]
    children += [("Part", [("PartNumber", n), ("Size", size)]) for n, size in page]
    return ("ObjectParts", children)


async def get_object_attributes(ctx: RequestContext) -> Response:
    wanted = _wanted(ctx.headers.get("x-amz-object-attributes"))
    info = await ctx.store.head_object(ctx.bucket, ctx.key, version_param(ctx.query))
    ctx.store.read_domain(info.meta, sse.read_key(ctx))
    nodes: list[Node] = []
    if "ETag" in wanted:
        nodes.append(("ETag", info.etag))
    if "Checksum" in wanted and info.meta.checksums:
        sums: list[Node] = [(f"Checksum{alg}", value) for alg, value in info.meta.checksums.items()]
        nodes.append(("Checksum", [*sums, ("ChecksumType", checksum_type(info.meta.checksums))]))
    if "ObjectParts" in wanted and (parts := _parts(ctx, info)) is not None:
        nodes.append(parts)
    if "StorageClass" in wanted:
        nodes.append(("StorageClass", "STANDARD"))
    if "ObjectSize" in wanted:
        nodes.append(("ObjectSize", info.size))
    headers = {"Last-Modified": rfc1123(info.last_modified), **version_headers(info)}
    return xml_response("GetObjectAttributesResponse", nodes, headers=headers)
