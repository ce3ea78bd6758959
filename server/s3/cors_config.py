"""A bucket's CORS configuration: S3's ``CORSConfiguration`` XML in, checked rules out, and back.

PutBucketCors's body is parsed and validated here as S3 validates it; the rules
are kept through the engine's bucket configuration documents, as compact JSON
under the name ``cors`` (deleted with the bucket), and rendered back for
GetBucketCors. Matching requests against the rules is server/s3/cors.py's job.

    <CORSConfiguration>
      <CORSRule>                          1 to 100 of them
        <ID>                              optional, at most 255 characters
        <AllowedMethod>                   1 or more: GET PUT HEAD POST DELETE
        <AllowedOrigin>                   1 or more, each with at most one *
        <AllowedHeader>                   any number, each with at most one *
        <ExposeHeader>                    any number (header names)
        <MaxAgeSeconds>                   optional, a non-negative integer

Errors, as S3 answers them: a body that is not such a document (no rule, a rule
without an origin or a method, an unknown element, a MaxAgeSeconds that is no
integer) is MalformedXML; an unsupported method, a second wildcard, too many
rules, or an ExposeHeader that cannot be sent as a header name is
InvalidRequest; an ID over 255 characters is InvalidArgument.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from server.s3.errors import S3Error
from server.s3.xmlparse import local, parse_xml
from server.s3.xmlrender import Node

CONFIG_NAME = "cors"  # the engine's configuration document name
CORS_METHODS = frozenset({"GET", "PUT", "HEAD", "POST", "DELETE"})
MAX_RULES = 100
MAX_ID_CHARS = 255
MAX_DOCUMENT_BYTES = 64 * 1024  # "The document is limited to 64 KB in size."
MAX_AGE = 2**31 - 1  # MaxAgeSeconds is an xs:int
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP field name (RFC 9110 token)
_LISTS = {"AllowedMethod": "AllowedMethods", "AllowedOrigin": "AllowedOrigins",
          "AllowedHeader": "AllowedHeaders", "ExposeHeader": "ExposeHeaders"}
_SINGLE = {"ID", "MaxAgeSeconds"}


@dataclass(frozen=True)
class CORSRule:
    """One rule, its lists in the order given (origins and headers as written)."""

    allowed_methods: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    id: str | None = None
    max_age_seconds: int | None = None


def parse_cors(body: bytes) -> list[CORSRule]:
    """The rules of a PutBucketCors body, validated."""
    root = parse_xml(body)
    if local(root.tag) != "CORSConfiguration":
        raise S3Error("MalformedXML")
    nodes = list(root)
    if not nodes or any(local(node.tag) != "CORSRule" for node in nodes):
        raise S3Error("MalformedXML")
    if len(nodes) > MAX_RULES:
        raise S3Error("InvalidRequest", f"The number of CORS rules should not exceed allowed limit of {MAX_RULES} rules.")
    rules = [_rule(node) for node in nodes]
    for rule in rules:
        _validate(rule)
    return rules


def _rule(node: Element) -> CORSRule:
    """A ``<CORSRule>``'s elements; MalformedXML for anything the schema does not allow."""
    lists: dict[str, list[str]] = {name: [] for name in _LISTS.values()}
    single: dict[str, str] = {}
    for child in node:
        name = local(child.tag)
        if len(child):  # every element of a rule holds text only
            raise S3Error("MalformedXML")
        text = child.text or ""
        if name in _LISTS:
            lists[_LISTS[name]].append(text)
        elif name in _SINGLE and name not in single:
            single[name] = text
        else:
            raise S3Error("MalformedXML")
    if not lists["AllowedMethods"] or not lists["AllowedOrigins"]:
        raise S3Error("MalformedXML")
    return CORSRule(
        allowed_methods=tuple(lists["AllowedMethods"]),
        allowed_origins=tuple(lists["AllowedOrigins"]),
        allowed_headers=tuple(lists["AllowedHeaders"]),
        expose_headers=tuple(lists["ExposeHeaders"]),
        id=single.get("ID"),
        max_age_seconds=_max_age(single["MaxAgeSeconds"]) if "MaxAgeSeconds" in single else None,
    )


def _max_age(text: str) -> int:
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_AGE:
        raise S3Error("MalformedXML")
    return int(value)


def _validate(rule: CORSRule) -> None:
    for method in rule.allowed_methods:
        if method not in CORS_METHODS:
            raise S3Error("InvalidRequest", f"Found unsupported HTTP method in CORS config. Unsupported method is {method}")
    for kind, values in (("AllowedOrigin", rule.allowed_origins), ("AllowedHeader", rule.allowed_headers)):
        for value in values:
            if value.count("*") > 1:
                raise S3Error("InvalidRequest", f'{kind} "{value}" can not have more than one wildcard.')
    for header in rule.expose_headers:
        if not _TOKEN.fullmatch(header):  # it is sent back as a header value: no spaces, no controls
            raise S3Error("InvalidRequest", f'ExposeHeader "{header}" contains invalid character.')
    if rule.id is not None and len(rule.id) > MAX_ID_CHARS:
        raise S3Error("InvalidArgument", f"ID length should not exceed allowed limit of {MAX_ID_CHARS}",
                      extra={"ArgumentName": "ID", "ArgumentValue": rule.id})


# -- storage and rendering ------------------------------------------------------------------
def to_json(rules: list[CORSRule]) -> bytes:
    """The stored form: ``{"CORSRules": [...]}`` with AWS's member names, unset members left out."""
    return json.dumps({"CORSRules": [_as_dict(rule) for rule in rules]}, separators=(",", ":")).encode()


def _as_dict(rule: CORSRule) -> dict[str, Any]:
    out: dict[str, Any] = {"AllowedMethods": list(rule.allowed_methods), "AllowedOrigins": list(rule.allowed_origins)}
    if rule.allowed_headers:
        out["AllowedHeaders"] = list(rule.allowed_headers)
    if rule.expose_headers:
        out["ExposeHeaders"] = list(rule.expose_headers)
    if rule.id is not None:
        out["ID"] = rule.id
    if rule.max_age_seconds is not None:
        out["MaxAgeSeconds"] = rule.max_age_seconds
    return out


def from_json(data: bytes) -> list[CORSRule]:
    """The rules :func:`to_json` stored."""
    return [
        CORSRule(
            allowed_methods=tuple(d["AllowedMethods"]),
            allowed_origins=tuple(d["AllowedOrigins"]),
            allowed_headers=tuple(d.get("AllowedHeaders", ())),
            expose_headers=tuple(d.get("ExposeHeaders", ())),
            id=d.get("ID"),
            max_age_seconds=d.get("MaxAgeSeconds"),
        )
        for d in json.loads(data)["CORSRules"]
    ]


def render(rules: list[CORSRule]) -> list[Node]:
    """GetBucketCors's ``<CORSRule>`` elements, in the API reference's element order."""
    return [("CORSRule", _rule_nodes(rule)) for rule in rules]


def _rule_nodes(rule: CORSRule) -> list[Node]:
    nodes: list[Node] = [("AllowedHeader", h) for h in rule.allowed_headers]
    nodes += [("AllowedMethod", m) for m in rule.allowed_methods]
    nodes += [("AllowedOrigin", o) for o in rule.allowed_origins]
    nodes += [("ExposeHeader", h) for h in rule.expose_headers]
    nodes += [("ID", rule.id)] if rule.id is not None else []
    nodes += [("MaxAgeSeconds", rule.max_age_seconds)] if rule.max_age_seconds is not None else []
    return nodes
