"""Which statements of a bucket policy apply to a request.

A statement applies when its principal names the caller, its action the
action asked for, its resource the bucket or object (``arn:aws:s3:::bucket``
or ``arn:aws:s3:::bucket/key``), and its conditions hold. Actions match
case-insensitively, resources case-sensitively, both with ``*``/``?``. In a
2012-10-17 policy, ``${aws:username}``-style variables in resources and
condition values are replaced by the request's values (``${*}``, ``${?}``,
``${$}`` by the character); a variable the request has no value for makes the
string match nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from server.auth.identity import Identity
from server.auth.policy import ROOT_PRINCIPAL, Policy, Statement
from server.auth.policy_conditions import Facts, holds, normalize_key
from server.auth.wildcard import matches

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LITERALS = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True)
class Match:
    """The statements of a policy that apply: the first Deny, and the first Allow."""

    deny: Statement | None
    allow: Statement | None


Expand = Callable[[str], "str | None"]


def _expander(policy: Policy, facts: Facts) -> Expand:
    if policy.version != "2012-10-17":
        return lambda text: text

    def expand(text: str) -> str | None:
        if "${" not in text:
            return text
        missing = False

        def value(m: re.Match[str]) -> str:
            nonlocal missing
            name = m.group(1)
            if name in _LITERALS:
                return _LITERALS[name]
            found = facts.get(normalize_key(name))
            if not found:
                missing = True
                return ""
            return found[0]

        out = _VARIABLE.sub(value, text)
        return None if missing else out

    return expand


def names(statement: Statement, who: Identity) -> bool:
    """Whether the statement's Principal (or NotPrincipal) covers ``who``."""
    p = statement.principals
    named = p.everyone or (who.is_root and ROOT_PRINCIPAL in p.keys) or (
        bool(who.access_key) and who.access_key in p.keys)
    return not named if statement.not_principal else named


def _action_matches(statement: Statement, action: str) -> bool:
    found = any(matches(pattern, action, ignore_case=True) for pattern in statement.actions)
    return not found if statement.not_action else found


def _resource_matches(statement: Statement, resource: str, expand: Expand) -> bool:
    found = False
    for pattern in statement.resources:
        expanded = expand(pattern)
        if expanded is not None and matches(expanded, resource):
            found = True
            break
    return not found if statement.not_resource else found


def evaluate(policy: Policy, who: Identity, action: str, resource: str, facts: Facts) -> Match:
    """The statements of ``policy`` that apply to ``who`` doing ``action`` on ``resource``."""
    expand = _expander(policy, facts)
    deny: Statement | None = None
    allow: Statement | None = None
    for statement in policy.statements:
        if (deny is not None and not statement.allow) or (allow is not None and statement.allow):
            continue
        if not (names(statement, who) and _action_matches(statement, action)
                and _resource_matches(statement, resource, expand)):
            continue
        if all(holds(c, facts, expand) for c in statement.conditions):
            if statement.allow:
                allow = statement
            else:
                deny = statement
    return Match(deny, allow)


def resource_arn(bucket: str, key: str | None) -> str:
    return f"arn:aws:s3:::{bucket}" if key is None else f"arn:aws:s3:::{bucket}/{key}"
