"""The Condition element of a bucket policy: parsed, checked, evaluated.

    "Condition": {"<operator>": {"<key>": "value" | ["value", ...]}, ...}

Operators (names case-sensitive, as AWS's): StringEquals, StringNotEquals,
StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike, StringNotLike,
NumericEquals, NumericNotEquals, NumericLessThan(Equals),
NumericGreaterThan(Equals), DateEquals, DateNotEquals, DateLessThan(Equals),
DateGreaterThan(Equals), Bool, BinaryEquals, IpAddress, NotIpAddress,
ArnEquals, ArnLike, ArnNotEquals, ArnNotLike, Null; each but Null also with
``IfExists`` (true when the key is absent), and with a ``ForAnyValue:`` or
``ForAllValues:`` prefix for keys with several values.

Evaluation follows IAM: every operator and key of the block must hold; a
key holds when the request's value matches any of the listed values (a
negated operator: none). An absent key fails a positive operator and
satisfies a negated one; ForAllValues holds for an absent key, ForAnyValue
does not. Keys are case-insensitive (a tag's name after ``/`` is not),
values are compared as the operator says. The request's values are the
``facts`` server/s3/access_facts.py gathers.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from server.auth.wildcard import matches
from server.s3.errors import S3Error

Facts = Mapping[str, tuple[str, ...]]

NEGATED = frozenset({"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals",
                     "DateNotEquals", "NotIpAddress", "ArnNotEquals", "ArnNotLike"})

# Condition keys a bucket policy may name ("/" ends a prefix that takes a tag name).
GLOBAL_KEYS = frozenset(k.lower() for k in """
aws:CurrentTime aws:EpochTime aws:SecureTransport aws:SourceIp aws:UserAgent aws:Referer aws:username
aws:userid aws:PrincipalArn aws:PrincipalAccount aws:PrincipalOrgID aws:PrincipalOrgPaths aws:PrincipalType
aws:PrincipalIsAWSService aws:PrincipalServiceName aws:PrincipalServiceNamesList aws:SourceVpc aws:SourceVpce
aws:SourceArn aws:SourceAccount aws:SourceOwner aws:SourceOrgID aws:SourceOrgPaths aws:VpcSourceIp
aws:MultiFactorAuthAge aws:MultiFactorAuthPresent aws:TokenIssueTime aws:TagKeys aws:CalledVia
aws:CalledViaFirst aws:CalledViaLast aws:ViaAWSService aws:FederatedProvider aws:RequestedRegion
aws:SourceIdentity aws:ResourceAccount aws:ResourceOrgID aws:ResourceOrgPaths aws:Ec2InstanceSourceVpc
aws:Ec2InstanceSourcePrivateIPv4 s3:prefix s3:delimiter s3:max-keys s3:VersionId s3:x-amz-acl
s3:x-amz-grant-read s3:x-amz-grant-write s3:x-amz-grant-read-acp s3:x-amz-grant-write-acp
s3:x-amz-grant-full-control s3:x-amz-copy-source s3:x-amz-metadata-directive s3:x-amz-server-side-encryption
s3:x-amz-server-side-encryption-aws-kms-key-id s3:x-amz-storage-class s3:x-amz-website-redirect-location
s3:x-amz-content-sha256 s3:RequestObjectTagKeys s3:authType s3:signatureversion s3:signatureAge s3:TlsVersion
s3:LocationConstraint s3:object-lock-mode s3:object-lock-retain-until-date s3:object-lock-remaining-retention-days
s3:object-lock-legal-hold s3:DataAccessPointArn s3:DataAccessPointAccount s3:AccessPointNetworkOrigin
s3:ResourceAccount s3:x-amz-object-ownership
""".split())
TAG_KEYS = ("s3:existingobjecttag/", "s3:requestobjecttag/", "aws:requesttag/", "aws:resourcetag/",
            "aws:principaltag/")


def _bad_type(name: str) -> S3Error:
    return S3Error("MalformedPolicy", f"Invalid Condition type : {name}")


def _malformed(message: str) -> S3Error:
    return S3Error("MalformedPolicy", message)


def normalize_key(key: str) -> str:
    """Condition key names are case-insensitive; a tag's name after the ``/`` is not."""
    prefix, slash, rest = key.partition("/")
    return prefix.lower() + slash + rest


def known_key(key: str) -> bool:
    return key in GLOBAL_KEYS or (key.startswith(TAG_KEYS) and not key.endswith("/"))


def _parse_date(text: str) -> float | None:
    try:
        if text.lstrip("-").isdigit():
            return float(text)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _parse_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _in_network(value: str, pattern: str) -> bool:
    network = _network(pattern)
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return network is not None and address.version == network.version and address in network


def _compare(parse: Callable[[str], float | None], test: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def compare(value: str, pattern: str) -> bool:
        a, b = parse(value), parse(pattern)
        return a is not None and b is not None and test(a, b)
    return compare


# base operator (negations use their positive's test) -> (request value, policy value) -> match
_TESTS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda v, p: v == p,
    "StringEqualsIgnoreCase": lambda v, p: v.lower() == p.lower(),
    "StringLike": lambda v, p: matches(p, v),
    "NumericEquals": _compare(_parse_number, lambda a, b: a == b),
    "NumericLessThan": _compare(_parse_number, lambda a, b: a < b),
    "NumericLessThanEquals": _compare(_parse_number, lambda a, b: a <= b),
    "NumericGreaterThan": _compare(_parse_number, lambda a, b: a > b),
    "NumericGreaterThanEquals": _compare(_parse_number, lambda a, b: a >= b),
    "DateEquals": _compare(_parse_date, lambda a, b: a == b),
    "DateLessThan": _compare(_parse_date, lambda a, b: a < b),
    "DateLessThanEquals": _compare(_parse_date, lambda a, b: a <= b),
    "DateGreaterThan": _compare(_parse_date, lambda a, b: a > b),
    "DateGreaterThanEquals": _compare(_parse_date, lambda a, b: a >= b),
    "Bool": lambda v, p: v.lower() == p.lower(),
    "BinaryEquals": lambda v, p: v == p,
    "IpAddress": _in_network,
    "ArnEquals": lambda v, p: matches(p, v),
    "ArnLike": lambda v, p: matches(p, v),
}
_POSITIVE = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
             "StringNotLike": "StringLike", "NumericNotEquals": "NumericEquals", "DateNotEquals": "DateEquals",
             "NotIpAddress": "IpAddress", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}
BASE_OPERATORS = frozenset(_TESTS) | frozenset(_POSITIVE) | {"Null"}


@dataclass(frozen=True)
class Condition:
    """One key of one operator: ``ForAnyValue:StringLikeIfExists`` is
    set_op ForAnyValue, base StringLike, if_exists."""

    base: str
    key: str  # normalized (normalize_key)
    values: tuple[str, ...]
    set_op: str = ""
    if_exists: bool = False

    @property
    def negated(self) -> bool:
        return self.base in NEGATED


def _operator(name: str) -> tuple[str, str, bool]:
    """(set operator, base operator, IfExists) of an operator name; MalformedPolicy if unknown."""
    set_op, colon, rest = name.partition(":")
    if not colon:
        set_op, rest = "", name
    elif set_op not in ("ForAnyValue", "ForAllValues"):
        raise _bad_type(name)
    if_exists = rest.endswith("IfExists") and rest != "IfExists"
    base = rest[: -len("IfExists")] if if_exists else rest
    if base not in BASE_OPERATORS or (if_exists and base == "Null"):
        raise _bad_type(name)
    return set_op, base, if_exists


def _values(raw: object) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, (str, int, float)):
            out.append(str(item))
        else:
            raise _malformed("This policy contains invalid Json")
    if not out:
        raise _malformed("This policy contains invalid Json")
    return tuple(out)


def parse_conditions(doc: object) -> tuple[Condition, ...]:
    """The conditions of one statement's Condition element, checked as AWS checks them."""
    if not isinstance(doc, dict):
        raise _malformed("This policy contains invalid Json")
    out: list[Condition] = []
    for name, block in doc.items():
        set_op, base, if_exists = _operator(name)
        if not isinstance(block, dict):
            raise _malformed("This policy contains invalid Json")
        for raw_key, raw_values in block.items():
            key = normalize_key(str(raw_key))
            if not known_key(key):
                raise _malformed("Policy has an invalid condition key")
            values = _values(raw_values)
            if key == "aws:sourceip" and base in ("IpAddress", "NotIpAddress") and \
                    any(_network(v) is None for v in values):
                raise _malformed("Invalid IP address in Conditions")
            if base == "Null" and any(v.lower() not in ("true", "false") for v in values):
                raise _malformed("This policy contains invalid Json")
            out.append(Condition(base, key, values, set_op, if_exists))
    return tuple(out)


def holds(condition: Condition, facts: Facts, expand: Callable[[str], str | None] = lambda v: v) -> bool:
    """Whether ``condition`` holds for a request with ``facts``; ``expand``
    replaces policy variables in the policy's values (None: cannot be resolved)."""
    present = facts.get(condition.key)
    if condition.base == "Null":
        return (present is None) == (condition.values[0].lower() == "true")
    if present is None or (condition.set_op and not present):
        if condition.set_op == "ForAllValues":
            return True
        return condition.if_exists or (condition.negated and condition.set_op != "ForAnyValue")
    test = _TESTS[_POSITIVE.get(condition.base, condition.base)]
    patterns = [p for p in (expand(v) for v in condition.values) if p is not None]

    def one(value: str) -> bool:
        found = any(test(value, p) for p in patterns)
        return not found if condition.negated else found

    if condition.set_op == "ForAllValues":
        return all(one(v) for v in present)
    return any(one(v) for v in present) if not condition.negated or condition.set_op else all(one(v) for v in present)
