"""Bucket default encryption: Get/Put/DeleteBucketEncryption.

    <ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>
        <SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>
        <BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>

Stored as the bucket configuration document ``encryption`` (the algorithm).
New objects written without encryption headers are then encrypted with SSE-S3
(server/s3/sse.py). ``aws:kms`` and ``aws:kms:dsse`` answer NotImplemented, as
does BucketKeyEnabled true (bucket keys are an SSE-KMS feature): never
accepted and ignored.

A bucket without a configuration answers
ServerSideEncryptionConfigurationNotFoundError, as S3 did before 2023. S3 now
answers every bucket with an SSE-S3 configuration because it encrypts every
new object; fragstore stores objects written without encryption in plaintext
(encryption costs speed, and dedup is only across objects of one encryption
domain), so reporting AES256 would claim a protection that is not there
(docs/DESIGN.md, "Encryption at rest").
"""

from __future__ import annotations

from starlette.responses import Response

from dedup.types import SSE_S3
from server.http.responses import empty_response, xml_response
from server.s3.context import RequestContext
from server.s3.errors import S3Error
from server.s3.integrity import read_checked_body
from server.s3.sse import CONFIG_DOC
from server.s3.xmlparse import child_text, children, expect_root
from server.s3.xmlrender import Node


async def get_bucket_encryption(ctx: RequestContext) -> Response:
    stored = await ctx.store.get_bucket_config(ctx.bucket, CONFIG_DOC)
    if stored is None:
        raise S3Error("ServerSideEncryptionConfigurationNotFoundError", extra={"BucketName": ctx.bucket})
    rule: list[Node] = [("ApplyServerSideEncryptionByDefault", [("SSEAlgorithm", stored.decode())]),
                        ("BucketKeyEnabled", False)]
    return xml_response("ServerSideEncryptionConfiguration", [("Rule", rule)])


def parse_encryption(body: bytes) -> str:
    """The default algorithm a PutBucketEncryption body sets."""
    rules = children(expect_root(body, "ServerSideEncryptionConfiguration"), "Rule")
    if len(rules) != 1:
        raise S3Error("MalformedXML")
    defaults = children(rules[0], "ApplyServerSideEncryptionByDefault")
    if len(defaults) != 1:
        raise S3Error("MalformedXML")
    algorithm = (child_text(defaults[0], "SSEAlgorithm") or "").strip()
    bucket_key = (child_text(rules[0], "BucketKeyEnabled") or "false").strip().lower()
    if bucket_key not in ("true", "false"):
        raise S3Error("MalformedXML")
    if algorithm in ("aws:kms", "aws:kms:dsse") or child_text(defaults[0], "KMSMasterKeyID") is not None:
        raise S3Error("NotImplemented", "SSE-KMS is not implemented: use AES256 (SSE-S3).")
    if algorithm != SSE_S3:
        raise S3Error("MalformedXML")
    if bucket_key == "true":
        raise S3Error("NotImplemented", "S3 Bucket Keys are not implemented (they apply to SSE-KMS only).")
    return algorithm


async def put_bucket_encryption(ctx: RequestContext) -> Response:
    algorithm = parse_encryption(await read_checked_body(ctx))
    await ctx.store.put_bucket_config(ctx.bucket, CONFIG_DOC, algorithm.encode())
    return empty_response(200)


async def delete_bucket_encryption(ctx: RequestContext) -> Response:
    await ctx.store.put_bucket_config(ctx.bucket, CONFIG_DOC, None)
    return empty_response(204)
