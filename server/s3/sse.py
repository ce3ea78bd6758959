"""Server-side encryption on the wire: the request headers that ask for it,
the bucket's default encryption, and the response headers that report it.

SSE-S3 (``x-amz-server-side-encryption: AES256``), SSE-KMS (``aws:kms`` with
``x-amz-server-side-encryption-aws-kms-key-id``, keys from the local keyring
of server/auth/kms.py, each use checked against its key's policy) and SSE-C
(the three ``x-amz-server-side-encryption-customer-*`` headers, and for a
copy's source the ``x-amz-copy-source-server-side-encryption-customer-*``
ones) are honoured; DSSE-KMS (``aws:kms:dsse``), encryption contexts and S3
Bucket Keys answer NotImplemented, never silently. Each malformed header
answers AWS's error.

AWS refuses SSE-C over plain HTTP (the key would cross the network in the
clear). fragstore does too, except from a loopback address: a TLS-terminating
proxy on the same host (which uvicorn trusts for X-Forwarded-Proto: https),
and the test suite, reach it that way, and a key sent to 127.0.0.1 never
leaves the machine (docs/DESIGN.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from dedup.types import SSE_C, SSE_KMS, SSE_S3, Encryption, ObjectMeta
from server.auth.kms import DECRYPT, GENERATE, KmsKeys
from server.s3.context import RequestContext
from server.s3.errors import S3Error

SSE = "x-amz-server-side-encryption"
KMS_KEY = "x-amz-server-side-encryption-aws-kms-key-id"
KMS_CONTEXT = "x-amz-server-side-encryption-context"
BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"
CUSTOMER = "x-amz-server-side-encryption-customer-"
COPY_CUSTOMER = "x-amz-copy-source-server-side-encryption-customer-"
CONFIG_DOC = "encryption"  # the bucket configuration document: the default algorithm
DSSE = "aws:kms:dsse"


def _argument(message: str, name: str, value: str = "") -> S3Error:
    extra = {"ArgumentName": name}
    if value:
        extra["ArgumentValue"] = value
    return S3Error("InvalidArgument", message, extra=extra)


def refuse_kms(headers: Mapping[str, str]) -> None:
    """NotImplemented for DSSE-KMS, encryption contexts and bucket keys, before anything is read."""
    value = headers.get(SSE, "").strip()
    if value == DSSE:
        raise S3Error("NotImplemented", "DSSE-KMS is not implemented: use AES256, aws:kms or SSE-C.",
                      extra={"Header": SSE})
    if KMS_CONTEXT in headers:
        raise S3Error("NotImplemented", "SSE-KMS encryption contexts are not implemented.",
                      extra={"Header": KMS_CONTEXT})
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
    """Whether an SSE-C key may travel on this connection: TLS (here, or at a
    proxy on this host that says so: uvicorn takes X-Forwarded-Proto from
    127.0.0.1 only, and the scheme is then https), or loopback."""
    if tls:
        return True
    try:
        return client_host is not None and ipaddress.ip_address(client_host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Caller:
    """Who asks to use a KMS key, and the keyring that says whether they may."""

    kms: KmsKeys
    access_key: str
    root: str

    def use(self, key_id: str | None, action: str) -> str:
        """The name of the KMS key ``key_id`` names, if the caller may do ``action`` with it."""
        name = self.kms.resolve(key_id)
        if name is None:
            shown = key_id or "the default key (none configured)"
            raise S3Error("KMS.NotFoundException", f"Key '{shown}' does not exist")
        if not self.kms.may(name, action, self.access_key, self.root):
            raise S3Error("AccessDenied", f"User: {self.access_key or 'anonymous'} is not authorized to "
                          f"perform: kms:{action} on resource: {name}")
        return name


def new_encryption(headers: Mapping[str, str], secure: bool, bucket_default: bytes | None,
                   caller: Caller | None = None) -> Encryption | None:
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
    if KMS_KEY in headers and (value or "").strip() != SSE_KMS:
        raise _argument("Server Side Encryption with AWS KMS managed key requires HTTP header "
                        "x-amz-server-side-encryption : aws:kms", KMS_KEY)
    if value is None and bucket_default is not None:
        value, _, default_key = bucket_default.decode().partition(" ")
        if value == SSE_KMS:
            headers = {KMS_KEY: default_key} if default_key else {}
    if value is None:
        return None
    if value.strip() == SSE_S3:
        return Encryption(SSE_S3)
    if value.strip() == SSE_KMS:
        if caller is None:
            raise S3Error("NotImplemented", "SSE-KMS is not available for this operation.", extra={"Header": SSE})
        return Encryption(SSE_KMS, kms_key=caller.use(headers.get(KMS_KEY), GENERATE))
    raise _argument("The encryption method specified is not supported", SSE, value)


def response_headers(meta: ObjectMeta, customer: bytes | None = None) -> dict[str, str]:
    """What AWS reports of a version's (or upload's) encryption."""
    if meta.encryption == SSE_S3:
        return {SSE: SSE_S3}
    if meta.encryption == SSE_KMS:
        return {SSE: SSE_KMS, KMS_KEY: meta.kms_key}
    if meta.encryption == SSE_C and customer is not None:
        return {CUSTOMER + "algorithm": "AES256", CUSTOMER + "key-MD5": key_md5(customer)}
    return {}


def refuse_on_read(headers: Mapping[str, str]) -> None:
    """GET, HEAD and UploadPart take SSE-C headers only: AWS refuses x-amz-server-side-encryption there."""
    if SSE in headers or KMS_KEY in headers:
        raise S3Error("InvalidArgument", "x-amz-server-side-encryption header is not supported for this operation.")


def secure(ctx: RequestContext) -> bool:
    client = ctx.request.client
    tls = ctx.config.tls or ctx.request.url.scheme == "https"
    return is_secure(tls, client.host if client is not None else None)


def caller(ctx: RequestContext) -> Caller:
    access_key = ctx.auth.access_key if ctx.auth is not None else ""
    return Caller(ctx.request.app.state.kms, access_key, ctx.credentials.root_access_key)


async def for_new(ctx: RequestContext) -> Encryption | None:
    """The encryption a request that writes new bytes asks for (its bucket's default included)."""
    default = await ctx.store.get_bucket_config(ctx.bucket, CONFIG_DOC)
    return new_encryption(ctx.headers, secure(ctx), default, caller(ctx))


def may_read(ctx: RequestContext, meta: ObjectMeta) -> None:
    """kms:Decrypt on the key of an SSE-KMS version the request reads."""
    if meta.encryption == SSE_KMS:
        caller(ctx).use(meta.kms_key, DECRYPT)


def may_write(ctx: RequestContext, meta: ObjectMeta) -> None:
    """kms:GenerateDataKey on the key of an SSE-KMS upload a part is written into."""
    if meta.encryption == SSE_KMS:
        caller(ctx).use(meta.kms_key, GENERATE)


def read_key(ctx: RequestContext) -> bytes | None:
    """The SSE-C key of a GET, HEAD or UploadPart (None: none given)."""
    refuse_on_read(ctx.headers)
    return customer_key(ctx.headers, secure(ctx))


def source_key(ctx: RequestContext) -> bytes | None:
    """The SSE-C key of a copy's source."""
    return customer_key(ctx.headers, secure(ctx), COPY_CUSTOMER)


def customer_of(encryption: Encryption | None) -> bytes | None:
    return encryption.customer_key if encryption is not None and encryption.mode == SSE_C else None
