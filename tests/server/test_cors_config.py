"""The CORS configuration document: S3's XML parsed and validated as S3 does, stored, rendered back."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from server.s3.cors_config import CORSRule, from_json, parse_cors, render, to_json
from server.s3.errors import S3Error
from server.s3.xmlrender import document

NS = ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def config(*rules: str, ns: str = "") -> bytes:
    return f"<CORSConfiguration{ns}>{''.join(rules)}</CORSConfiguration>".encode()


def rule(*elements: str) -> str:
    return f"<CORSRule>{''.join(elements)}</CORSRule>"


def el(tag: str, text: str) -> str:
    return f"<{tag}>{text}</{tag}>"


GET_ANY = rule(el("AllowedMethod", "GET"), el("AllowedOrigin", "*"))


def refused(body: bytes) -> S3Error:
    with pytest.raises(S3Error) as info:
        parse_cors(body)
    return info.value


def test_full_rule_with_namespace() -> None:
    body = config(rule(
        el("ID", "upload rule"), el("AllowedOrigin", "https://*.example.com"), el("AllowedOrigin", "http://test.com:80"),
        el("AllowedMethod", "PUT"), el("AllowedMethod", "POST"), el("AllowedHeader", "x-amz-*"),
        el("AllowedHeader", "Content-Type"), el("ExposeHeader", "ETag"), el("MaxAgeSeconds", "3000"),
    ), GET_ANY, ns=NS)
    assert parse_cors(body) == [
        CORSRule(("PUT", "POST"), ("https://*.example.com", "http://test.com:80"), ("x-amz-*", "Content-Type"),
                 ("ETag",), "upload rule", 3000),
        CORSRule(("GET",), ("*",)),
    ]


def test_values_are_kept_as_written() -> None:
    """Origins come back unnormalized and header names keep their case; an empty origin is accepted."""
    rules = parse_cors(config(rule(el("AllowedMethod", "HEAD"), el("AllowedOrigin", ""),
                                   el("AllowedOrigin", "HTTP://Example.COM/"), el("AllowedHeader", "x-AMZ-Date"))))
    assert rules[0].allowed_origins == ("", "HTTP://Example.COM/")
    assert rules[0].allowed_headers == ("x-AMZ-Date",)


@pytest.mark.parametrize("body", [
    b"",
    b"not xml",
    b"<CORSConfiguration>",
    config(),  # no rule
    b"<Other>" + GET_ANY.encode() + b"</Other>",
    config(rule()),
    config(rule(el("AllowedMethod", "GET"))),  # no origin
    config(rule(el("AllowedOrigin", "*"))),  # no method
    config(GET_ANY, "<Extra/>"),
    config(rule(el("AllowedMethod", "GET"), el("AllowedOrigin", "*"), el("Unknown", "x"))),
    config(rule(el("AllowedMethod", "GET"), el("AllowedOrigin", "*"), el("MaxAgeSeconds", "soon"))),
    config(rule(el("AllowedMethod", "GET"), el("AllowedOrigin", "*"), el("MaxAgeSeconds", "-1"))),
    config(rule(el("AllowedMethod", "GET"), el("AllowedOrigin", "*"), el("MaxAgeSeconds", "\u00b2"))),
    config(rule(el("AllowedMethod", "GET"), el("AllowedOrigin", "*"), el("MaxAgeSeconds", "2147483648"))),
    config(rule(el("AllowedMethod", "GET"), el("AllowedOrigin", "*"), el("MaxAgeSeconds", "1"), el("MaxAgeSeconds", "2"))),
    config(rule(el("AllowedMethod", "GET"), el("AllowedOrigin", "*"), el("ID", "a"), el("ID", "b"))),
    config(rule(el("AllowedMethod", "<GET/>"), el("AllowedOrigin", "*"))),
    b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + config(rule(el("AllowedMethod", "GET"), el("AllowedOrigin", "&e;"))),
])
def test_malformed(body: bytes) -> None:
    assert refused(body).code == "MalformedXML"


@pytest.mark.parametrize(("method", "shown"), [("MYMETHOD", "MYMETHOD"), ("OPTIONS", "OPTIONS"), ("get", "get"),
                                                ("PATCH", "PATCH"), ("", "")])
def test_unsupported_method(method: str, shown: str) -> None:
    error = refused(config(rule(el("AllowedMethod", "GET"), el("AllowedMethod", method), el("AllowedOrigin", "*"))))
    assert (error.code, error.status) == ("InvalidRequest", 400)
    assert error.message == f"Found unsupported HTTP method in CORS config. Unsupported method is {shown}"


def test_two_wildcards_in_an_origin() -> None:
    error = refused(config(rule(el("AllowedMethod", "GET"), el("AllowedOrigin", "*example*.com"))))
    assert (error.code, error.message) == ("InvalidRequest", 'AllowedOrigin "*example*.com" can not have more than one wildcard.')


def test_two_wildcards_in_a_header() -> None:
    error = refused(config(rule(el("AllowedMethod", "GET"), el("AllowedOrigin", "*"), el("AllowedHeader", "x-*-*"))))
    assert (error.code, error.message) == ("InvalidRequest", 'AllowedHeader "x-*-*" can not have more than one wildcard.')


def test_at_most_100_rules() -> None:
    assert len(parse_cors(config(*[GET_ANY] * 100))) == 100
    error = refused(config(*[GET_ANY] * 101))
    assert (error.code, error.status) == ("InvalidRequest", 400)


def test_id_at_most_255_characters() -> None:
    assert parse_cors(config(rule(el("ID", "i" * 255), el("AllowedMethod", "GET"), el("AllowedOrigin", "*"))))[0].id == "i" * 255
    assert refused(config(rule(el("ID", "i" * 256), el("AllowedMethod", "GET"), el("AllowedOrigin", "*")))).code == "InvalidArgument"


@pytest.mark.parametrize("header", ["x-amz-meta-a b", "etag\r\nx-injected: 1", "\u00e9tag", ""])
def test_expose_header_must_be_a_header_name(header: str) -> None:
    body = config(rule(el("AllowedMethod", "GET"), el("AllowedOrigin", "*"), el("ExposeHeader", header.replace("\r", "&#13;"))))
    assert refused(body).code == "InvalidRequest"


def test_json_round_trip() -> None:
    rules = [CORSRule(("PUT",), ("https://a", "*"), ("x-amz-*",), ("ETag", "x-amz-request-id"), "r\u00e9gle", 0),
             CORSRule(("GET", "HEAD"), ("",))]
    stored = to_json(rules)
    assert b" " not in stored  # compact
    assert from_json(stored) == rules


def test_render_parses_back() -> None:
    rules = [CORSRule(("PUT", "POST"), ("https://a&b", "*"), ("x-amz-*",), ("ETag",), "<id>", 10), CORSRule(("GET",), ("*",))]
    body = document("CORSConfiguration", render(rules))
    assert parse_cors(body) == rules
    first = ET.fromstring(body)[0]
    assert [child.tag.rsplit("}", 1)[-1] for child in first] == [
        "AllowedHeader", "AllowedMethod", "AllowedMethod", "AllowedOrigin", "AllowedOrigin", "ExposeHeader", "ID", "MaxAgeSeconds"]
