"""The one authorization function, table-driven: owner, another user,
anonymous and root; each ACL grant type; bucket policy Allow, Deny and each
condition operator; public access block; object ownership."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from server.auth import acl
from server.auth.acl import Acl
from server.auth.actions import Need
from server.auth.authorize import ADMIN, Check, Request, authorize
from server.auth.identity import ANONYMOUS, Identity, Kind
from server.auth.policy import parse_policy
from server.auth.resources import (
    ENFORCED,
    PREFERRED,
    WRITER,
    BucketAccess,
    ObjectAccess,
    PublicAccessBlock,
)

OWNER, OTHER, THIRD = Identity(Kind.USER, "ALICE"), Identity(Kind.USER, "BOB"), Identity(Kind.USER, "CAROL")
ROOT = Identity(Kind.ROOT, "ROOTKEY")
BUCKET = "b"
OBJECT_ACTIONS = ("GetObject", "GetObjectVersion", "GetObjectAcl", "PutObjectAcl", "GetObjectTagging",
                  "PutObjectTagging", "PutObject", "DeleteObject", "DeleteObjectVersion", "AbortMultipartUpload",
                  "GetObjectAttributes", "ListMultipartUploadParts")


def policy(*statements: dict) -> object:
    text = json.dumps({"Version": "2012-10-17", "Statement": list(statements)}).encode()
    return parse_policy(text, BUCKET, lambda key: key in ("ALICE", "BOB", "CAROL", "ROOTKEY"))


def allow(principal: object = "*", action: object = "s3:GetObject", resource: object = f"arn:aws:s3:::{BUCKET}/*",
          **extra: object) -> dict:
    return {"Sid": extra.pop("Sid", "A"), "Effect": "Allow", "Principal": principal, "Action": action,
            "Resource": resource, **extra}


def deny(principal: object = "*", action: object = "s3:*", resource: object = f"arn:aws:s3:::{BUCKET}/*",
         **extra: object) -> dict:
    return {**allow(principal, action, resource, **extra), "Effect": "Deny", "Sid": extra.get("Sid", "D")}


def bucket(ownership: str | None = ENFORCED, bucket_acl: Acl = acl.PRIVATE, pol: object = None,
           block: PublicAccessBlock | None = None) -> BucketAccess:
    return BucketAccess(BUCKET, "ALICE", ownership, bucket_acl, pol, block)  # type: ignore[arg-type]


def grants(*items: acl.Grant) -> Acl:
    return Acl("", items)


@dataclass
class Case:
    who: Identity
    action: str
    bucket: BucketAccess
    allowed: bool
    reason: str = ""  # a word of the reason
    key: str | None = "k"
    obj: ObjectAccess | None = None
    facts: dict = field(default_factory=dict)
    public_acl: bool = False
    public_policy: bool = False
    code: str = "AccessDenied"


def on_object(action: str) -> bool:
    return action.removeprefix("s3:") in OBJECT_ACTIONS


def run(case: Case):  # type: ignore[no-untyped-def]
    need = Need(case.action, on_object(case.action))
    check = Check(need, case.bucket, case.key if need.on_object else None, case.obj)
    return authorize(Request(case.who, [check], case.facts, case.public_acl, case.public_policy))


WRITER_BUCKET = bucket(WRITER)
BOBS = ObjectAccess(True, "BOB")  # a version BOB wrote into ALICE's ObjectWriter bucket
PUBLIC_READ = bucket(pol=policy(allow()), block=PublicAccessBlock())
IP = {"aws:sourceip": ("10.1.2.3",)}

CASES: dict[str, Case] = {
    # identities
    "owner reads": Case(OWNER, "s3:GetObject", bucket(), True, "bucket owner"),
    "owner lists": Case(OWNER, "s3:ListBucket", bucket(), True, "bucket owner"),
    "owner deletes the bucket": Case(OWNER, "s3:DeleteBucket", bucket(), True, "bucket owner"),
    "another user reads": Case(OTHER, "s3:GetObject", bucket(), False, "no policy statement"),
    "another user writes": Case(OTHER, "s3:PutObject", bucket(), False),
    "another user lists": Case(OTHER, "s3:ListBucket", bucket(), False),
    "anonymous reads": Case(ANONYMOUS, "s3:GetObject", bucket(), False),
    "root reads": Case(ROOT, "s3:GetObject", bucket(), True, "root"),
    "root is not bound by a Deny": Case(ROOT, "s3:GetObject", bucket(pol=policy(deny())), True, "root"),
    # service level
    "anonymous ListBuckets": Case(ANONYMOUS, "s3:ListAllMyBuckets", None, False, "signed"),  # type: ignore[arg-type]
    "user ListBuckets": Case(OTHER, "s3:ListAllMyBuckets", None, True),  # type: ignore[arg-type]
    "user admin": Case(OTHER, ADMIN, None, False, "root"),  # type: ignore[arg-type]
    "root admin": Case(ROOT, ADMIN, None, True),  # type: ignore[arg-type]
    # bucket policy: Allow, Deny, owner protections
    "policy allows a user": Case(OTHER, "s3:GetObject", bucket(pol=policy(allow({"AWS": "BOB"}))), True, "Sid A"),
    "policy allows by ARN": Case(OTHER, "s3:GetObject", bucket(pol=policy(allow(
        {"AWS": "arn:aws:iam::000000000000:user/BOB"}))), True, "policy"),
    "policy allows a CanonicalUser": Case(OTHER, "s3:GetObject", bucket(pol=policy(allow(
        {"CanonicalUser": "BOB"}))), True, "policy"),
    "policy names someone else": Case(THIRD, "s3:GetObject", bucket(pol=policy(allow({"AWS": "BOB"}))), False),
    "policy allows everyone": Case(ANONYMOUS, "s3:GetObject", PUBLIC_READ, True, "policy"),
    "policy allows everyone, AWS *": Case(ANONYMOUS, "s3:GetObject", bucket(
        pol=policy(allow({"AWS": "*"})), block=PublicAccessBlock()), True),
    "policy allows another action": Case(ANONYMOUS, "s3:PutObject", PUBLIC_READ, False),
    "policy on a prefix": Case(ANONYMOUS, "s3:GetObject", bucket(pol=policy(allow(
        resource="arn:aws:s3:::b/pub/*"))), False, key="secret/k"),
    "policy on a prefix, inside": Case(ANONYMOUS, "s3:GetObject", bucket(pol=policy(allow(
        resource="arn:aws:s3:::b/pub/*"))), True, key="pub/k"),
    "? matches one character": Case(ANONYMOUS, "s3:GetObject", bucket(pol=policy(allow(
        resource="arn:aws:s3:::b/k?"))), True, key="k1"),
    "action wildcard": Case(OTHER, "s3:GetObjectTagging", bucket(pol=policy(allow(
        {"AWS": "BOB"}, "s3:GetObject*"))), True),
    "actions are case-insensitive": Case(OTHER, "s3:GetObject", bucket(pol=policy(allow(
        {"AWS": "BOB"}, "S3:getobject"))), True),
    "explicit Deny wins over Allow": Case(OTHER, "s3:GetObject", bucket(pol=policy(
        allow({"AWS": "BOB"}, Sid="A"), deny({"AWS": "BOB"}, Sid="D"))), False, "explicit Deny"),
    "Deny binds the owner": Case(OWNER, "s3:GetObject", bucket(pol=policy(deny())), False, "explicit Deny"),
    "owner keeps the policy ops": Case(OWNER, "s3:PutBucketPolicy", bucket(pol=policy(
        deny(resource="arn:aws:s3:::b"))), True, "bucket owner", key=None),
    "policy ops are the owner's": Case(OTHER, "s3:GetBucketPolicy", bucket(pol=policy(
        allow({"AWS": "BOB"}, "s3:*", ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]))), False, "owner's",
        key=None, code="MethodNotAllowed"),
    "NotAction": Case(OTHER, "s3:GetObject", bucket(pol=policy(
        {"Effect": "Allow", "Principal": {"AWS": "BOB"}, "NotAction": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}
    )), True),
    "NotAction excludes": Case(OTHER, "s3:PutObject", bucket(pol=policy(
        {"Effect": "Allow", "Principal": {"AWS": "BOB"}, "NotAction": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}
    )), False),
    "NotResource": Case(ANONYMOUS, "s3:GetObject", bucket(pol=policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b/secret/*"}
    )), True, key="open"),
    "NotResource excludes": Case(ANONYMOUS, "s3:GetObject", bucket(pol=policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b/secret/*"}
    )), False, key="secret/x"),
    "NotPrincipal Deny": Case(OTHER, "s3:GetObject", bucket(pol=policy(allow({"AWS": ["BOB", "CAROL"]}), {
        "Effect": "Deny", "NotPrincipal": {"AWS": "CAROL"}, "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"})),
        False, "explicit Deny"),
    "NotPrincipal spares the named": Case(THIRD, "s3:GetObject", bucket(pol=policy(allow({"AWS": ["BOB", "CAROL"]}), {
        "Effect": "Deny", "NotPrincipal": {"AWS": "CAROL"}, "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"})),
        True),
    "policy variable": Case(OTHER, "s3:GetObject", bucket(pol=policy(allow(
        "*", resource="arn:aws:s3:::b/home/${aws:username}/*"))), True, key="home/BOB/x"),
    "policy variable, another home": Case(OTHER, "s3:GetObject", bucket(pol=policy(allow(
        "*", resource="arn:aws:s3:::b/home/${aws:username}/*"))), False, key="home/ALICE/x"),
    "policy variable, anonymous": Case(ANONYMOUS, "s3:GetObject", bucket(pol=policy(allow(
        "*", resource="arn:aws:s3:::b/home/${aws:username}/*"))), False, key="home//x"),
    # ACL grant types (ACLs enabled: ObjectWriter)
    "bucket ACL READ to a user lists": Case(OTHER, "s3:ListBucket", bucket(WRITER, grants(
        acl.user("BOB", acl.READ))), True, "READ to BOB", key=None),
    "bucket ACL READ does not read objects": Case(OTHER, "s3:GetObject", bucket(WRITER, grants(
        acl.user("BOB", acl.READ))), False),
    "bucket ACL WRITE writes": Case(OTHER, "s3:PutObject", bucket(WRITER, grants(acl.user("BOB", acl.WRITE))), True),
    "bucket ACL WRITE deletes": Case(OTHER, "s3:DeleteObject", bucket(WRITER, grants(acl.user("BOB", acl.WRITE))), True),
    "bucket ACL READ_ACP": Case(OTHER, "s3:GetBucketAcl", bucket(WRITER, grants(acl.user("BOB", acl.READ_ACP))),
                                True, key=None),
    "bucket ACL READ_ACP does not write it": Case(OTHER, "s3:PutBucketAcl", bucket(WRITER, grants(
        acl.user("BOB", acl.READ_ACP))), False, key=None),
    "bucket ACL WRITE_ACP": Case(OTHER, "s3:PutBucketAcl", bucket(WRITER, grants(acl.user("BOB", acl.WRITE_ACP))),
                                 True, key=None),
    "bucket ACL FULL_CONTROL": Case(OTHER, "s3:ListBucketVersions", bucket(WRITER, grants(
        acl.user("BOB", acl.FULL_CONTROL))), True, "FULL_CONTROL", key=None),
    "bucket ACL grants nothing else": Case(OTHER, "s3:PutBucketPolicy", bucket(WRITER, grants(
        acl.user("BOB", acl.FULL_CONTROL))), False, key=None),
    "AllUsers WRITE lets anonymous write": Case(ANONYMOUS, "s3:PutObject", bucket(WRITER, Acl("public-read-write")),
                                                True, "AllUsers"),
    "AuthenticatedUsers READ: a user": Case(OTHER, "s3:ListBucket", bucket(WRITER, Acl("authenticated-read")),
                                            True, "AuthenticatedUsers", key=None),
    "AuthenticatedUsers READ: not anonymous": Case(ANONYMOUS, "s3:ListBucket", bucket(WRITER, Acl(
        "authenticated-read")), False, key=None),
    "LogDelivery grants nothing here": Case(OTHER, "s3:PutObject", bucket(WRITER, Acl("log-delivery-write")), False),
    "object ACL public-read": Case(ANONYMOUS, "s3:GetObject", bucket(WRITER), True, "object ACL",
                                   obj=ObjectAccess(True, "", Acl("public-read"))),
    "object ACL on a version": Case(ANONYMOUS, "s3:GetObjectVersion", bucket(WRITER), True, "object ACL",
                                    obj=ObjectAccess(True, "", Acl("public-read"))),
    "object ACL READ_ACP to a user": Case(OTHER, "s3:GetObjectAcl", bucket(WRITER), True, "READ_ACP",
                                          obj=ObjectAccess(True, "", grants(acl.user("BOB", acl.READ_ACP)))),
    "object ACL READ_ACP does not read": Case(OTHER, "s3:GetObject", bucket(WRITER), False,
                                              obj=ObjectAccess(True, "", grants(acl.user("BOB", acl.READ_ACP)))),
    "object ACL WRITE_ACP": Case(OTHER, "s3:PutObjectAcl", bucket(WRITER), True,
                                 obj=ObjectAccess(True, "", grants(acl.user("BOB", acl.WRITE_ACP)))),
    "ACLs disabled: a stored public-read grants nothing": Case(
        ANONYMOUS, "s3:GetObject", bucket(ENFORCED, Acl("public-read")), False,
        obj=ObjectAccess(True, "", Acl("public-read"))),
    # object ownership
    "bucket owner cannot read another's version": Case(OWNER, "s3:GetObject", WRITER_BUCKET, False, obj=BOBS),
    "bucket-owner-read lets it": Case(OWNER, "s3:GetObject", WRITER_BUCKET, True, "READ to ALICE",
                                      obj=ObjectAccess(True, "BOB", Acl("bucket-owner-read"))),
    "bucket owner still deletes it": Case(OWNER, "s3:DeleteObject", WRITER_BUCKET, True, "bucket owner", obj=BOBS),
    "the object's owner reads it": Case(OTHER, "s3:GetObject", WRITER_BUCKET, True, "object owner", obj=BOBS),
    "BucketOwnerEnforced: the bucket owner owns all": Case(OWNER, "s3:GetObject", bucket(ENFORCED), True,
                                                           "bucket owner", obj=BOBS),
    "BucketOwnerPreferred keeps a writer's version": Case(OWNER, "s3:GetObject", bucket(PREFERRED), False, obj=BOBS),
    "a policy speaks only for the owner's objects": Case(ANONYMOUS, "s3:GetObject", bucket(
        WRITER, pol=policy(allow())), False, obj=BOBS),
    # public access block
    "BlockPublicAcls refuses a public ACL": Case(OWNER, "s3:PutObjectAcl", bucket(WRITER, block=PublicAccessBlock(
        block_public_acls=True)), False, "BlockPublicAcls", public_acl=True),
    "BlockPublicAcls binds root": Case(ROOT, "s3:PutBucketAcl", bucket(WRITER, block=PublicAccessBlock(
        block_public_acls=True)), False, "BlockPublicAcls", key=None, public_acl=True),
    "BlockPublicAcls lets a private ACL": Case(OWNER, "s3:PutObjectAcl", bucket(WRITER, block=PublicAccessBlock(
        block_public_acls=True)), True),
    "IgnorePublicAcls": Case(ANONYMOUS, "s3:GetObject", bucket(WRITER, block=PublicAccessBlock(
        ignore_public_acls=True)), False, obj=ObjectAccess(True, "", Acl("public-read"))),
    "IgnorePublicAcls keeps user grants": Case(OTHER, "s3:GetObject", bucket(WRITER, block=PublicAccessBlock(
        ignore_public_acls=True)), True, obj=ObjectAccess(True, "", grants(acl.user("BOB", acl.READ)))),
    "BlockPublicPolicy": Case(OWNER, "s3:PutBucketPolicy", bucket(block=PublicAccessBlock(
        block_public_policy=True)), False, "BlockPublicPolicy", key=None, public_policy=True),
    "BlockPublicPolicy lets a private policy": Case(OWNER, "s3:PutBucketPolicy", bucket(block=PublicAccessBlock(
        block_public_policy=True)), True, key=None),
    "RestrictPublicBuckets: anonymous": Case(ANONYMOUS, "s3:GetObject", bucket(pol=policy(allow()),
                                             block=PublicAccessBlock(restrict_public_buckets=True)), False,
                                             "RestrictPublicBuckets"),
    "RestrictPublicBuckets: named users too": Case(OTHER, "s3:GetObject", bucket(pol=policy(
        allow(), allow({"AWS": "BOB"}, Sid="B")), block=PublicAccessBlock(restrict_public_buckets=True)), False),
    "RestrictPublicBuckets: a non-public policy still works": Case(OTHER, "s3:GetObject", bucket(pol=policy(
        allow({"AWS": "BOB"})), block=PublicAccessBlock(restrict_public_buckets=True)), True),
    "RestrictPublicBuckets: the owner": Case(OWNER, "s3:GetObject", bucket(pol=policy(allow()),
                                             block=PublicAccessBlock(restrict_public_buckets=True)), True),
}


def condition(operator: str, key: str, value: object, action: str = "s3:GetObject",
              resource: object = f"arn:aws:s3:::{BUCKET}/*", effect: str = "Allow") -> object:
    statement = allow("*", action, resource, Condition={operator: {key: value}})
    statement["Effect"] = effect
    return policy(statement)


LIST = ("s3:ListBucket", "arn:aws:s3:::b")
CONDITIONS: dict[str, tuple[object, str, dict, bool]] = {
    # name: (policy, action, facts, allowed)
    "StringEquals": (condition("StringEquals", "aws:username", "BOB"), "s3:GetObject", {"aws:username": ("BOB",)}, True),
    "StringEquals, no": (condition("StringEquals", "aws:username", "EVE"), "s3:GetObject", {}, False),
    "StringEquals, absent": (condition("StringEquals", "aws:Referer", "https://x/"), "s3:GetObject", {}, False),
    "StringNotEquals": (condition("StringNotEquals", "aws:username", "EVE"), "s3:GetObject", {}, True),
    "StringNotEquals, absent": (condition("StringNotEquals", "aws:Referer", "https://x/"), "s3:GetObject", {}, True),
    "StringEqualsIgnoreCase": (condition("StringEqualsIgnoreCase", "aws:username", "bob"), "s3:GetObject", {"aws:username": ("BOB",)}, True),
    "StringNotEqualsIgnoreCase": (condition("StringNotEqualsIgnoreCase", "aws:username", "bob"), "s3:GetObject", {"aws:username": ("BOB",)}, False),
    "StringLike s3:prefix": (condition("StringLike", "s3:prefix", ["home/BOB/*", ""], *LIST), "s3:ListBucket", {"s3:prefix": ("home/BOB/x",)}, True),
    "StringLike s3:prefix, no": (condition("StringLike", "s3:prefix", ["home/BOB/*"], *LIST), "s3:ListBucket", {"s3:prefix": ("home/EVE/",)}, False),
    "StringNotLike": (condition("StringNotLike", "s3:prefix", "secret*", *LIST), "s3:ListBucket", {"s3:prefix": ("public/",)}, True),
    "StringEquals s3:delimiter": (condition("StringEquals", "s3:delimiter", "/", *LIST), "s3:ListBucket", {"s3:delimiter": ("/",)}, True),
    "IpAddress": (condition("IpAddress", "aws:SourceIp", "10.0.0.0/8"), "s3:GetObject", IP, True),
    "IpAddress, no": (condition("IpAddress", "aws:SourceIp", ["192.168.0.0/16", "::1/128"]), "s3:GetObject", IP, False),
    "IpAddress, IPv6": (condition("IpAddress", "aws:SourceIp", "::1/128"), "s3:GetObject", {"aws:sourceip": ("::1",)}, True),
    "NotIpAddress": (condition("NotIpAddress", "aws:SourceIp", "10.0.0.0/8"), "s3:GetObject", IP, False),
    "Bool SecureTransport": (condition("Bool", "aws:SecureTransport", "true"), "s3:GetObject", {"aws:securetransport": ("true",)}, True),
    "Bool SecureTransport, http": (condition("Bool", "aws:SecureTransport", True), "s3:GetObject", {"aws:securetransport": ("false",)}, False),
    "NumericLessThanEquals s3:max-keys": (condition("NumericLessThanEquals", "s3:max-keys", "10", *LIST), "s3:ListBucket", {"s3:max-keys": ("10",)}, True),
    "NumericLessThan s3:max-keys": (condition("NumericLessThan", "s3:max-keys", 10, *LIST), "s3:ListBucket", {"s3:max-keys": ("10",)}, False),
    "NumericGreaterThan": (condition("NumericGreaterThan", "s3:max-keys", "5", *LIST), "s3:ListBucket", {"s3:max-keys": ("6",)}, True),
    "NumericGreaterThanEquals": (condition("NumericGreaterThanEquals", "s3:max-keys", "5", *LIST), "s3:ListBucket", {"s3:max-keys": ("4",)}, False),
    "NumericEquals": (condition("NumericEquals", "s3:max-keys", "5", *LIST), "s3:ListBucket", {"s3:max-keys": ("5",)}, True),
    "NumericNotEquals": (condition("NumericNotEquals", "s3:max-keys", "5", *LIST), "s3:ListBucket", {"s3:max-keys": ("5",)}, False),
    "NumericLessThan, not a number": (condition("NumericLessThan", "s3:max-keys", "5", *LIST), "s3:ListBucket", {"s3:max-keys": ("x",)}, False),
    "DateLessThan": (condition("DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z"), "s3:GetObject", {"aws:currenttime": ("2026-06-01T00:00:00Z",)}, True),
    "DateLessThan, past": (condition("DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z"), "s3:GetObject", {"aws:currenttime": ("2026-06-01T00:00:00Z",)}, False),
    "DateGreaterThan": (condition("DateGreaterThan", "aws:CurrentTime", "2020-01-01"), "s3:GetObject", {"aws:currenttime": ("2026-06-01T00:00:00Z",)}, True),
    "DateGreaterThanEquals epoch": (condition("DateGreaterThanEquals", "aws:EpochTime", "1700000000"), "s3:GetObject", {"aws:epochtime": ("1800000000",)}, True),
    "ExistingObjectTag": (condition("StringEquals", "s3:ExistingObjectTag/public", "yes"), "s3:GetObject", {"s3:existingobjecttag/public": ("yes",)}, True),
    "ExistingObjectTag, other value": (condition("StringEquals", "s3:ExistingObjectTag/public", "yes"), "s3:GetObject", {"s3:existingobjecttag/public": ("no",)}, False),
    "ExistingObjectTag names are case-sensitive": (condition("StringEquals", "s3:ExistingObjectTag/Public", "yes"), "s3:GetObject", {"s3:existingobjecttag/public": ("yes",)}, False),
    "RequestObjectTag": (condition("StringEquals", "s3:RequestObjectTag/team", "ml", "s3:PutObject"), "s3:PutObject", {"s3:requestobjecttag/team": ("ml",)}, True),
    "x-amz-acl": (condition("StringEquals", "s3:x-amz-acl", "bucket-owner-full-control", "s3:PutObject"), "s3:PutObject", {"s3:x-amz-acl": ("bucket-owner-full-control",)}, True),
    "x-amz-acl, absent": (condition("StringEquals", "s3:x-amz-acl", "bucket-owner-full-control", "s3:PutObject"), "s3:PutObject", {}, False),
    "VersionId": (condition("StringEquals", "s3:VersionId", "v1", "s3:GetObjectVersion"), "s3:GetObjectVersion", {"s3:versionid": ("v1",)}, True),
    "aws:userid": (condition("StringEquals", "aws:userid", "BOB"), "s3:GetObject", {}, True),
    "ArnEquals PrincipalArn": (condition("ArnEquals", "aws:PrincipalArn", "arn:aws:iam::000000000000:user/BOB"), "s3:GetObject", {"aws:principalarn": ("arn:aws:iam::000000000000:user/BOB",)}, True),
    "ArnLike PrincipalArn": (condition("ArnLike", "aws:PrincipalArn", "arn:aws:iam::000000000000:user/E*"), "s3:GetObject", {}, False),
    "ArnNotLike": (condition("ArnNotLike", "aws:PrincipalArn", "arn:aws:iam::*:user/EVE"), "s3:GetObject", {"aws:principalarn": ("arn:aws:iam::000000000000:user/BOB",)}, True),
    "StringEqualsIfExists, absent": (condition("StringEqualsIfExists", "s3:x-amz-acl", "private", "s3:PutObject"), "s3:PutObject", {}, True),
    "StringEqualsIfExists, present": (condition("StringEqualsIfExists", "s3:x-amz-acl", "private", "s3:PutObject"), "s3:PutObject", {"s3:x-amz-acl": ("public-read",)}, False),
    "Null true": (condition("Null", "s3:x-amz-acl", "true", "s3:PutObject"), "s3:PutObject", {}, True),
    "Null false": (condition("Null", "s3:x-amz-acl", "false", "s3:PutObject"), "s3:PutObject", {}, False),
    "ForAnyValue": (condition("ForAnyValue:StringEquals", "s3:RequestObjectTagKeys", ["team"], "s3:PutObject"), "s3:PutObject", {"s3:requestobjecttagkeys": ("team", "x")}, True),
    "ForAnyValue, none": (condition("ForAnyValue:StringEquals", "s3:RequestObjectTagKeys", ["team"], "s3:PutObject"), "s3:PutObject", {}, False),
    "ForAllValues": (condition("ForAllValues:StringEquals", "s3:RequestObjectTagKeys", ["team", "x"], "s3:PutObject"), "s3:PutObject", {"s3:requestobjecttagkeys": ("team", "x")}, True),
    "ForAllValues, one off": (condition("ForAllValues:StringEquals", "s3:RequestObjectTagKeys", ["team"], "s3:PutObject"), "s3:PutObject", {"s3:requestobjecttagkeys": ("team", "x")}, False),
    "ForAllValues, absent": (condition("ForAllValues:StringEquals", "s3:RequestObjectTagKeys", ["team"], "s3:PutObject"), "s3:PutObject", {}, True),
    "UserAgent": (condition("StringLike", "aws:UserAgent", "curl/*"), "s3:GetObject", {"aws:useragent": ("curl/8.0",)}, True),
    "condition variable": (condition("StringLike", "s3:prefix", "home/${aws:username}/*", *LIST), "s3:ListBucket", {"s3:prefix": ("home/BOB/a",), "aws:username": ("BOB",)}, True),
    "Deny unless HTTPS": (policy(allow(), {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}), "s3:GetObject", {"aws:securetransport": ("false",)}, False),
    "Deny unless HTTPS, over HTTPS": (policy(allow(), {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}), "s3:GetObject", {"aws:securetransport": ("true",)}, True),
    "Deny outside a network": (policy(allow(), {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*", "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}), "s3:GetObject", {"aws:sourceip": ("192.0.2.1",)}, False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_decision(name: str) -> None:
    case = CASES[name]
    decision = run(case)
    assert decision.allowed is case.allowed, decision.reason
    assert case.reason in decision.reason
    if not case.allowed:
        assert decision.code == case.code


@pytest.mark.parametrize("name", list(CONDITIONS))
def test_condition_operator(name: str) -> None:
    pol, action, facts, allowed = CONDITIONS[name]
    key = None if action == "s3:ListBucket" else "k"
    case = Case(OTHER, action, bucket(pol=pol, block=PublicAccessBlock()), allowed, key=key, facts=facts)
    decision = run(case)
    assert decision.allowed is allowed, decision.reason


def test_every_check_must_allow() -> None:
    b = bucket(pol=policy(allow({"AWS": "BOB"}, "s3:PutObject")))
    checks = [Check(Need("s3:PutObject", True), b, "k"), Check(Need("s3:PutObjectTagging", True), b, "k")]
    decision = authorize(Request(OTHER, checks))
    assert not decision.allowed and decision.reason.startswith("s3:PutObjectTagging")
    assert authorize(Request(OTHER, checks[:1])).allowed


def test_a_copy_needs_its_source_too() -> None:
    dest = bucket(pol=policy(allow({"AWS": "BOB"}, "s3:PutObject")))
    source = BucketAccess("src", "CAROL")
    checks = [Check(Need("s3:PutObject", True), dest, "k"), Check(Need("s3:GetObject", True), source, "k")]
    decision = authorize(Request(OTHER, checks))
    assert not decision.allowed and "src" in decision.reason
