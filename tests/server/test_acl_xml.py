"""ACLs on the wire (x-amz-acl, x-amz-grant-*, AccessControlPolicy XML) and
in the index (the compact stored form), with S3's errors."""

from __future__ import annotations

import pytest

from server.auth import acl
from server.auth.acl import Acl
from server.s3.acl_xml import from_headers, from_xml, policy_nodes
from server.s3.errors import S3Error
from server.s3.xmlrender import document

USERS = {"ALICE", "BOB"}
known = USERS.__contains__
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


def grant_xml(kind: str, field: str, value: str, permission: str) -> str:
    return (f'<Grant><Grantee {XSI} xsi:type="{kind}"><{field}>{value}</{field}></Grantee>'
            f"<Permission>{permission}</Permission></Grant>")


def policy_xml(*grants: str, owner: str | None = "ALICE") -> bytes:
    owner_xml = f"<Owner><ID>{owner}</ID></Owner>" if owner else ""
    return (f'<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{owner_xml}'
            f"<AccessControlList>{''.join(grants)}</AccessControlList></AccessControlPolicy>").encode()


def test_canned_acls() -> None:
    for name in acl.CANNED:
        assert from_headers({"x-amz-acl": name}, known) == Acl(name)
    assert from_headers({}, known) is None
    assert from_headers({}, known, canned_field="public-read") == Acl("public-read")


def test_grant_headers_quoted_or_not() -> None:
    assert from_headers({"x-amz-grant-read": "id=BOB"}, known) == Acl("", (acl.user("BOB", acl.READ),))
    found = from_headers({"x-amz-grant-write": f"uri={acl.ALL_USERS}, id=ALICE"}, known)
    assert found == Acl("", (acl.group(acl.ALL_USERS, acl.WRITE), acl.user("ALICE", acl.WRITE)))


def test_grant_headers() -> None:
    found = from_headers({"x-amz-grant-read": 'id="BOB", uri="http://acs.amazonaws.com/groups/global/AllUsers"',
                          "x-amz-grant-full-control": 'id="ALICE"'}, known)
    assert found is not None and set(found.grants) == {
        acl.user("BOB", acl.READ), acl.group(acl.ALL_USERS, acl.READ), acl.user("ALICE", acl.FULL_CONTROL)}


@pytest.mark.parametrize(("headers", "code", "extra"), [
    ({"x-amz-acl": "public"}, "InvalidArgument", {"ArgumentName": "x-amz-acl", "ArgumentValue": "public"}),
    ({"x-amz-acl": "private", "x-amz-grant-read": 'id="BOB"'}, "InvalidRequest", {}),
    ({"x-amz-grant-read": "BOB"}, "InvalidArgument", {"ArgumentName": "x-amz-grant-read"}),
    ({"x-amz-grant-read": 'id="BOB" id="ALICE"'}, "InvalidArgument", {"ArgumentName": "x-amz-grant-read"}),
    ({"x-amz-grant-read": 'name="BOB"'}, "InvalidArgument", {"ArgumentName": "x-amz-grant-read"}),
    ({"x-amz-grant-write": 'id="MALLORY"'}, "InvalidArgument", {"ArgumentName": "CanonicalUser/ID"}),
    ({"x-amz-grant-write": 'uri="http://acs.amazonaws.com/groups/global/Everyone"'}, "InvalidArgument",
     {"ArgumentName": "Group/URI"}),
    ({"x-amz-grant-read": 'emailAddress="bob@example.com"'}, "UnresolvableGrantByEmailAddress", {}),
])
def test_bad_acl_headers(headers: dict[str, str], code: str, extra: dict[str, str]) -> None:
    with pytest.raises(S3Error) as refused:
        from_headers(headers, known)
    assert refused.value.code == code and refused.value.status == 400
    assert extra.items() <= refused.value.extra.items()


def test_access_control_policy_body() -> None:
    owner, parsed = from_xml(policy_xml(
        grant_xml("CanonicalUser", "ID", "ALICE", "FULL_CONTROL"),
        grant_xml("Group", "URI", acl.AUTHENTICATED_USERS, "READ"),
        grant_xml("CanonicalUser", "ID", "BOB", "WRITE_ACP")), known)
    assert owner == "ALICE"
    assert parsed.grants == (acl.user("ALICE", acl.FULL_CONTROL), acl.group(acl.AUTHENTICATED_USERS, acl.READ),
                             acl.user("BOB", acl.WRITE_ACP))
    assert from_xml(policy_xml(owner=None), known) == (None, Acl("", ()))


@pytest.mark.parametrize(("body", "code"), [
    (b"not xml", "MalformedACLError"),
    (b"<Other/>", "MalformedACLError"),
    (b'<!DOCTYPE x [<!ENTITY e "boom">]><AccessControlPolicy>&e;</AccessControlPolicy>', "MalformedACLError"),
    (policy_xml(grant_xml("Robot", "ID", "BOB", "READ")), "MalformedACLError"),
    (policy_xml(grant_xml("CanonicalUser", "ID", "BOB", "READ_ALL")), "MalformedACLError"),
    (policy_xml(grant_xml("CanonicalUser", "URI", "BOB", "READ")), "MalformedACLError"),
    (policy_xml("<Grant><Permission>READ</Permission></Grant>"), "MalformedACLError"),
    (policy_xml("<Other/>"), "MalformedACLError"),
    (policy_xml(*[grant_xml("CanonicalUser", "ID", "BOB", "READ")] * 101), "MalformedACLError"),
    (policy_xml(grant_xml("CanonicalUser", "ID", "MALLORY", "READ")), "InvalidArgument"),
    (policy_xml(grant_xml("Group", "URI", "http://example.com/group", "READ")), "InvalidArgument"),
    (policy_xml(grant_xml("AmazonCustomerByEmail", "EmailAddress", "a@b.c", "READ")), "UnresolvableGrantByEmailAddress"),
])
def test_bad_access_control_policies(body: bytes, code: str) -> None:
    with pytest.raises(S3Error) as refused:
        from_xml(body, known)
    assert refused.value.code == code and refused.value.status == 400


STORED = [Acl(), Acl("public-read"), Acl("bucket-owner-full-control"),
          Acl("", (acl.user("BOB", acl.READ), acl.group(acl.ALL_USERS, acl.READ_ACP)))]


@pytest.mark.parametrize("value", STORED)
def test_stored_form_round_trips(value: Acl) -> None:
    assert Acl.decode(value.encode()) == value


def test_private_costs_nothing_and_canned_acls_expand() -> None:
    assert Acl().encode() == "" and Acl.decode("") == acl.PRIVATE
    assert acl.grants_of(Acl("public-read"), "BOB", "ALICE") == (
        acl.user("BOB", acl.FULL_CONTROL), acl.group(acl.ALL_USERS, acl.READ))
    assert acl.grants_of(Acl("bucket-owner-full-control"), "ALICE", "ALICE") == (acl.user("ALICE", acl.FULL_CONTROL),)
    assert acl.is_public(acl.grants_of(Acl("authenticated-read"), "A", "A"))
    assert not acl.is_public(acl.grants_of(Acl("log-delivery-write"), "A", "A"))


def test_the_answer_parses_back() -> None:
    grants = (acl.user("ALICE", acl.FULL_CONTROL), acl.group(acl.ALL_USERS, acl.READ))
    body = document("AccessControlPolicy", policy_nodes("ALICE", grants))
    assert b'xsi:type="Group"' in body and b"</Grantee>" in body
    assert from_xml(body, known) == ("ALICE", Acl("", grants))
