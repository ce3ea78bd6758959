"""Bucket default encryption: Get/Put/DeleteBucketEncryption.

    <ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>
        <SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>
        <BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>

Stored as the bucket configuration document ``encryption``: the algorithm,
and for ``aws:kms`` a space and the KMS key's name (server/auth/kms.py; an
unknown key answers KMS.NotFoundException; without KMSMasterKeyID, the
keyring's default key). New objects written without encryption headers are
then encrypted so (server/s3/sse.py). ``aws:kms:dsse`` answers
NotImplemented, as does BucketKeyEnabled true (S3 Bucket Keys): never
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

from dedup.types import SSE_KMS, SSE_S3
from server.auth.kms import KmsKeys
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
    algorithm, _, kms_key = stored.decode().partition(" ")
    default: list[Node] = [("SSEAlgorithm", algorithm)]
    if kms_key:
        default.append(("KMSMasterKeyID", kms_key))
    rule: list[Node] = [("ApplyServerSideEncryptionByDefault", default), ("BucketKeyEnabled", False)]
    return xml_response("ServerSideEncryptionConfiguration", [("Rule", rule)])


def parse_encryption(body: bytes, kms: KmsKeys) -> str:
    """The stored document of the default a PutBucketEncryption body sets."""
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
    key_id = child_text(defaults[0], "KMSMasterKeyID")
    if algorithm == "aws:kms:dsse":
        raise S3Error("NotImplemented", "DSSE-KMS is not implemented: use AES256 or aws:kms.")
    if algorithm not in (SSE_S3, SSE_KMS) or (key_id is not None and algorithm != SSE_KMS):
        raise S3Error("MalformedXML")
    if bucket_key == "true":
        raise S3Error("NotImplemented", "S3 Bucket Keys are not implemented.")
    if algorithm == SSE_KMS:
        name = kms.resolve(key_id)
        if name is None:
            raise S3Error("KMS.NotFoundException", f"Key '{key_id or 'the default key (none configured)'}' "
                          "does not exist")
        return f"{SSE_KMS} {name}"
    return algorithm


async def put_bucket_encryption(ctx: RequestContext) -> Response:
    doc = parse_encryption(await read_checked_body(ctx), ctx.request.app.state.kms)
    await ctx.store.put_bucket_config(ctx.bucket, CONFIG_DOC, doc.encode())
    return empty_response(200)


async def delete_bucket_encryption(ctx: RequestContext) -> Response:
    await ctx.store.put_bucket_config(ctx.bucket, CONFIG_DOC, None)
    return empty_response(204)
