"""Request headers that ask for something fragstore does not do, refused with
AWS's error before any handler runs: nothing that asks for protection
(encryption, MFA) is accepted and ignored.

A header is refused unless its value asks for what fragstore does anyway
(``x-amz-storage-class: STANDARD``). ACLs (``x-amz-acl``, ``x-amz-grant-*``) and
``x-amz-object-ownership`` are honoured (server/s3/access.py), as is
``x-amz-expected-bucket-owner``; Object Lock headers by the handlers that take
them (server/s3/lockparams.py); server-side encryption headers by the
operations in :data:`ENCRYPTING` (server/s3/sse.py), refused on any other.
"""

from __future__ import annotations

from collections.abc import Mapping

from server.s3.errors import S3Error

_PREFIXES = (
    "x-amz-server-side-encryption",
    "x-amz-copy-source-server-side-encryption",
)
_HEADERS = ("x-amz-mfa", "x-amz-website-redirect-location")
# header -> values that ask for nothing fragstore does not already do
_HARMLESS: dict[str, frozenset[str]] = {
    "x-amz-storage-class": frozenset({"STANDARD"}),
}


# operations whose handlers read the encryption headers (server/s3/sse.py)
ENCRYPTING = frozenset({
    "PutObject", "PostObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "UploadPartCopy",
    "CompleteMultipartUpload", "GetObject", "HeadObject", "GetObjectAttributes",
})


def refuse_unsupported(headers: Mapping[str, str], operation: str = "") -> None:
    """NotImplemented (naming the header) for the first header fragstore cannot
    honour in ``operation``."""
    encrypting = operation in ENCRYPTING
    for name, value in headers.items():
        if encrypting and name.startswith(_PREFIXES):
            continue
        harmless = _HARMLESS.get(name)
        if harmless is not None:
            if value.strip() in harmless or value.strip().lower() in harmless:
                continue
        elif not (name in _HEADERS or name.startswith(_PREFIXES)):
            continue
        raise S3Error("NotImplemented", f"A header you provided implies functionality that is not implemented: {name}",
                      extra={"Header": name})
