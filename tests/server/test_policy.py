"""Bucket policy documents: what S3 refuses (MalformedPolicy with its
messages, PolicyTooLarge) and what it calls public."""

from __future__ import annotations

import json

import pytest

from server.auth.policy import Policy, is_public, load_stored, parse_policy
from server.s3.errors import S3Error

BUCKET = "photos"
USERS = {"ALICE", "BOB"}


def parse(doc: object) -> Policy:
    text = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return parse_policy(text, BUCKET, USERS.__contains__)


def statement(**fields: object) -> dict:
    base: dict = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def doc(*statements: dict, version: str | None = "2012-10-17") -> dict:
    out: dict = {"Statement": list(statements)}
    if version is not None:
        out["Version"] = version
    return out


MALFORMED = {
    "empty": (b"", "Policies must be valid JSON and the first byte must be '{'"),
    "a list": (b"[]", "Policies must be valid JSON and the first byte must be '{'"),
    "leading space": (b' {"Statement": []}', "Policies must be valid JSON and the first byte must be '{'"),
    "not JSON": (b'{"Version": ', "This policy contains invalid Json"),
    "trailing garbage": (b'{"Version": "2012-10-17"} x', "This policy contains invalid Json"),
    "bad version": (doc(statement(), version="2020-01-01"), "The policy must contain a valid version string"),
    "no statement": ({"Version": "2012-10-17"}, "Missing required field Statement"),
    "empty statement": (doc(), "Could not parse the policy: Statement is empty!"),
    "unknown top field": ({**doc(statement()), "Extra": 1}, "Unknown field Extra"),
    "unknown statement field": (doc(statement(Actions="s3:*")), "Unknown field Actions"),
    "no effect": (doc(statement(Effect=None)), "Missing required field Effect"),
    "bad effect": (doc(statement(Effect="Maybe")), "Invalid effect: Maybe"),
    "no principal": (doc(statement(Principal=None)), "Missing required field Principal"),
    "unknown user": (doc(statement(Principal={"AWS": "MALLORY"})), "Invalid principal in policy"),
    "unknown user ARN": (doc(statement(Principal={"AWS": "arn:aws:iam::000000000000:user/MALLORY"})),
                         "Invalid principal in policy"),
    "wildcard ARN": (doc(statement(Principal={"AWS": "arn:aws:iam::000000000000:user/*"})),
                     "Invalid principal in policy"),
    "unknown principal type": (doc(statement(Principal={"Group": "x"})), "Invalid principal in policy"),
    "principal not * nor a map": (doc(statement(Principal="ALICE")), "Invalid principal in policy"),
    "no action": (doc(statement(Action=None)), "Missing required field Action"),
    "Action and NotAction": (doc(statement(NotAction="s3:PutObject")), "This policy contains invalid Json"),
    "another service": (doc(statement(Action="ec2:RunInstances")), "Policy has invalid action"),
    "unknown action": (doc(statement(Action="s3:GetObjects")), "Policy has invalid action"),
    "action without service": (doc(statement(Action="GetObject")), "Policy has invalid action"),
    "action not a string": (doc(statement(Action=["s3:GetObject", 3])), "This policy contains invalid Json"),
    "no resource": (doc(statement(Resource=None)), "Missing required field Resource"),
    "resource *": (doc(statement(Resource="*")), "Policy has invalid resource"),
    "another bucket": (doc(statement(Resource="arn:aws:s3:::other/*")), "Policy has invalid resource"),
    "not an S3 ARN": (doc(statement(Resource="arn:aws:sqs:::photos")), "Policy has invalid resource"),
    "empty bucket name": (doc(statement(Resource="arn:aws:s3:::/x")), "Policy has invalid resource"),
    "object action on the bucket": (doc(statement(Resource=f"arn:aws:s3:::{BUCKET}")),
                                    "Action does not apply to any resource(s) in statement"),
    "bucket action on objects": (doc(statement(Action="s3:ListBucket")),
                                 "Action does not apply to any resource(s) in statement"),
    "account action": (doc(statement(Action="s3:ListAllMyBuckets")),
                       "Action does not apply to any resource(s) in statement"),
    "unknown operator": (doc(statement(Condition={"StringEqualz": {"aws:username": "x"}})),
                         "Invalid Condition type : StringEqualz"),
    "operators are case-sensitive": (doc(statement(Condition={"stringequals": {"aws:username": "x"}})),
                                     "Invalid Condition type : stringequals"),
    "bad set operator": (doc(statement(Condition={"ForSomeValues:StringEquals": {"aws:username": "x"}})),
                         "Invalid Condition type : ForSomeValues:StringEquals"),
    "NullIfExists": (doc(statement(Condition={"NullIfExists": {"aws:username": "true"}})),
                     "Invalid Condition type : NullIfExists"),
    "unknown condition key": (doc(statement(Condition={"StringEquals": {"s3:nosuchkey": "x"}})),
                              "Policy has an invalid condition key"),
    "bad IP": (doc(statement(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.300/8"}})),
               "Invalid IP address in Conditions"),
    "s3:prefix on GetObject": (doc(statement(Condition={"StringLike": {"s3:prefix": "a/*"}})),
                               "Conditions do not apply to combination of actions and resources in statement"),
    "condition not a map": (doc(statement(Condition=["x"])), "This policy contains invalid Json"),
    "condition value a map": (doc(statement(Condition={"StringEquals": {"aws:username": {"a": 1}}})),
                              "This policy contains invalid Json"),
    "duplicate Sid": (doc(statement(Sid="a"), statement(Sid="a")),
                      "Statement IDs (SID) in a single policy must be unique."),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_policies(name: str) -> None:
    given, message = MALFORMED[name]
    with pytest.raises(S3Error) as refused:
        parse(given)
    assert (refused.value.code, refused.value.status, refused.value.message) == ("MalformedPolicy", 400, message)


def test_a_policy_over_20_kb_is_too_large() -> None:
    many = [statement(Sid=f"s{i}", Resource=f"arn:aws:s3:::{BUCKET}/prefix-{i:05d}/*") for i in range(300)]
    with pytest.raises(S3Error) as refused:
        parse(doc(*many))
    assert (refused.value.code, refused.value.status) == ("PolicyTooLarge", 400)


def test_whitespace_does_not_count_toward_the_limit() -> None:
    text = json.dumps(doc(statement()), indent=4000).encode()
    assert len(text) > 20 * 1024
    assert len(parse(text).statements) == 1


VALID = {
    "minimal": doc(statement()),
    "one statement as a map": {"Version": "2012-10-17", "Statement": statement()},
    "no version (2008-10-17)": doc(statement(), version=None),
    "2008-10-17": doc(statement(), version="2008-10-17"),
    "users by key, ARN, canonical id": doc(statement(Principal={
        "AWS": ["ALICE", "arn:aws:iam::000000000000:user/BOB"], "CanonicalUser": "ALICE"})),
    "the root key": doc(statement(Principal={"AWS": ["arn:aws:iam::000000000000:root", "000000000000"]})),
    "a service principal": doc(statement(Principal={"Service": "logging.s3.amazonaws.com"})),
    "wildcards": doc(statement(Action=["s3:Get*", "s3:List?ucket"],
                               Resource=[f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"])),
    "bucket wildcard naming this bucket": doc(statement(Resource="arn:aws:s3:::pho*/*")),
    "action *": doc(statement(Action="*", Resource=[f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"])),
    "NotAction, NotResource, NotPrincipal": doc(statement(Effect="Deny", Principal=None, NotPrincipal={"AWS": "ALICE"},
                                                          Action=None, NotAction="s3:GetObject", Resource=None,
                                                          NotResource=f"arn:aws:s3:::{BUCKET}/public/*")),
    "conditions": doc(statement(Action="s3:ListBucket", Resource=f"arn:aws:s3:::{BUCKET}", Condition={
        "StringLike": {"s3:prefix": ["home/${aws:username}/*"]}, "NumericLessThanEquals": {"s3:max-keys": 100},
        "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}, "Bool": {"aws:SecureTransport": True},
        "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
        "ForAnyValue:StringEqualsIfExists": {"aws:userid": "x"}, "Null": {"aws:Referer": "true"}})),
    "tag keys": doc(statement(Condition={"StringEquals": {"s3:ExistingObjectTag/public": "yes",
                                                          "s3:RequestObjectTag/Team": "ml"}})),
    "condition key case": doc(statement(Condition={"StringEquals": {"AWS:UserName": "ALICE"}})),
}


@pytest.mark.parametrize("name", list(VALID))
def test_valid_policies(name: str) -> None:
    parsed = parse(VALID[name])
    assert parsed.statements


def test_a_stored_policy_loads_without_its_users() -> None:
    text = json.dumps(doc(statement(Principal={"AWS": "GONE"}))).encode()
    with pytest.raises(S3Error):
        parse(text)
    assert load_stored(text, BUCKET).statements[0].principals.keys == frozenset({"GONE"})


PUBLIC = {
    "everyone": (doc(statement()), True),
    "AWS *": (doc(statement(Principal={"AWS": "*"})), True),
    "a user": (doc(statement(Principal={"AWS": "ALICE"})), False),
    "a Deny to everyone": (doc(statement(Effect="Deny")), False),
    "pinned to a network": (doc(statement(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})), False),
    "the whole internet": (doc(statement(Condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})), True),
    "pinned to a user id": (doc(statement(Condition={"StringEquals": {"aws:userid": "ALICE"}})), False),
    "a wildcard user id": (doc(statement(Condition={"StringLike": {"aws:userid": "A*"}})), True),
    "a condition that pins nothing": (doc(statement(Condition={"Bool": {"aws:SecureTransport": "true"}})), True),
    "NotPrincipal Allow": (doc(statement(Principal=None, NotPrincipal={"AWS": "ALICE"})), True),
    "one public statement of two": (doc(statement(Sid="a", Principal={"AWS": "BOB"}), statement(Sid="b")), True),
}


@pytest.mark.parametrize("name", list(PUBLIC))
def test_what_is_public(name: str) -> None:
    given, public = PUBLIC[name]
    assert is_public(parse(given)) is public
