"""Parse the XML request bodies S3 accepts, safely.

defusedxml refuses DTDs, entity declarations and external references (no
billion laughs, no XXE); the body size is bounded by the caller
(server/http/body.py). Any parse or shape failure is MalformedXML. Namespaces are
ignored, as clients send both with and without the S3 namespace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from server.s3.errors import S3Error

MAX_DELETE_KEYS = 1000
CHECKSUM_ELEMENTS = {
    "ChecksumCRC32": "CRC32",
    "ChecksumCRC32C": "CRC32C",
    "ChecksumCRC64NVME": "CRC64NVME",
    "ChecksumSHA1": "SHA1",
    "ChecksumSHA256": "SHA256",
}


@dataclass(frozen=True)
class CompletedPart:
    part_number: int
    etag: str
    checksums: dict[str, str] = field(default_factory=dict)


def parse_xml(body: bytes) -> Element:
    """The root element of ``body``; MalformedXML on anything unsafe or broken."""
    try:
        return SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise S3Error("MalformedXML") from exc


def local(tag: str) -> str:
    """The tag name without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1]


def children(element: Element, name: str) -> list[Element]:
    return [child for child in element if local(child.tag) == name]


def child_text(element: Element, name: str) -> str | None:
    found = children(element, name)
    return None if not found else (found[0].text or "")


def expect_root(body: bytes, name: str) -> Element:
    root = parse_xml(body)
    if local(root.tag) != name:
        raise S3Error("MalformedXML")
    return root


def parse_complete_multipart(body: bytes) -> list[CompletedPart]:
    """The parts a CompleteMultipartUpload body lists; InvalidPartOrder unless ascending."""
    root = expect_root(body, "CompleteMultipartUpload")
    parts = []
    for node in children(root, "Part"):
        number, etag = child_text(node, "PartNumber"), child_text(node, "ETag")
        if number is None or etag is None:
            raise S3Error("MalformedXML")
        try:
            part_number = int(number.strip())
        except ValueError:
            raise S3Error("MalformedXML") from None
        if part_number < 1:
            raise S3Error("InvalidArgument", "PartNumber must be >= 1")
        sums = {alg: text.strip() for tag, alg in CHECKSUM_ELEMENTS.items() if (text := child_text(node, tag))}
        parts.append(CompletedPart(part_number, etag.strip().strip('"'), sums))
    if not parts:
        raise S3Error("MalformedXML")
    numbers = [p.part_number for p in parts]
    if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
        raise S3Error("InvalidPartOrder")
    return parts


@dataclass(frozen=True)
class DeleteItem:
    """One ``<Object>`` of a DeleteObjects body."""

    key: str
    version_id: str | None = None
    etag: str | None = None  # delete only if the ETag matches (If-Match per object)


def parse_delete(body: bytes) -> tuple[bool, list[DeleteItem]]:
    """(Quiet, objects) of a DeleteObjects body; at most 1000 objects."""
    root = expect_root(body, "Delete")
    quiet = (child_text(root, "Quiet") or "").strip().lower() == "true"
    items = []
    for node in children(root, "Object"):
        key = child_text(node, "Key")
        if key is None:
            raise S3Error("MalformedXML")
        for unsupported in ("LastModifiedTime", "Size"):
            if child_text(node, unsupported) is not None:
                raise S3Error("NotImplemented", f"{unsupported} conditions in DeleteObjects are not implemented.")
        version, etag = child_text(node, "VersionId"), child_text(node, "ETag")
        items.append(DeleteItem(key, version.strip() if version is not None else None,
                                etag.strip() if etag is not None else None))
    if not items or len(items) > MAX_DELETE_KEYS:
        raise S3Error("MalformedXML")
    return quiet, items


def parse_versioning(body: bytes) -> tuple[str | None, str | None]:
    """(Status, MfaDelete) of a PutBucketVersioning body; either may be absent."""
    root = expect_root(body, "VersioningConfiguration")
    status, mfa = child_text(root, "Status"), child_text(root, "MfaDelete")
    return (status.strip() if status is not None else None), (mfa.strip() if mfa is not None else None)


def parse_create_bucket(body: bytes) -> str | None:
    """The LocationConstraint of a CreateBucketConfiguration body, if any."""
    if not body.strip():
        return None
    root = expect_root(body, "CreateBucketConfiguration")
    location = child_text(root, "LocationConstraint")
    return location.strip() if location is not None else None
