"""The ``x-amz-copy-source`` header of CopyObject and UploadPartCopy."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote

from server.s3.errors import S3Error

_BAD_SOURCE = "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"
# Headers that make a copy onto itself legal even with the COPY directive.
SELF_COPY_CHANGES = (
    "x-amz-storage-class",
    "x-amz-website-redirect-location",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
)


def parse_copy_source(value: str) -> tuple[str, str]:
    """(bucket, key) of ``[/]bucket/key[?versionId=null]``, percent-decoded."""
    path, _, query = value.strip().partition("?")
    if query:
        version = parse_qs(query).get("versionId", [""])[0]
        if version != "null":
            raise S3Error("NotImplemented", "Object versions are not supported.")
    try:
        decoded = unquote(path, errors="strict")
    except UnicodeDecodeError:
        raise S3Error("InvalidArgument", _BAD_SOURCE) from None
    bucket, _, key = decoded.lstrip("/").partition("/")
    if not bucket or not key:
        raise S3Error("InvalidArgument", _BAD_SOURCE,
                      extra={"ArgumentName": "x-amz-copy-source", "ArgumentValue": value})
    return bucket, key
