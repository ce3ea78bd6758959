"""Matching a request against CORS rules, and the headers a match answers with (pure functions)."""

from __future__ import annotations

import pytest

from server.s3.cors import VARY, Matcher, Patterns, allow, compile_rules, match, requested_headers
from server.s3.cors_config import CORSRule


@pytest.mark.parametrize(("pattern", "value", "matches"), [
    ("*", "https://anything:8080", True),
    ("*", "", True),
    ("https://a.example", "https://a.example", True),
    ("https://a.example", "https://a.example/", False),  # a trailing slash is another origin
    ("https://a.example", "http://a.example", False),
    ("https://a.example", "https://a.example:443", False),
    ("https://*.example.com", "https://www.example.com", True),
    ("https://*.example.com", "https://a.b.example.com", True),
    ("https://*.example.com", "https://example.com", False),
    ("https://*.example.com", "http://www.example.com", False),
    ("*suffix", "foo.suffix", True),
    ("start*end", "startend", True),  # * may stand for nothing (s3-tests)
    ("start*end", "start12end", True),
    ("start*end", "0start12end", False),  # anchored at both ends
    ("prefix*", "prefix", True),
    ("prefix*", "bla.prefix", False),
    ("ab*ba", "aba", False),  # head and tail may not overlap
    ("x-amz-*", "x-amz-date", True),
])
def test_pattern_match(pattern: str, value: str, matches: bool) -> None:
    assert Patterns((pattern,), fold_case=False).matches(value) is matches
    assert Patterns(("https://other", pattern, "x*y"), fold_case=False).matches(value) is matches


def test_patterns_fold_case_for_headers_only() -> None:
    assert Patterns(("X-Amz-*", "Content-Type"), fold_case=True).matches("x-amz-date")
    assert Patterns(("X-Amz-*", "Content-Type"), fold_case=True).matches("CONTENT-TYPE")
    assert not Patterns(("https://A.example",), fold_case=False).matches("https://a.example")


def test_regex_characters_are_literal() -> None:
    patterns = Patterns(("https://*.ex.ample", "a+b", "(x)*"), fold_case=False)
    assert patterns.matches("https://www.ex.ample") and not patterns.matches("https://www.exxample")
    assert patterns.matches("a+b") and not patterns.matches("aab")
    assert patterns.matches("(x)yz") and not patterns.matches("xyz")
    assert Patterns(("line*",), fold_case=False).matches("line\nbreak")  # * spans any character


def test_only_the_lone_star_is_not_specific() -> None:
    assert not Patterns(("*",), fold_case=False).specific("https://a")
    assert Patterns(("*", "https://*"), fold_case=False).specific("https://a")


def test_requested_headers_lowercase_in_order() -> None:
    assert requested_headers({"access-control-request-headers": "X-Amz-Date, content-type,,  Authorization "}) == [
        "x-amz-date", "content-type", "authorization"]
    assert requested_headers({}) == []


RULES = [
    CORSRule(("PUT", "POST"), ("https://upload.example",), ("content-type", "x-amz-*")),
    CORSRule(("GET",), ("https://*.example",), max_age_seconds=600),
    CORSRule(("GET", "HEAD"), ("*",), expose_headers=("ETag",)),
]


def matched(origin: str, method: str, asked: list[str], rules: list[CORSRule] = RULES) -> CORSRule | None:
    found = match(compile_rules(rules), origin, method, asked)
    return None if found is None else found.rule


def test_first_matching_rule_wins() -> None:
    assert matched("https://upload.example", "PUT", []) == RULES[0]
    assert matched("https://www.example", "GET", []) == RULES[1]
    assert matched("http://elsewhere", "GET", []) == RULES[2]
    assert matched("http://elsewhere", "HEAD", []) == RULES[2]


def test_method_must_be_allowed() -> None:
    assert matched("http://elsewhere", "PUT", []) is None
    assert matched("https://upload.example", "DELETE", []) is None
    assert matched("https://upload.example", "put", []) is None  # methods are case-sensitive


def test_every_requested_header_must_be_allowed() -> None:
    assert matched("https://upload.example", "PUT", ["content-type", "x-amz-date"]) == RULES[0]
    assert matched("https://upload.example", "PUT", ["content-type", "authorization"]) is None
    assert matched("https://www.example", "GET", ["x-amz-date"]) is None  # no AllowedHeader: none allowed
    custom = [CORSRule(("GET",), ("*",), ("X-Custom-*",))]
    assert matched("o", "GET", ["x-custom-one"], custom) == custom[0]
    anything = [CORSRule(("GET",), ("*",), ("*",))]
    assert matched("o", "GET", ["anything", "at-all"], anything) == anything[0]


def test_many_headers_against_many_patterns_stay_fast() -> None:
    """The worst a 64 KB document and a 16 KB header section allow, well under a second."""
    allowed = tuple(f"x-h{i}-*" for i in range(1500))
    rules = [CORSRule(("GET",), ("*",), allowed)] * 3
    asked = [f"x-h1499-{i}" for i in range(1500)]
    assert matched("o", "GET", asked, rules) == rules[0]
    assert matched("o", "GET", [*asked, "nope"], rules) is None


def test_specific_origin_is_echoed_with_credentials() -> None:
    rule = Matcher.of(CORSRule(("GET", "PUT"), ("https://a.example",), ("*",), ("ETag", "x-amz-request-id"), None, 3000))
    assert allow(rule, "https://a.example", ["x-amz-date", "content-type"]) == {
        "Access-Control-Allow-Origin": "https://a.example",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, PUT",
        "Access-Control-Allow-Headers": "x-amz-date, content-type",
        "Access-Control-Expose-Headers": "ETag, x-amz-request-id",
        "Access-Control-Max-Age": "3000",
        "Vary": VARY,
    }


def test_wildcard_origin_answers_star_without_credentials() -> None:
    rule = Matcher.of(CORSRule(("GET",), ("*",)))
    assert allow(rule, "http://random:1234", []) == {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET",
        "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }


def test_own_origin_is_echoed_even_beside_star() -> None:
    rule = Matcher.of(CORSRule(("GET",), ("*", "https://*.a.example")))
    assert allow(rule, "https://www.a.example", [])["Access-Control-Allow-Origin"] == "https://www.a.example"
    assert allow(rule, "https://b.example", [])["Access-Control-Allow-Origin"] == "*"


def test_max_age_zero_is_sent() -> None:
    assert allow(Matcher.of(CORSRule(("GET",), ("*",), max_age_seconds=0)), "o", [])["Access-Control-Max-Age"] == "0"
