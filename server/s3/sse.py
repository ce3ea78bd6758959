"""Server-side encryption on the wire: the request headers that ask for it,
the bucket's default encryption, and the response headers that report it.

SSE-S3 (``x-amz-server-side-encryption: AES256``) and SSE-C (the three
``x-amz-server-side-encryption-customer-*`` headers, and for a copy's source
the ``x-amz-copy-source-server-side-encryption-customer-*`` ones) are honoured;
SSE-KMS (``aws:kms``, ``aws:kms:dsse``) and bucket keys answer NotImplemented,
never silently. Each malformed header answers AWS's error.

AWS refuses SSE-C over plain HTTP (the key would cross the network in the
clear). fragstore does too, except from a loopback address: a TLS-terminating
proxy on the same host, and the test suite, reach it that way, and a key sent
to 127.0.0.1 never leaves the machine (docs/DESIGN.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
from collections.abc import Mapping

from dedup.types import SSE_C, SSE_S3, Encryption, ObjectMeta
from server.s3.context import RequestContext
from server.s3.errors import S3Error

SSE = "x-amz-server-side-encryption"
KMS_KEY = "x-amz-server-side-encryption-aws-kms-key-id"
KMS_CONTEXT = "x-amz-server-side-encryption-context"
BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"
CUSTOMER = "x-amz-server-side-encryption-customer-"
COPY_CUSTOMER = "x-amz-copy-source-server-side-encryption-customer-"
CONFIG_DOC = "encryption"  # the bucket configuration document: the default algorithm
_KMS = ("aws:kms", "aws:kms:dsse")


def _argument(message: str, name: str, value: str = "") -> S3Error:
    extra = {"ArgumentName": name}
    if value:
        extra["ArgumentValue"] = value
    return S3Error("InvalidArgument", message, extra=extra)


def refuse_kms(headers: Mapping[str, str]) -> None:
    """NotImplemented for SSE-KMS and bucket keys, before anything is read."""
    value = headers.get(SSE, "").strip()
    if value in _KMS or KMS_KEY in headers or KMS_CONTEXT in headers:
        raise S3Error("NotImplemented", "SSE-KMS is not implemented: use AES256 (SSE-S3) or SSE-C.",
                      extra={"Header": SSE})
    if headers.get(BUCKET_KEY, "").strip().lower() == "true":
        raise S3Error("NotImplemented", "S3 Bucket Keys are not implemented (they apply to SSE-KMS only).",
                      extra={"Header": BUCKET_KEY})


def customer_key(headers: Mapping[str, str], secure: bool, prefix: str = CUSTOMER) -> bytes | None:
    """The SSE-C key the headers under ``prefix`` carry (None: none), checked as AWS checks it."""
    algorithm = headers.get(prefix + "algorithm")
    key_b64 = headers.get(prefix + "key")
    md5_b64 = headers.get(prefix + "key-md5")
    if algorithm is None and key_b64 is None and md5_b64 is None:
        return None
    if algorithm is None:
        raise _argument("Requests specifying Server Side Encryption with Customer provided keys must provide "
                        "a valid encryption algorithm.", prefix + "algorithm")
    if algorithm.strip() != "AES256":
        raise S3Error("InvalidEncryptionAlgorithmError",
                      "The Encryption request you specified is not valid. Supported value: AES256.",
                      extra={"ArgumentName": prefix + "algorithm", "ArgumentValue": algorithm})
    if key_b64 is None:
        raise _argument("Requests specifying Server Side Encryption with Customer provided keys must provide an "
                        "appropriate secret key.", prefix + "key")
    try:
        key = base64.b64decode(key_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise _argument("The secret key was invalid for the specified algorithm.", prefix + "key")
    if md5_b64 is None:
        raise _argument("Requests specifying Server Side Encryption with Customer provided keys must provide the "
                        "client calculated MD5 of the secret key.", prefix + "key-MD5")
    if md5_b64.strip() != key_md5(key):
        raise _argument("The calculated MD5 hash of the key did not match the hash that was provided.",
                        prefix + "key-MD5")
    if not secure:
        raise S3Error("InvalidRequest", "Requests specifying Server Side Encryption with Customer provided keys "
                      "must be made over a secure connection.")
    return key


def key_md5(key: bytes) -> str:
    return base64.b64encode(hashlib.md5(key).digest()).decode()


def is_secure(tls: bool, client_host: str | None) -> bool:
    """Whether an SSE-C key may travel on this connection: TLS, or loopback."""
    if tls:
        return True
    try:
        return client_host is not None and ipaddress.ip_address(client_host).is_loopback
    except ValueError:
        return False


def new_encryption(headers: Mapping[str, str], secure: bool, bucket_default: bytes | None) -> Encryption | None:
    """How a PUT, POST, copy or CreateMultipartUpload asks its new bytes to be
    encrypted: its own headers, else the bucket's default encryption."""
    refuse_kms(headers)
    value = headers.get(SSE)
    key = customer_key(headers, secure)
    if key is not None:
        if value is not None:
            raise _argument("Server Side Encryption with Customer provided key is incompatible with the "
                            "encryption method specified", SSE, value)
        return Encryption(SSE_C, key)
    if value is not None:
        if value.strip() != SSE_S3:
            raise _argument("The encryption method specified is not supported", SSE, value)
        return Encryption(SSE_S3)
    if bucket_default is not None and bucket_default.decode() == SSE_S3:
        return Encryption(SSE_S3)
    return None


def response_headers(meta: ObjectMeta, customer: bytes | None = None) -> dict[str, str]:
    """What AWS reports of a version's (or upload's) encryption."""
    if meta.encryption == SSE_S3:
        return {SSE: SSE_S3}
    if meta.encryption == SSE_C and customer is not None:
        return {CUSTOMER + "algorithm": "AES256", CUSTOMER + "key-MD5": key_md5(customer)}
    return {}


def refuse_on_read(headers: Mapping[str, str]) -> None:
    """GET and HEAD take SSE-C headers only: AWS refuses x-amz-server-side-encryption there."""
    if SSE in headers or KMS_KEY in headers:
        raise S3Error("InvalidArgument", "x-amz-server-side-encryption header is not supported for this operation.")


def secure(ctx: RequestContext) -> bool:
    client = ctx.request.client
    return is_secure(ctx.config.tls, client.host if client is not None else None)


async def for_new(ctx: RequestContext) -> Encryption | None:
    """The encryption a request that writes new bytes asks for (its bucket's default included)."""
    default = await ctx.store.get_bucket_config(ctx.bucket, CONFIG_DOC)
    return new_encryption(ctx.headers, secure(ctx), default)


def read_key(ctx: RequestContext) -> bytes | None:
    """The SSE-C key of a GET, HEAD or UploadPart (None: none given)."""
    refuse_on_read(ctx.headers)
    return customer_key(ctx.headers, secure(ctx))


def source_key(ctx: RequestContext) -> bytes | None:
    """The SSE-C key of a copy's source."""
    return customer_key(ctx.headers, secure(ctx), COPY_CUSTOMER)


def customer_of(encryption: Encryption | None) -> bytes | None:
    return encryption.customer_key if encryption is not None and encryption.mode == SSE_C else None
