"""POST Object form fields in the roles PutObject gives headers.

The form's fields (lower-case names, verified by server/auth/post_auth.py)
become what a PUT would send as headers: Content-Type, Cache-Control,
Content-Disposition, Content-Encoding, Content-Language, Expires,
``x-amz-meta-*``, Content-MD5 and ``x-amz-checksum-*``; ``acl`` is the
x-amz-acl of the upload (a canned ACL, read by server/s3/access.py). Fields
that ask for what fragstore does not do answer NotImplemented rather than
being ignored: grants, server-side encryption other than
``x-amz-server-side-encryption: AES256`` (SSE-S3, honoured), a storage class
other than STANDARD, tagging, object lock, website redirects, session tokens.
:func:`success_action` reads how to answer a stored upload.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from dedup.types import ObjectMeta
from server.s3.errors import S3Error
from server.s3.objmeta import META_PREFIX, STORED_HEADERS, meta_from_headers
from server.s3.params import content_md5

SSE_FIELD = "x-amz-server-side-encryption"
_REFUSED_PREFIXES = ("x-amz-server-side-encryption", "x-amz-object-lock-", "x-amz-grant-")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_URL = re.compile(r"[\x21-\x7e]+")  # what a Location header can carry as is
_REFUSED = frozenset({"tagging", "x-amz-website-redirect-location", "x-amz-security-token", "x-amz-tagging"})


def check_supported(fields: Mapping[str, str]) -> None:
    """NotImplemented (or InvalidArgument for a value S3 refuses) for fields asking for more than a PUT does."""
    if fields.get("x-amz-storage-class", "STANDARD") != "STANDARD":
        raise S3Error("NotImplemented", "Storage classes other than STANDARD are not implemented.")
    for name in fields:
        if name == SSE_FIELD:
            continue  # server/s3/sse.py takes it (AES256) or refuses it
        if name in _REFUSED or name.startswith(_REFUSED_PREFIXES):
            raise S3Error("NotImplemented", f"The form field {name} asks for functionality that is not implemented.")


def _header_value(name: str, value: str) -> str:
    """A form value as a header would carry it: its UTF-8 bytes as Latin-1 text
    (what the server sees of a PUT's raw UTF-8 header); InvalidArgument for
    control characters, which no header value may hold."""
    if _CONTROL.search(value):
        raise S3Error("InvalidArgument", f"Invalid value for the form field {name}",
                      extra={"ArgumentName": name, "ArgumentValue": value})
    return value.encode("utf-8").decode("latin-1")


def as_headers(fields: Mapping[str, str]) -> dict[str, str]:
    """The fields a PUT would send as headers, by lower-case header name."""
    wanted = ("content-type", "content-md5", *STORED_HEADERS)
    return {name: _header_value(name, value) for name, value in fields.items()
            if name in wanted or name.startswith(META_PREFIX) or name.startswith("x-amz-checksum-")}


@dataclass(frozen=True)
class FormObject:
    """What the upload stores besides its bytes, and the checks on those bytes."""

    meta: ObjectMeta
    content_md5: bytes | None
    checksum_headers: dict[str, str]


def form_object(fields: Mapping[str, str]) -> FormObject:
    check_supported(fields)
    headers = as_headers(fields)
    checksums = {k: v for k, v in headers.items() if k.startswith("x-amz-checksum-")}
    return FormObject(meta_from_headers(headers), content_md5(headers), checksums)


def success_action(fields: Mapping[str, str]) -> tuple[str | None, int]:
    """(redirect URL or None, status): ``success_action_redirect`` (or the older
    ``redirect``) when it is a URL S3 can interpret, else ``success_action_status``
    200 or 201, anything else 204."""
    for name in ("success_action_redirect", "redirect"):
        url = fields.get(name, "")
        parts = urlsplit(url) if _URL.fullmatch(url) else None
        if parts is not None and parts.scheme in ("http", "https") and parts.netloc:
            return url, 303
    status = fields.get("success_action_status", "")
    return None, int(status) if status in ("200", "201") else 204
