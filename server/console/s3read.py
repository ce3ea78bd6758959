"""Reading S3's XML answers back into plain values for the pages.

The console asks listings with ``encoding-type=url`` so that any key, control
characters included, comes back intact; :func:`_key` decodes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote
from xml.etree.ElementTree import Element, indent, tostring

from server.console.s3call import Answer
from server.s3.xmlparse import child_text, children, local, parse_xml


def _key(text: str | None, encoded: bool = True) -> str:
    return unquote(text or "") if encoded else (text or "")


def _time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def _all(element: Element, name: str) -> list[Element]:
    """Every descendant named ``name`` (namespaces ignored)."""
    return [e for e in element.iter() if local(e.tag) == name]


@dataclass(frozen=True)
class Bucket:
    name: str
    created: float | None


def buckets(answer: Answer) -> list[Bucket]:
    return [Bucket(child_text(b, "Name") or "", _time(child_text(b, "CreationDate")))
            for b in _all(answer.xml(), "Bucket")]


@dataclass(frozen=True)
class Entry:
    key: str
    size: int
    last_modified: float | None
    etag: str


@dataclass(frozen=True)
class ObjectsPage:
    entries: list[Entry]
    prefixes: list[str]
    truncated: bool
    next_token: str | None


def objects_page(answer: Answer) -> ObjectsPage:
    root = answer.xml()
    entries = [Entry(_key(child_text(c, "Key")), _int(child_text(c, "Size")), _time(child_text(c, "LastModified")),
                     (child_text(c, "ETag") or "").strip('"')) for c in children(root, "Contents")]
    prefixes = [_key(child_text(p, "Prefix")) for p in children(root, "CommonPrefixes")]
    truncated = (child_text(root, "IsTruncated") or "").lower() == "true"
    return ObjectsPage(entries, prefixes, truncated, child_text(root, "NextContinuationToken"))


@dataclass(frozen=True)
class Version:
    key: str
    version_id: str
    is_latest: bool
    last_modified: float | None
    size: int
    etag: str
    delete_marker: bool


def versions(answer: Answer, key: str) -> tuple[list[Version], bool]:
    """The versions of ``key`` (newest first) in a ListObjectVersions answer
    asked with ``prefix=key``, and whether the listing went on past them."""
    root = answer.xml()
    found = []
    for node in root:
        kind = local(node.tag)
        if kind not in ("Version", "DeleteMarker"):
            continue
        name = _key(child_text(node, "Key"))
        if name != key:
            continue
        found.append(Version(name, child_text(node, "VersionId") or "null",
                             (child_text(node, "IsLatest") or "").lower() == "true",
                             _time(child_text(node, "LastModified")), _int(child_text(node, "Size")),
                             (child_text(node, "ETag") or "").strip('"'), kind == "DeleteMarker"))
    truncated = (child_text(root, "IsTruncated") or "").lower() == "true"
    return found, truncated


def tags(answer: Answer) -> list[tuple[str, str]]:
    return [(child_text(t, "Key") or "", child_text(t, "Value") or "") for t in _all(answer.xml(), "Tag")]


def versioning_state(answer: Answer) -> str:
    return child_text(answer.xml(), "Status") or ""


@dataclass(frozen=True)
class Upload:
    key: str
    upload_id: str
    initiated: float | None


def uploads(answer: Answer) -> list[Upload]:
    return [Upload(_key(child_text(u, "Key")), child_text(u, "UploadId") or "", _time(child_text(u, "Initiated")))
            for u in children(answer.xml(), "Upload")]


def upload_id(answer: Answer) -> str:
    return child_text(answer.xml(), "UploadId") or ""


@dataclass(frozen=True)
class Part:
    number: int
    size: int
    etag: str


def parts(answer: Answer) -> tuple[list[Part], bool, int]:
    """(parts, truncated, the next part-number-marker)."""
    root = answer.xml()
    found = [Part(_int(child_text(p, "PartNumber")), _int(child_text(p, "Size")),
                  (child_text(p, "ETag") or "").strip('"')) for p in children(root, "Part")]
    truncated = (child_text(root, "IsTruncated") or "").lower() == "true"
    return found, truncated, _int(child_text(root, "NextPartNumberMarker"))


def _days(text: str | None) -> str:
    return "1 day" if (text or "").strip() == "1" else f"{(text or '?').strip()} days"


def pretty_xml(body: bytes) -> str:
    """An S3 XML document indented for an editor, without its namespace."""
    root = parse_xml(body)
    for element in root.iter():
        element.tag = local(element.tag)
    indent(root)
    return tostring(root, encoding="unicode") + "\n"


@dataclass(frozen=True)
class RuleSummary:
    rule_id: str
    status: str
    scope: str
    actions: list[str]


def lifecycle_rules(answer: Answer) -> list[RuleSummary]:
    """Each rule of a GetBucketLifecycleConfiguration answer, in words."""
    rules = []
    for rule in children(answer.xml(), "Rule"):
        prefix = child_text(rule, "Prefix")
        for f in children(rule, "Filter"):
            prefix = next((p.text or "" for p in f.iter() if local(p.tag) == "Prefix"), prefix)
        scope = f"keys starting with “{prefix}”" if prefix else "every key"
        actions = []
        for node in children(rule, "Expiration"):
            days, date = child_text(node, "Days"), child_text(node, "Date")
            if days:
                actions.append(f"expire current versions after {_days(days)}")
            if date:
                actions.append(f"expire current versions on {date[:10]}")
            if (child_text(node, "ExpiredObjectDeleteMarker") or "").lower() == "true":
                actions.append("remove expired delete markers")
        for node in children(rule, "NoncurrentVersionExpiration"):
            newer, days = child_text(node, "NewerNoncurrentVersions"), _days(child_text(node, "NoncurrentDays"))
            if newer:
                actions.append(f"keep the {newer} newest noncurrent versions; remove older ones {days} "
                               "after they became noncurrent")
            else:
                actions.append(f"remove noncurrent versions {days} after they became noncurrent")
        for node in children(rule, "AbortIncompleteMultipartUpload"):
            actions.append(f"abort unfinished uploads after {_days(child_text(node, 'DaysAfterInitiation'))}")
        rules.append(RuleSummary(child_text(rule, "ID") or "", child_text(rule, "Status") or "", scope, actions))
    return rules
