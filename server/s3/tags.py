"""Object and bucket tags: the ``x-amz-tagging`` header, the ``<Tagging>``
XML body, and AWS's limits, with AWS's errors.

Limits (S3 user guide, object tagging): at most 10 tags on an object and 50
on a bucket; a key of 1-128 Unicode characters, not starting with ``aws:``;
a value of 0-256 characters; keys unique; letters, digits, white space and
``+ - = . _ : / @`` only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl

from server.s3.errors import S3Error
from server.s3.xmlparse import child_text, children, expect_root
from server.s3.xmlrender import Node

OBJECT_TAGS = 10
BUCKET_TAGS = 50
MAX_KEY = 128
MAX_VALUE = 256
_ALLOWED = re.compile(r"^[\w\s+\-=._:/@]*$", re.UNICODE)
_HEADER_ERROR = ("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query "
                 "parameters without tag name duplicates.")


def _check(tags: list[tuple[str, str]], limit: int) -> dict[str, str]:
    if len(tags) > limit:
        what = "Object" if limit == OBJECT_TAGS else "Bucket"
        raise S3Error("BadRequest", f"{what} tags cannot be greater than {limit}")
    out: dict[str, str] = {}
    for key, value in tags:
        if not 1 <= len(key) <= MAX_KEY or not _ALLOWED.match(key):
            raise S3Error("InvalidTag", "The TagKey you have provided is invalid")
        if key.lower().startswith("aws:"):
            raise S3Error("InvalidTag", "Your TagKey cannot be prefixed with aws:")
        if len(value) > MAX_VALUE or not _ALLOWED.match(value):
            raise S3Error("InvalidTag", "The TagValue you have provided is invalid")
        if key in out:
            raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key")
        out[key] = value
    return out


def from_header(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The tags of ``x-amz-tagging`` (PutObject, CopyObject, CreateMultipartUpload);
    None when the header is absent."""
    raw = headers.get("x-amz-tagging")
    if raw is None:
        return None
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=bool(raw), encoding="utf-8", errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise S3Error("InvalidArgument", _HEADER_ERROR, extra={"ArgumentName": "x-amz-tagging"}) from None
    if len({k for k, _ in pairs}) != len(pairs):
        raise S3Error("InvalidArgument", _HEADER_ERROR, extra={"ArgumentName": "x-amz-tagging"})
    return _check(pairs, OBJECT_TAGS)


def from_xml(body: bytes, *, bucket: bool = False) -> dict[str, str]:
    """The TagSet of a PutObjectTagging / PutBucketTagging body."""
    root = expect_root(body, "Tagging")
    sets = children(root, "TagSet")
    if len(sets) != 1:
        raise S3Error("MalformedXML")
    pairs = []
    for tag in children(sets[0], "Tag"):
        key, value = child_text(tag, "Key"), child_text(tag, "Value")
        if key is None or value is None:
            raise S3Error("MalformedXML")
        pairs.append((key, value))
    return _check(pairs, BUCKET_TAGS if bucket else OBJECT_TAGS)


def tag_set(tags: Mapping[str, str]) -> list[Node]:
    """``<TagSet>`` of a GetObjectTagging / GetBucketTagging answer."""
    return [("TagSet", [("Tag", [("Key", k), ("Value", v)]) for k, v in tags.items()])]


def count_header(tags: Mapping[str, str]) -> dict[str, str]:
    """``x-amz-tagging-count`` on GET/HEAD of an object that has tags."""
    return {"x-amz-tagging-count": str(len(tags))} if tags else {}
