"""Cross-origin requests, answered from the bucket's CORS rules as S3 answers them.

A request is matched against the rules in order; the first rule that matches
decides. A rule matches when

- the ``Origin`` header matches one of its AllowedOrigin patterns (``*`` in a
  pattern stands for any run of characters, none included; the pattern ``*``
  matches every origin; the comparison is otherwise exact),
- the method (``Access-Control-Request-Method`` when the request has one, the
  request's own method otherwise) is one of its AllowedMethods, and
- every name in ``Access-Control-Request-Headers`` matches one of its
  AllowedHeader patterns, without regard to case.

A preflight (``OPTIONS``, AWS's "OPTIONS object") is anonymous, answered before
authentication, and never looks at the key: 200 with the ``Access-Control-*``
headers and ``Vary``, or 400 BadRequest without an Origin (or, on a bucket with
rules, without a requested method), or 403 AccessForbidden with ``Method`` and
``ResourceType`` elements when the bucket does not exist, has no rules, or no
rule matches. An actual request with an Origin gets the same headers on its
answer, error answers included, when a rule matches, and none otherwise
(not even ``Vary``): S3 refuses only preflights. server/app.py adds them, in
one place, to every answer.

What the answer carries: ``Access-Control-Allow-Origin`` is the request's Origin
(with ``Access-Control-Allow-Credentials: true``) when one of the rule's own
origins matches it, and ``*`` when only its ``*`` does; ``-Allow-Methods`` lists the
rule's methods; ``-Allow-Headers`` the requested names, lowercase, in the order
asked; ``-Expose-Headers`` and ``-Max-Age`` what the rule sets.

Every request with an Origin reads the bucket's stored rules (one short read
transaction, ~10 us); parsing them is what costs (~1 ms for 100 rules), so the
parsed and compiled rules are cached keyed by the stored document itself: a new
configuration is a new key, and nothing ever needs invalidating (bucket deleted
and recreated, PutBucketCors, DeleteBucketCors alike).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from dedup.errors import NoSuchBucket
from dedup.store import Store
from server.s3.bucketnames import check_bucket_name
from server.s3.cors_config import CONFIG_NAME, CORSRule, from_json
from server.s3.errors import S3Error
from server.s3.routing import PREFLIGHT, Route

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
NOT_ENABLED = "CORSResponse: CORS is not enabled for this bucket."
NO_BUCKET = "CORSResponse: Bucket not found"
PARSED_CACHE = 64  # configurations kept parsed (a document is at most 64 KB)


class Patterns:
    """A list of AllowedOrigin or AllowedHeader values made ready for matching:
    exact values in a set, the ones with a ``*`` in one anchored regex (so a
    request is matched against a rule in time that does not grow with the
    number of exact values, and in C for the patterns)."""

    def __init__(self, values: tuple[str, ...], *, fold_case: bool) -> None:
        values = tuple(v.lower() for v in values) if fold_case else values
        self.fold_case = fold_case
        self.anything = "*" in values
        self.exact = frozenset(v for v in values if "*" not in v)
        wild = [v.partition("*") for v in values if "*" in v and v != "*"]
        alternatives = "|".join(f"{re.escape(head)}.*{re.escape(tail)}" for head, _, tail in wild)
        self.regex = re.compile(alternatives, re.DOTALL) if wild else None

    def specific(self, value: str) -> bool:
        """Matched by a value other than the lone ``*``."""
        value = value.lower() if self.fold_case else value
        return value in self.exact or (self.regex is not None and self.regex.fullmatch(value) is not None)

    def matches(self, value: str) -> bool:
        return self.anything or self.specific(value)


@dataclass(frozen=True)
class Matcher:
    rule: CORSRule
    origins: Patterns
    headers: Patterns  # without regard to case

    @classmethod
    def of(cls, rule: CORSRule) -> Matcher:
        return cls(rule, Patterns(rule.allowed_origins, fold_case=False), Patterns(rule.allowed_headers, fold_case=True))


def compile_rules(rules: list[CORSRule]) -> tuple[Matcher, ...]:
    return tuple(Matcher.of(rule) for rule in rules)


def requested_headers(headers: Mapping[str, str]) -> list[str]:
    """The names in Access-Control-Request-Headers, lowercase, in order, empty items dropped."""
    raw = headers.get("access-control-request-headers", "")
    return [name for item in raw.split(",") if (name := item.strip().lower())]


def match(matchers: tuple[Matcher, ...], origin: str, method: str, asked: list[str]) -> Matcher | None:
    """The first rule that allows the request."""
    names = set(asked)
    for matcher in matchers:
        if (method in matcher.rule.allowed_methods and matcher.origins.matches(origin)
                and all(matcher.headers.matches(name) for name in names)):
            return matcher
    return None


def allow(matcher: Matcher, origin: str, asked: list[str]) -> dict[str, str]:
    """The response headers that let the browser share the answer. The Origin is
    echoed (with credentials allowed) when one of the rule's own origins matches
    it, ``*`` when only the rule's ``*`` does."""
    rule, specific = matcher.rule, matcher.origins.specific(origin)
    headers = {"Access-Control-Allow-Origin": origin if specific else "*"}
    if specific:
        headers["Access-Control-Allow-Credentials"] = "true"
    headers["Access-Control-Allow-Methods"] = ", ".join(rule.allowed_methods)
    if asked:
        headers["Access-Control-Allow-Headers"] = ", ".join(asked)
    if rule.expose_headers:
        headers["Access-Control-Expose-Headers"] = ", ".join(rule.expose_headers)
    if rule.max_age_seconds is not None:
        headers["Access-Control-Max-Age"] = str(rule.max_age_seconds)
    headers["Vary"] = VARY
    return headers


@lru_cache(maxsize=PARSED_CACHE)
def _parsed(stored: bytes) -> tuple[Matcher, ...]:
    return compile_rules(from_json(stored))


async def bucket_rules(store: Store, bucket: str | None) -> tuple[Matcher, ...] | None:
    """The bucket's rules: () without a CORS configuration, None without a bucket."""
    if bucket is None:
        return None
    try:
        check_bucket_name(bucket)
        stored = await store.get_bucket_config(bucket, CONFIG_NAME)
    except (S3Error, NoSuchBucket):
        return None
    return _parsed(stored) if stored is not None else ()


def _forbidden(method: str | None, resource_type: str, message: str | None = None) -> S3Error:
    return S3Error("AccessForbidden", message, extra={"Method": method or "OPTIONS", "ResourceType": resource_type})


async def preflight(store: Store, route: Route, headers: Mapping[str, str]) -> dict[str, str]:
    """The headers of a 200 answer to a preflight; S3Error when it is refused."""
    origin = headers.get("origin")
    if not origin:
        raise S3Error("BadRequest", "Insufficient information. Origin request header needed.")
    method = headers.get("access-control-request-method")
    rules = await bucket_rules(store, route.bucket)
    if not rules:
        raise _forbidden(method, "BUCKET", NO_BUCKET if rules is None else NOT_ENABLED)
    if method is None:
        raise S3Error("BadRequest", "Invalid Access-Control-Request-Method: null")
    asked = requested_headers(headers)
    found = match(rules, origin, method, asked)
    if found is None:
        raise _forbidden(method, "OBJECT" if route.key is not None else "BUCKET")
    return allow(found, origin, asked)


async def response_headers(store: Store, method: str, route: Route, headers: Mapping[str, str]) -> dict[str, str]:
    """The CORS headers for the answer to an actual (non-preflight) request; {} when none apply."""
    origin = headers.get("origin")
    if not origin or route.bucket is None or route.operation == PREFLIGHT:
        return {}
    rules = await bucket_rules(store, route.bucket)
    if not rules:
        return {}
    asked = requested_headers(headers)
    found = match(rules, origin, headers.get("access-control-request-method", method), asked)
    return {} if found is None else allow(found, origin, asked)
