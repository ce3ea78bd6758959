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


def parse_copy_source(value: str) -> tuple[str, str, str | None]:
    """(bucket, key, version id or None) of ``[/]bucket/key[?versionId=ID]``, percent-decoded."""
    path, _, query = value.strip().partition("?")
    version = None
    if query:
        version = parse_qs(query, keep_blank_values=True).get("versionId", [None])[0]
        if version == "":
            raise S3Error("InvalidArgument", "Version id cannot be the empty string",
                          extra={"ArgumentName": "x-amz-copy-source", "ArgumentValue": value})
    try:
        decoded = unquote(path, errors="strict")
    except UnicodeDecodeError:
        raise S3Error("InvalidArgument", _BAD_SOURCE) from None
    bucket, _, key = decoded.lstrip("/").partition("/")
    if not bucket or not key:
        raise S3Error("InvalidArgument", _BAD_SOURCE,
                      extra={"ArgumentName": "x-amz-copy-source", "ArgumentValue": value})
    return bucket, key, version
