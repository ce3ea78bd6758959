"""PutBucketLifecycleConfiguration's XML: parsed, checked as S3 checks it, and
turned into the engine's rules (dedup/lifecycle.py). (Written back:
server/s3/handlers/lifecycle.py.)

S3's answers to a bad configuration, in the order they are checked:

- not XML, an element S3 does not define, one given twice, a number that is
  not one, no Rule, a Rule with neither Filter nor Prefix, a bad Status, an
  Expiration with none or more than one of Days/Date/ExpiredObjectDeleteMarker,
  an action without its day count, a Filter with more than one condition, an
  And with fewer than two: MalformedXML;
- more than 1000 rules, no action in a rule, Filter and top-level Prefix
  mixed across rules (Lifecycle V1/V2), overlapping prefixes in V1, a prefix
  over 1024 bytes, tag limits, size bounds, ExpiredObjectDeleteMarker or
  AbortIncompleteMultipartUpload beside a tag or size filter: InvalidRequest;
- an ID over 255 characters or used twice, a day count that is not positive,
  a Date not at midnight UTC: InvalidArgument;
- then Transition and NoncurrentVersionTransition, which S3 accepts and
  fragstore, with one storage class, cannot honour: NotImplemented (never
  accepted and ignored).
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

from dedup.lifecycle import (
    DEFAULT_MINIMUM_SIZE,
    Expiration,
    Filter,
    LifecycleConfiguration,
    NoncurrentVersionExpiration,
    Rule,
)
from server.s3.errors import S3Error
from server.s3.xmlparse import children, local, parse_xml

MAX_RULES = 1000
MAX_ID = 255
MAX_PREFIX = 1024
MAX_SIZE = 1099511627776000  # 1000 TiB: the bound S3 names for ObjectSize*
MINIMUM_SIZES = (DEFAULT_MINIMUM_SIZE, "varies_by_storage_class")
_INTEGER = re.compile(r"\s*[+-]?\d+\s*\Z")

_RULE = {"ID", "Prefix", "Filter", "Status", "Expiration", "Transition", "NoncurrentVersionTransition",
         "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload"}
_FILTER = {"Prefix", "Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan"}


def _malformed() -> S3Error:
    return S3Error("MalformedXML")


def _invalid(code: str, message: str) -> S3Error:
    return S3Error(code, message)


def _check_children(node: Element, allowed: set[str], repeated: frozenset[str] = frozenset()) -> None:
    seen: set[str] = set()
    for child in node:
        name = local(child.tag)
        if name not in allowed or (name in seen and name not in repeated):
            raise _malformed()
        seen.add(name)


def _one(node: Element, name: str) -> Element | None:
    found = children(node, name)
    return found[0] if found else None


def _text(node: Element, name: str) -> str | None:
    found = _one(node, name)
    return None if found is None else (found.text or "")


def _int(text: str) -> int:
    if not _INTEGER.match(text):
        raise _malformed()
    return int(text)


def _positive(node: Element, name: str, message: str) -> int | None:
    text = _text(node, name)
    if text is None:
        return None
    value = _int(text)
    if value <= 0:
        raise _invalid("InvalidArgument", message)
    return value


def parse_lifecycle(body: bytes, minimum_size: str | None = None) -> LifecycleConfiguration:
    """The configuration a PutBucketLifecycleConfiguration body sets
    (``minimum_size``: its x-amz-transition-default-minimum-object-size)."""
    if minimum_size is not None and minimum_size not in MINIMUM_SIZES:
        raise _invalid("InvalidRequest", "Invalid TransitionDefaultMinimumObjectSize found")
    root = parse_xml(body)
    if local(root.tag) != "LifecycleConfiguration":
        raise _malformed()
    _check_children(root, {"Rule"}, frozenset({"Rule"}))
    nodes = children(root, "Rule")
    if not nodes:
        raise _malformed()
    if len(nodes) > MAX_RULES:
        raise _invalid("InvalidRequest", "The number of lifecycle rules must not exceed the allowed limit of 1000 rules.")
    ids = _ids(nodes)
    v2 = _one(nodes[0], "Filter") is not None
    rules = [_rule(node, rule_id, v2) for node, rule_id in zip(nodes, ids, strict=True)]
    if not v2:
        _no_overlaps(rules)
    if any(children(n, "Transition") or children(n, "NoncurrentVersionTransition") for n in nodes):
        raise S3Error("NotImplemented", "fragstore keeps one storage class: Transition and "
                      "NoncurrentVersionTransition actions are not implemented.")
    return LifecycleConfiguration(tuple(rules), minimum_size or DEFAULT_MINIMUM_SIZE)


def _ids(nodes: list[Element]) -> list[str]:
    """Each rule's ID; one S3 makes up for a rule without."""
    given = []
    for node in nodes:
        _check_children(node, _RULE, frozenset({"Transition", "NoncurrentVersionTransition"}))
        rule_id = _text(node, "ID") or ""
        if len(rule_id) > MAX_ID:
            raise _invalid("InvalidArgument", "ID length should not exceed allowed limit of 255")
        if rule_id and rule_id in given:
            raise _invalid("InvalidArgument", "Rule ID must be unique. Found same ID for more than one rule")
        given.append(rule_id)
    return [i or base64.b64encode(str(uuid.uuid4()).encode()).decode().rstrip("=") for i in given]


def _rule(node: Element, rule_id: str, v2: bool) -> Rule:
    prefix, flt = _text(node, "Prefix"), _one(node, "Filter")
    if prefix is not None and v2:
        raise _invalid("InvalidRequest", "Base level prefix cannot be used in Lifecycle V2, "
                       "prefixes are only supported in the Filter.")
    if flt is not None and not v2:
        raise _invalid("InvalidRequest", "Filter element can only be used in Lifecycle V2.")
    if prefix is None and flt is None:
        raise _malformed()
    scope = _filter(flt) if flt is not None else Filter(_prefix(prefix or ""))
    status = (_text(node, "Status") or "").strip()
    if status not in ("Enabled", "Disabled"):
        raise _malformed()
    actions = [_one(node, n) for n in ("Expiration", "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload")]
    if not any(a is not None for a in actions) and not children(node, "Transition") \
            and not children(node, "NoncurrentVersionTransition"):
        raise _invalid("InvalidRequest", "At least one action needs to be specified in a rule")
    expiration = _expiration(actions[0]) if actions[0] is not None else None
    noncurrent = _noncurrent(actions[1], v2) if actions[1] is not None else None
    abort = _abort(actions[2]) if actions[2] is not None else None
    _combinations(scope, expiration, abort)
    return Rule(rule_id, status == "Enabled", scope, legacy_prefix=flt is None, expiration=expiration,
                noncurrent_version_expiration=noncurrent, abort_days=abort)


def _prefix(prefix: str) -> str:
    if len(prefix.encode("utf-8", "surrogatepass")) > MAX_PREFIX:
        raise _invalid("InvalidRequest", "The maximum size of a prefix is 1024")
    return prefix


def _filter(node: Element) -> Filter:
    _check_children(node, _FILTER)
    if len(node) > 1:
        raise _malformed()
    and_ = _one(node, "And")
    if and_ is not None:
        _check_children(and_, _FILTER - {"And"}, frozenset({"Tag"}))
        found = _conditions(and_)
        if (found.prefix is not None) + len(found.tags) + (found.size_greater_than is not None) \
                + (found.size_less_than is not None) < 2:
            raise _malformed()
        return Filter(found.prefix, found.tags, found.size_greater_than, found.size_less_than, conjunction=True)
    return _conditions(node)


def _conditions(node: Element) -> Filter:
    prefix = _text(node, "Prefix")
    tags = tuple(_tag(t) for t in children(node, "Tag"))
    if len({k for k, _ in tags}) < len(tags):
        raise _invalid("InvalidRequest", "Duplicate Tag Keys are not allowed.")
    larger, smaller = _text(node, "ObjectSizeGreaterThan"), _text(node, "ObjectSizeLessThan")
    gt = _int(larger) if larger is not None else None
    lt = _int(smaller) if smaller is not None else None
    if gt is not None and not 0 <= gt <= MAX_SIZE:
        raise _invalid("InvalidRequest", f"'ObjectSizeGreaterThan' should be between 0 and {MAX_SIZE}.")
    if lt is not None and not 1 <= lt <= MAX_SIZE:
        raise _invalid("InvalidRequest", f"'ObjectSizeLessThan' should be between 1 and {MAX_SIZE}.")
    if gt is not None and lt is not None and lt <= gt:
        raise _invalid("InvalidRequest", "'ObjectSizeLessThan' has to be a value greater than 'ObjectSizeGreaterThan'.")
    return Filter(_prefix(prefix) if prefix is not None else None, tags, gt, lt)


def _tag(node: Element) -> tuple[str, str]:
    _check_children(node, {"Key", "Value"})
    key, value = _text(node, "Key"), _text(node, "Value")
    if key is None or value is None:
        raise _malformed()
    if not 1 <= len(key) <= 128:
        raise _invalid("InvalidRequest", "A Tag's Key must be a length between 1 and 128")
    if len(value) > 256:
        raise _invalid("InvalidRequest", "A Tag's Value must be a length between 0 and 256")
    return key, value


def _expiration(node: Element) -> Expiration:
    _check_children(node, {"Days", "Date", "ExpiredObjectDeleteMarker"})
    if len(node) != 1:
        raise _malformed()
    days = _positive(node, "Days", "'Days' for Expiration action must be a positive integer")
    date = _text(node, "Date")
    marker = _text(node, "ExpiredObjectDeleteMarker")
    if marker is not None and marker.strip() not in ("true", "false"):
        raise _malformed()
    return Expiration(days, _date(date) if date is not None else None,
                      marker.strip() == "true" if marker is not None else None)


def _date(text: str) -> float:
    """An ISO 8601 date-time that must be a midnight UTC."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _malformed() from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    stamp = when.timestamp()
    if stamp % 86400:
        raise _invalid("InvalidArgument", "'Date' must be at midnight GMT")
    return stamp


def _noncurrent(node: Element, v2: bool) -> NoncurrentVersionExpiration:
    _check_children(node, {"NoncurrentDays", "NewerNoncurrentVersions"})
    days = _positive(node, "NoncurrentDays",
                     "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer")
    if days is None:
        raise _malformed()
    if _one(node, "NewerNoncurrentVersions") is not None and not v2:
        raise _invalid("InvalidRequest", "NewerNoncurrentVersions element can only be used in Lifecycle V2.")
    newer = _positive(node, "NewerNoncurrentVersions", "'NewerNoncurrentVersions' must be a positive integer")
    return NoncurrentVersionExpiration(days, newer)


def _abort(node: Element) -> int:
    _check_children(node, {"DaysAfterInitiation"})
    days = _positive(node, "DaysAfterInitiation",
                     "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer")
    if days is None:
        raise _malformed()
    return days


def _combinations(scope: Filter, expiration: Expiration | None, abort: int | None) -> None:
    sized = scope.size_greater_than is not None or scope.size_less_than is not None
    for name, used in (("ExpiredObjectDeleteMarker", expiration is not None and expiration.expired_object_delete_marker
                        is not None), ("AbortIncompleteMultipartUpload", abort is not None)):
        if used and scope.tags:
            raise _invalid("InvalidRequest", f"{name} cannot be specified with Tags.")
        if used and sized:
            raise _invalid("InvalidRequest", f"{name} cannot be specified with Object Size.")


def _no_overlaps(rules: list[Rule]) -> None:
    """Lifecycle V1: no two rules whose prefixes overlap may take the same kind of action."""
    kinds = (("Expiration", lambda r: r.expiration is not None),
             ("NoncurrentVersionExpiration", lambda r: r.noncurrent_version_expiration is not None),
             ("AbortIncompleteMultipartUpload", lambda r: r.abort_days is not None))
    for kind, takes in kinds:
        prefixes = sorted(r.filter.prefix or "" for r in rules if takes(r))
        for a, b in zip(prefixes, prefixes[1:], strict=False):
            if b.startswith(a):
                raise _invalid("InvalidRequest", f"Found overlapping prefixes '{a}' and '{b}' for same action type '{kind}'")
