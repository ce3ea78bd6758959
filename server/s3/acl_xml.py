"""ACLs on the wire: the ``x-amz-acl`` and ``x-amz-grant-*`` headers, the
AccessControlPolicy XML of Put/Get*Acl, checked as S3 checks them.

    x-amz-acl: public-read                      a canned ACL (server/auth/acl.py)
    x-amz-grant-read: id="KEY", uri="http://acs.amazonaws.com/groups/global/AllUsers"   (quotes optional)
    <AccessControlPolicy><Owner><ID/></Owner><AccessControlList><Grant>
      <Grantee xsi:type="CanonicalUser|Group|AmazonCustomerByEmail"><ID/>|<URI/>|<EmailAddress/></Grantee>
      <Permission>READ</Permission></Grant>...</AccessControlList></AccessControlPolicy>

Errors: an unknown canned ACL is InvalidArgument (naming x-amz-acl); a
canned ACL with grant headers InvalidRequest; a malformed grant header
InvalidArgument; an unknown user id InvalidArgument "Invalid id"; an unknown
group "Invalid group uri"; any e-mail grantee UnresolvableGrantByEmailAddress
(fragstore users have no e-mail address); a body that is not such XML, a
grantee of an unknown type, a bad permission or more than 100 grants
MalformedACLError.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from xml.etree.ElementTree import Element

from server.auth import acl
from server.auth.acl import Acl, Grant
from server.s3.errors import S3Error
from server.s3.xmlparse import child_text, children, local, parse_xml
from server.s3.xmlrender import Node

XSI = "http://www.w3.org/2001/XMLSchema-instance"
GRANT_HEADERS = {"x-amz-grant-read": acl.READ, "x-amz-grant-write": acl.WRITE,
                 "x-amz-grant-read-acp": acl.READ_ACP, "x-amz-grant-write-acp": acl.WRITE_ACP,
                 "x-amz-grant-full-control": acl.FULL_CONTROL}
_GRANTEE = re.compile(r'\s*(id|uri|emailAddress)\s*=\s*(?:"([^"]*)"|([^,\s"]+))\s*(?:,|$)', re.IGNORECASE)
Known = Callable[[str], bool]


def _bad_id(value: str) -> S3Error:
    return S3Error("InvalidArgument", "Invalid id", extra={"ArgumentName": "CanonicalUser/ID", "ArgumentValue": value})


def _bad_uri(value: str) -> S3Error:
    return S3Error("InvalidArgument", "Invalid group uri", extra={"ArgumentName": "Group/URI", "ArgumentValue": value})


def _grant(kind: str, value: str, permission: str, known: Known) -> Grant:
    kind = kind.lower()
    if kind == "id":
        if not known(value):
            raise _bad_id(value)
        return acl.user(value, permission)
    if kind == "uri":
        if value not in acl.KNOWN_GROUPS:
            raise _bad_uri(value)
        return acl.group(value, permission)
    raise S3Error("UnresolvableGrantByEmailAddress", extra={"EmailAddress": value})


def _header_grants(name: str, value: str, permission: str, known: Known) -> list[Grant]:
    found, pos = [], 0
    while pos < len(value):
        m = _GRANTEE.match(value, pos)
        if m is None or m.end() == pos:
            raise S3Error("InvalidArgument", f"Invalid grant header {name}",
                          extra={"ArgumentName": name, "ArgumentValue": value})
        found.append(_grant(m.group(1), m.group(2) if m.group(2) is not None else m.group(3), permission, known))
        pos = m.end()
    if not found:
        raise S3Error("InvalidArgument", extra={"ArgumentName": name, "ArgumentValue": value})
    return found


def from_headers(headers: Mapping[str, str], known: Known, canned_field: str | None = None) -> Acl | None:
    """The ACL a request's headers ask for (a POST form's ``acl`` field as
    ``canned_field``); None when they ask for none."""
    canned = headers.get("x-amz-acl") if canned_field is None else canned_field
    named = [h for h in GRANT_HEADERS if h in headers]
    if canned is not None and named:
        raise S3Error("InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed")
    if canned is not None:
        canned = canned.strip()
        if canned not in acl.CANNED:
            raise S3Error("InvalidArgument", extra={"ArgumentName": "x-amz-acl", "ArgumentValue": canned})
        return Acl(canned)
    if not named:
        return None
    grants: list[Grant] = []
    for name in named:
        grants += _header_grants(name, headers[name], GRANT_HEADERS[name], known)
    if len(grants) > acl.MAX_GRANTS:
        raise S3Error("MalformedACLError", "An ACL can have at most 100 grants.")
    return Acl("", tuple(grants))


def _malformed() -> S3Error:
    return S3Error("MalformedACLError")


def _xml_grant(node: Element, known: Known) -> Grant:
    grantee = children(node, "Grantee")
    permission = (child_text(node, "Permission") or "").strip()
    if len(grantee) != 1 or permission not in acl.PERMISSIONS:
        raise _malformed()
    kind = grantee[0].get(f"{{{XSI}}}type") or ""
    field = {"CanonicalUser": "ID", "Group": "URI", "AmazonCustomerByEmail": "EmailAddress"}.get(kind)
    value = child_text(grantee[0], field) if field else None
    if value is None:
        raise _malformed()
    return _grant({"ID": "id", "URI": "uri"}.get(field or "", "email"), value.strip(), permission, known)


def from_xml(body: bytes, known: Known) -> tuple[str | None, Acl]:
    """(the Owner ID it names, the ACL) of an AccessControlPolicy body."""
    try:
        root = parse_xml(body)
    except S3Error:
        raise _malformed() from None
    if local(root.tag) != "AccessControlPolicy":
        raise _malformed()
    owner_nodes = children(root, "Owner")
    owner = (child_text(owner_nodes[0], "ID") or "").strip() if owner_nodes else None
    lists = children(root, "AccessControlList")
    if len(lists) > 1 or len(owner_nodes) > 1:
        raise _malformed()
    nodes = children(lists[0], "Grant") if lists else []
    if len(nodes) > acl.MAX_GRANTS or (lists and len(nodes) != len(list(lists[0]))):
        raise _malformed()
    return owner or None, Acl("", tuple(_xml_grant(n, known) for n in nodes))


def owner_node(canonical_id: str, tag: str = "Owner") -> Node:
    return (tag, [("ID", canonical_id), ("DisplayName", canonical_id)])


def _grantee_node(grant: Grant) -> Node:
    if grant.group:
        return (f'Grantee xmlns:xsi="{XSI}" xsi:type="Group"', [("URI", grant.grantee)])
    return (f'Grantee xmlns:xsi="{XSI}" xsi:type="CanonicalUser"',
            [("ID", grant.grantee), ("DisplayName", grant.grantee)])


def policy_nodes(owner: str, grants: tuple[Grant, ...]) -> list[Node]:
    """The children of an AccessControlPolicy answer."""
    return [owner_node(owner),
            ("AccessControlList", [("Grant", [_grantee_node(g), ("Permission", g.permission)]) for g in grants])]
