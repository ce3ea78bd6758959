"""Bucket policies in the console: a check of the JSON before it is sent, and
the statement that makes a prefix publicly readable.

The server's PutBucketPolicy is the judge of a policy (with access control);
the console only refuses what cannot be a policy at all (not JSON, no
statements, a statement without Effect/Action/Resource) so that the editor can
say where the mistake is before a round trip.
"""

from __future__ import annotations

import json
from typing import Any

VERSION = "2012-10-17"
PUBLIC_READ_SID = "PublicRead"


class PolicyError(ValueError):
    """What is wrong with a policy document, in words."""


def check_policy(text: str) -> dict[str, Any]:
    """The parsed document; PolicyError naming the first problem."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    if not isinstance(doc, dict):
        raise PolicyError("a policy is a JSON object")
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise PolicyError('a policy needs "Statement": one statement or a list of them')
    for number, statement in enumerate(statements, 1):
        if not isinstance(statement, dict):
            raise PolicyError(f"statement {number} is not an object")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError(f'statement {number}: "Effect" must be "Allow" or "Deny"')
        for name in ("Action", "Resource"):
            if name not in statement and f"Not{name}" not in statement:
                raise PolicyError(f'statement {number}: "{name}" is missing')
        if "Principal" not in statement and "NotPrincipal" not in statement:
            raise PolicyError(f'statement {number}: "Principal" is missing (a bucket policy names who it applies to)')
    return doc


def public_read_statement(bucket: str, prefix: str) -> dict[str, Any]:
    return {
        "Sid": f"{PUBLIC_READ_SID}{'-' + prefix if prefix else ''}"[:100],
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/{prefix}*",
    }


def with_public_read(current: str | None, bucket: str, prefix: str) -> str:
    """``current`` (a policy's JSON, or None) with anonymous GetObject allowed on
    ``prefix`` (a statement of the same Sid replaced)."""
    doc: dict[str, Any] = json.loads(current) if current else {"Version": VERSION, "Statement": []}
    statements = doc.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    new = public_read_statement(bucket, prefix)
    doc["Statement"] = [s for s in statements if not (isinstance(s, dict) and s.get("Sid") == new["Sid"])] + [new]
    doc.setdefault("Version", VERSION)
    return json.dumps(doc, indent=2)
