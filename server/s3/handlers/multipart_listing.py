"""ListParts and ListMultipartUploads. Initiator and Owner are the upload's
owner-to-be (the bucket's owner unless another user started it in a bucket
with ACLs enabled)."""

from __future__ import annotations

from starlette.responses import Response

from server.http.dates import iso8601
from server.http.responses import xml_response
from server.s3 import multipart_checksums as mpc
from server.s3.context import RequestContext
from server.s3.handlers.service import owner_node
from server.s3.listing_params import MAX_LIST, key_encoder
from server.s3.params import int_param, upload_id
from server.s3.xmlrender import Node


async def list_parts(ctx: RequestContext) -> Response:
    uid = upload_id(ctx.query)
    marker = int_param(ctx.query, "part-number-marker", 0)
    max_parts = int_param(ctx.query, "max-parts", MAX_LIST, maximum=MAX_LIST)
    page = await ctx.store.list_parts(ctx.bucket, ctx.key, uid, part_number_marker=marker, max_parts=max_parts)
    checksum = mpc.of_upload(page.upload.meta)
    nodes: list[Node] = [
        ("Bucket", ctx.bucket), ("Key", ctx.key), ("UploadId", uid),
        ("PartNumberMarker", marker), ("NextPartNumberMarker", page.next_marker),
        ("MaxParts", max_parts), ("IsTruncated", page.is_truncated),
    ]
    for part in page.parts:
        children: list[Node] = [
            ("PartNumber", part.part_number), ("LastModified", iso8601(part.last_modified)),
            ("ETag", f'"{part.etag}"'), ("Size", part.size),
        ]
        children += [(f"Checksum{alg}", value) for alg, value in part.checksums.items()]
        nodes.append(("Part", children))
    owner = ctx.authorized.version_owner(page.upload.meta.owner)
    nodes += [owner_node(owner, "Initiator"), owner_node(owner), ("StorageClass", "STANDARD"),
              ("ChecksumAlgorithm", checksum.algorithm), ("ChecksumType", checksum.type)]
    return xml_response("ListPartsResult", nodes)


async def list_multipart_uploads(ctx: RequestContext) -> Response:
    enc = key_encoder(ctx.query)
    q = ctx.query
    max_uploads = int_param(q, "max-uploads", MAX_LIST, maximum=MAX_LIST)
    page = await ctx.store.list_multipart_uploads(
        ctx.bucket, prefix=q.get("prefix", ""), delimiter=q.get("delimiter", ""),
        key_marker=q.get("key-marker", ""), upload_id_marker=q.get("upload-id-marker", ""),
        max_uploads=max_uploads,
    )
    nodes: list[Node] = [
        ("Bucket", ctx.bucket), ("KeyMarker", enc(q.get("key-marker", ""))),
        ("UploadIdMarker", q.get("upload-id-marker", "")),
        ("NextKeyMarker", enc(page.next_key_marker) if page.next_key_marker is not None else None),
        ("NextUploadIdMarker", page.next_upload_id_marker),
        ("Prefix", enc(q.get("prefix", ""))),
        ("Delimiter", enc(q["delimiter"]) if q.get("delimiter") else None),
        ("MaxUploads", max_uploads), ("IsTruncated", page.is_truncated),
    ]
    for upload in page.uploads:
        nodes.append(("Upload", [
            ("Key", enc(upload.key)), ("UploadId", upload.upload_id),
            owner_node(ctx.authorized.version_owner(upload.meta.owner), "Initiator"),
            owner_node(ctx.authorized.version_owner(upload.meta.owner)),
            ("StorageClass", "STANDARD"),
            ("Initiated", iso8601(upload.initiated)),
            ("ChecksumAlgorithm", mpc.of_upload(upload.meta).algorithm),
        ]))
    nodes += [("CommonPrefixes", [("Prefix", enc(p))]) for p in page.common_prefixes]
    if "encoding-type" in q:
        nodes.append(("EncodingType", "url"))
    return xml_response("ListMultipartUploadsResult", nodes)
