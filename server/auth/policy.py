"""Bucket policies: the JSON document parsed and checked as S3 checks it.

    {"Version": "2012-10-17", "Id": "...", "Statement": [{
        "Sid": "...", "Effect": "Allow" | "Deny",
        "Principal" | "NotPrincipal": "*" | {"AWS": "*" | id | [ids]} | {"CanonicalUser": id},
        "Action" | "NotAction": "s3:GetObject" | ["s3:Get*", ...],
        "Resource" | "NotResource": "arn:aws:s3:::bucket/prefix/*" | [...],
        "Condition": {...}}]}   (server/auth/policy_conditions.py)

Principals: ``*`` (everyone, anonymous included), an access key, its ARN
``arn:aws:iam::000000000000:user/KEY``, ``arn:aws:iam::000000000000:root`` or
the bare account id (the root key), a CanonicalUser id (an access key);
Service and Federated principals are accepted and match no fragstore caller.
A principal that names no existing user is refused, as AWS refuses one that
names no existing account. Resources must name this bucket or objects in it.

Every failure is MalformedPolicy with AWS's message ("Policies must be valid
JSON and the first byte must be '{'", "This policy contains invalid Json",
"The policy must contain a valid version string", "Missing required field
Statement", "Could not parse the policy: Statement is empty!", "Missing
required field Principal", "Invalid principal in policy", "Policy has invalid
action", "Policy has invalid resource", "Invalid Condition type : X", "Policy
has an invalid condition key", "Action does not apply to any resource(s) in
statement", ...). A document over 20 KB once its insignificant whitespace is
left out is PolicyTooLarge.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import ip_network

from server.auth import actions
from server.auth.identity import ACCOUNT_ID, ARN_PREFIX, ROOT_ARN
from server.auth.policy_conditions import Condition, parse_conditions
from server.auth.wildcard import has_wildcard, matches
from server.s3.errors import S3Error

MAX_POLICY_BYTES = 20 * 1024
VERSIONS = ("2012-10-17", "2008-10-17")
S3_ARN = "arn:aws:s3:::"
ROOT_PRINCIPAL = "root"  # what a principal naming the root key resolves to
STATEMENT_FIELDS = frozenset({"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
                              "NotResource", "Condition"})
# Keys whose positive condition pins a statement to known callers (AWS's "not public").
FIXING_KEYS = frozenset({"aws:sourceip", "aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceaccount",
                         "aws:sourceowner", "aws:principalorgid", "aws:principalaccount", "aws:userid",
                         "aws:username", "aws:principalarn", "s3:dataaccesspointarn", "s3:dataaccesspointaccount"})
_PINNING_OPERATORS = frozenset({"StringEquals", "StringEqualsIgnoreCase", "ArnEquals", "ArnLike", "IpAddress"})
# Condition keys that apply only to some actions: key -> the actions they apply to.
_KEY_ACTIONS = {
    "s3:prefix": {"s3:ListBucket", "s3:ListBucketVersions"},
    "s3:delimiter": {"s3:ListBucket", "s3:ListBucketVersions"},
    "s3:max-keys": {"s3:ListBucket", "s3:ListBucketVersions"},
    "s3:versionid": {f"s3:{a}" for a in actions.OBJECT_ACTIONS if "Version" in a},
    "s3:x-amz-acl": {"s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectVersionAcl", "s3:PutBucketAcl",
                     "s3:CreateBucket"},
}


def _malformed(message: str) -> S3Error:
    return S3Error("MalformedPolicy", message)


@dataclass(frozen=True)
class Principals:
    """Who a statement names: ``everyone`` ("*"), else access keys (``root``
    for the root key, whatever its access key)."""

    everyone: bool
    keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Statement:
    sid: str
    allow: bool
    principals: Principals
    not_principal: bool
    actions: tuple[str, ...]  # lower-case patterns
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Policy:
    version: str
    statements: tuple[Statement, ...]


def _strings(raw: object) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(item, str) for item in items):
        raise _malformed("This policy contains invalid Json")
    return items  # type: ignore[return-value]


def _principal(value: str, known: Callable[[str], bool]) -> str:
    if value in (ACCOUNT_ID, ROOT_ARN):
        return ROOT_PRINCIPAL
    key = value[len(ARN_PREFIX) + len("user/"):] if value.startswith(ARN_PREFIX + "user/") else value
    if has_wildcard(value) or not known(key):
        raise _malformed("Invalid principal in policy")
    return key


def parse_principals(raw: object, known: Callable[[str], bool]) -> Principals:
    if raw == "*":
        return Principals(True)
    if not isinstance(raw, dict) or not raw:
        raise _malformed("Invalid principal in policy")
    keys: set[str] = set()
    everyone = False
    for kind, value in raw.items():
        if kind not in ("AWS", "CanonicalUser", "Service", "Federated"):
            raise _malformed("Invalid principal in policy")
        for item in _strings(value):
            if kind in ("Service", "Federated"):
                continue
            if item == "*" and kind == "AWS":
                everyone = True
            else:
                keys.add(_principal(item, known))
    return Principals(everyone, frozenset(keys))


def _action(value: str) -> str:
    if value == "*":
        return value
    service, colon, name = value.partition(":")
    if not colon or service.lower() != "s3" or not name:
        raise _malformed("Policy has invalid action")
    if has_wildcard(name):
        return value.lower()
    if name.lower() not in actions.KNOWN:
        raise _malformed("Policy has invalid action")
    return value.lower()


def _resource(value: str, bucket: str) -> str:
    if not value.startswith(S3_ARN):
        raise _malformed("Policy has invalid resource")
    name = value[len(S3_ARN):].split("/", 1)[0]
    if not name or not matches(name, bucket):
        raise _malformed("Policy has invalid resource")
    return value


def _covers(resources: tuple[str, ...], not_resource: bool) -> tuple[bool, bool]:
    """(may name the bucket, may name objects) for the statement's resources."""
    if not_resource:
        return True, True
    bucket = any("/" not in r[len(S3_ARN):] for r in resources)
    objects = any("/" in r[len(S3_ARN):] or r.endswith("*") for r in resources)
    return bucket, objects


def _check_applies(statement: Statement) -> None:
    """AWS's checks that actions and condition keys fit the statement's resources."""
    if statement.not_action:
        return
    concrete = [a for a in statement.actions if not has_wildcard(a)]
    for condition in statement.conditions:
        allowed = _KEY_ACTIONS.get(condition.key)
        if allowed is not None and any(f"s3:{actions.KNOWN[a[3:]]}" not in allowed for a in concrete):
            raise _malformed("Conditions do not apply to combination of actions and resources in statement")
    bucket, objects = _covers(statement.resources, statement.not_resource)
    for action in concrete:
        name = actions.KNOWN[action[3:]]
        if (name in actions.OBJECT_ACTIONS and not objects) or (name in actions.BUCKET_ACTIONS and not bucket) \
                or name in actions.ACCOUNT_ACTIONS:
            raise _malformed("Action does not apply to any resource(s) in statement")


def _either(doc: dict, name: str) -> tuple[object, bool]:
    """(value, negated) of ``name`` or ``Not<name>``; MalformedPolicy if neither or both."""
    has, has_not = name in doc, f"Not{name}" in doc
    if has and has_not:
        raise _malformed("This policy contains invalid Json")
    if not (has or has_not):
        raise _malformed(f"Missing required field {name}")
    return (doc[name], False) if has else (doc[f"Not{name}"], True)


def parse_statement(doc: object, bucket: str, known: Callable[[str], bool]) -> Statement:
    if not isinstance(doc, dict):
        raise _malformed("This policy contains invalid Json")
    unknown = sorted(set(doc) - STATEMENT_FIELDS)
    if unknown:
        raise _malformed(f"Unknown field {unknown[0]}")
    sid = doc.get("Sid", "")
    effect = doc.get("Effect")
    if not isinstance(sid, str):
        raise _malformed("This policy contains invalid Json")
    if effect is None:
        raise _malformed("Missing required field Effect")
    if effect not in ("Allow", "Deny"):
        raise _malformed(f"Invalid effect: {effect}")
    principal, not_principal = _either(doc, "Principal")
    action, not_action = _either(doc, "Action")
    resource, not_resource = _either(doc, "Resource")
    statement = Statement(
        sid, effect == "Allow", parse_principals(principal, known), not_principal,
        tuple(_action(a) for a in _strings(action)), not_action,
        tuple(_resource(r, bucket) for r in _strings(resource)), not_resource,
        parse_conditions(doc["Condition"]) if "Condition" in doc else (),
    )
    _check_applies(statement)
    return statement


def _load(text: bytes) -> dict:
    if text[:1] != b"{":
        raise _malformed("Policies must be valid JSON and the first byte must be '{'")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise _malformed("This policy contains invalid Json") from None
    if not isinstance(doc, dict):
        raise _malformed("This policy contains invalid Json")
    if len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()) > MAX_POLICY_BYTES:
        raise S3Error("PolicyTooLarge")
    return doc


def parse_policy(text: bytes, bucket: str, known: Callable[[str], bool]) -> Policy:
    """The policy ``text`` of ``bucket``; ``known`` says whether an access key
    names a user. MalformedPolicy (or PolicyTooLarge) when S3 would refuse it."""
    doc = _load(text)
    unknown = sorted(set(doc) - {"Version", "Id", "Statement"})
    if unknown:
        raise _malformed(f"Unknown field {unknown[0]}")
    version = doc.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise _malformed("The policy must contain a valid version string")
    if "Statement" not in doc:
        raise _malformed("Missing required field Statement")
    raw = doc["Statement"]
    statements = raw if isinstance(raw, list) else [raw]
    if not statements or raw == {}:
        raise _malformed("Could not parse the policy: Statement is empty!")
    parsed = tuple(parse_statement(s, bucket, known) for s in statements)
    sids = [s.sid for s in parsed if s.sid]
    if len(sids) != len(set(sids)):
        raise _malformed("Statement IDs (SID) in a single policy must be unique.")
    return Policy(version, parsed)


def load_stored(text: bytes, bucket: str) -> Policy:
    """A policy already accepted (stored): principals are not looked up again,
    a user removed since simply matches no caller."""
    return parse_policy(text, bucket, lambda key: True)


def _pins(statement: Statement) -> bool:
    for c in statement.conditions:
        if c.key in FIXING_KEYS and c.base in _PINNING_OPERATORS and not c.set_op:
            if c.base == "IpAddress":
                if all(_narrow(v) for v in c.values):
                    return True
            elif not any(has_wildcard(v) for v in c.values):
                return True
    return False


def _narrow(cidr: str) -> bool:
    network = ip_network(cidr.strip(), strict=False)
    return network.prefixlen >= (8 if network.version == 4 else 32)


def statement_is_public(statement: Statement) -> bool:
    """An Allow to everyone that no condition pins to known callers."""
    everyone = statement.principals.everyone or statement.not_principal
    return statement.allow and everyone and not _pins(statement)


def is_public(policy: Policy) -> bool:
    """AWS's "public policy": some statement allows anyone, unpinned."""
    return any(statement_is_public(s) for s in policy.statements)
