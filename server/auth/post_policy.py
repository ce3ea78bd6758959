"""The POST policy of a browser upload form: parsed, then checked against the form.

A policy is base64 of a JSON document::

    {"expiration": "2030-01-01T00:00:00.000Z",
     "conditions": [{"bucket": "b"}, ["starts-with", "$key", "user/"],
                    ["eq", "$Content-Type", "image/png"], ["content-length-range", 1, 1048576]]}

:func:`parse_policy` raises InvalidPolicyDocument for a document that is not
one; :func:`check_policy` raises AccessDenied "Invalid according to Policy: ..."
when the policy has expired, a condition fails (a condition on a field the
form does not have fails too) or the form has a field no condition names
("Extra input fields"). Field names match case-insensitively; the bucket
counts as a field. Not subject to conditions: the signature fields, ``file``,
``policy`` and names starting ``x-ignore-``. ``content-length-range`` is
enforced on the file as it streams (server/s3/handlers/post_object.py).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from server.s3.errors import S3Error

EXEMPT = frozenset({"awsaccesskeyid", "signature", "x-amz-signature", "file", "policy"})
_EXACT_ONLY = frozenset({"bucket", "success_action_status"})


@dataclass(frozen=True)
class Condition:
    """``eq`` or ``starts-with`` on a field (lower-case, no ``$``); ``text`` is
    the condition as written, for the error message."""

    op: str
    field: str
    value: str
    text: str


@dataclass(frozen=True)
class Policy:
    expiration: float
    conditions: tuple[Condition, ...]
    length_range: tuple[int, int] | None  # content-length-range, inclusive


def invalid(reason: str) -> S3Error:
    return S3Error("InvalidPolicyDocument", f"Invalid Policy: {reason}")


def _as_text(condition: object) -> str:
    return json.dumps(condition, ensure_ascii=False, separators=(", ", ": "))


def parse_policy(encoded: str) -> Policy:
    """The policy document of a form's ``policy`` field."""
    try:
        document = json.loads(base64.b64decode(encoded.strip(), validate=True).decode("utf-8"))
    except (binascii.Error, ValueError):
        raise invalid("Invalid JSON.") from None
    if not isinstance(document, dict):
        raise invalid("Invalid JSON.")
    if "expiration" not in document:
        raise invalid("Policy missing expiration.")
    if "conditions" not in document:
        raise invalid("Policy missing conditions.")
    if not isinstance(document["conditions"], list):
        raise invalid("Invalid JSON.")
    conditions: list[Condition] = []
    length_range: tuple[int, int] | None = None
    for item in document["conditions"]:
        if isinstance(item, list) and item and str(item[0]).lower() == "content-length-range":
            length_range = _length_range(item)
        else:
            conditions.append(_condition(item))
    return Policy(_expiration(document["expiration"]), tuple(conditions), length_range)


def _expiration(value: object) -> float:
    try:
        if not isinstance(value, str):
            raise ValueError
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError
    except ValueError:
        raise invalid(f"Invalid 'expiration' value: '{value}'") from None
    return parsed.timestamp()


def _condition(item: object) -> Condition:
    if isinstance(item, dict):
        if len(item) != 1:
            raise invalid("Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.")
        ((name, value),) = item.items()
        if not isinstance(value, str):
            raise invalid(f"Invalid Simple-Condition: the value of '{name}' must be a string.")
        return Condition("eq", name.lower().removeprefix("$"), value, _as_text(item))
    if not (isinstance(item, list) and len(item) == 3 and all(isinstance(v, str) for v in item)):
        raise invalid(f"Invalid Condition: {_as_text(item)}")
    op, name, value = item[0].lower(), item[1], item[2]
    if op not in ("eq", "starts-with"):
        raise invalid(f"Invalid Condition: unknown operator in {_as_text(item)}")
    if not name.startswith("$"):
        raise invalid(f"Invalid Condition: field names start with '$' in {_as_text(item)}")
    return Condition(op, name[1:].lower(), value, _as_text(item))


def _length_range(item: list[object]) -> tuple[int, int]:
    if len(item) != 3:
        raise invalid("Invalid content-length-range: it takes a minimum and a maximum.")
    low, high = (_non_negative(v) for v in item[1:])
    if low > high:
        raise invalid("Invalid content-length-range: the minimum is above the maximum.")
    return low, high


def _non_negative(value: object) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise invalid("Invalid JSON.")  # S3's answer to 512.0


def is_exempt(name: str) -> bool:
    return name in EXEMPT or name.startswith("x-ignore-")


def _holds(condition: Condition, value: str | None) -> bool:
    if value is None:
        return False
    if condition.op == "eq":
        return value == condition.value
    if condition.field in _EXACT_ONLY or (condition.field.startswith("x-amz-")
                                          and not condition.field.startswith("x-amz-meta-")):
        return False  # these support exact matching only
    if condition.field == "content-type":  # each of several comma-separated types
        return all(v.strip().startswith(condition.value) for v in value.split(","))
    return value.startswith(condition.value)


def check_policy(policy: Policy, fields: Mapping[str, str], now: float) -> None:
    """``fields``: lower-case names (the bucket included), ${filename} expanded."""
    if now >= policy.expiration:
        raise S3Error("AccessDenied", "Invalid according to Policy: Policy expired.")
    for condition in policy.conditions:
        if not _holds(condition, fields.get(condition.field)):
            raise S3Error("AccessDenied", f"Invalid according to Policy: Policy Condition failed: {condition.text}")
    named = {condition.field for condition in policy.conditions}
    extra = [name for name in fields if name not in named and not is_exempt(name)]
    if extra:
        raise S3Error("AccessDenied", f"Invalid according to Policy: Extra input fields: {', '.join(extra)}")
