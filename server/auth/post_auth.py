"""Who signed a POST Object form, and what its policy allows.

The form carries its own signature over the base64 ``policy`` field:

    SigV4   x-amz-algorithm, x-amz-credential, x-amz-date, x-amz-signature:
            hex(HMAC-SHA256(signing key of the credential's date and region, policy))
    SigV2   AWSAccessKeyId, signature: base64(HMAC-SHA1(secret, policy))

:func:`authenticate_form` checks, in S3's order: a ``key`` field
(InvalidArgument); without any signature field the form is anonymous (an
unsigned form: its policy, if any, binds nothing, and authorization decides
whether the bucket takes public writes); then a policy (AccessDenied without
one), every field of
the signature kind (InvalidArgument naming the missing one), the access key
(InvalidAccessKeyId), the signature (SignatureDoesNotMatch, StringToSign being
the policy), the document (InvalidPolicyDocument), then its expiration and
conditions against the fields (AccessDenied, server/auth/post_policy.py).
Field names are case-insensitive; ``${filename}`` in any value is replaced
by the uploaded file's name (its last path segment) before anything is checked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from server.auth import sigv2
from server.auth.post_policy import check_policy, parse_policy
from server.auth.sigv4 import UNSIGNED_PAYLOAD, AuthResult
from server.auth.sigv4_canonical import ALGORITHM, same_signature, signing_key
from server.auth.sigv4_parse import parse_iso_basic
from server.s3.errors import S3Error

V4_FIELDS = ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature")
V2_FIELDS = ("awsaccesskeyid", "signature")
_SPELLING = {"awsaccesskeyid": "AWSAccessKeyId", "signature": "Signature", "key": "key"}


@dataclass(frozen=True)
class FormGrant:
    """What a verified form asks for: its fields (lower-case names, the bucket
    included, ${filename} expanded) and the size its policy allows the file."""

    fields: dict[str, str]
    length_range: tuple[int, int] | None


def form_fields(pairs: Sequence[tuple[str, str]], filename: str | None, bucket: str) -> dict[str, str]:
    """Lower-case names; repeated fields joined with ``,``; ${filename} expanded."""
    base = re.split(r"[/\\]", filename or "")[-1]
    fields: dict[str, str] = {}
    for name, value in pairs:
        value = value.replace("${filename}", base)
        lower = name.lower()
        fields[lower] = f"{fields[lower]},{value}" if lower in fields else value
    fields["bucket"] = bucket
    return fields


def _missing(name: str) -> S3Error:
    spelled = _SPELLING.get(name, "-".join(p.capitalize() for p in name.split("-")))
    return S3Error("InvalidArgument",
                   f"Bucket POST must contain a field named '{spelled}'.  If it is specified, please check the order of the fields.",
                   extra={"ArgumentName": spelled, "ArgumentValue": ""})


def authenticate_form(
    pairs: Sequence[tuple[str, str]],
    filename: str | None,
    bucket: str,
    secret_for: Callable[[str], str | None],
    *,
    region: str,
    now: float | None = None,
) -> tuple[AuthResult, FormGrant]:
    """Verify a POST form's signature and policy; raise S3's error if they fail."""
    fields = form_fields(pairs, filename, bucket)
    if "key" not in fields:
        raise _missing("key")
    policy = fields.get("policy")
    kind = V4_FIELDS if any(f in fields for f in V4_FIELDS) else V2_FIELDS
    if not any(f in fields for f in kind):  # unsigned: an anonymous upload, its policy not binding
        return AuthResult("", UNSIGNED_PAYLOAD, None, False), FormGrant(fields, None)
    if policy is None:
        raise S3Error("AccessDenied")  # a signature over no policy
    for name in kind:
        if name not in fields:
            raise _missing(name)
    access_key = _verify_v4(fields, region, secret_for) if kind is V4_FIELDS else _verify_v2(fields, secret_for)
    document = parse_policy(policy)
    check_policy(document, fields, time.time() if now is None else now)
    return AuthResult(access_key, UNSIGNED_PAYLOAD, None, False), FormGrant(fields, document.length_range)


def _secret(access_key: str, secret_for: Callable[[str], str | None]) -> str:
    secret = secret_for(access_key)
    if secret is None:
        raise S3Error("InvalidAccessKeyId", extra={"AWSAccessKeyId": access_key})
    return secret


def _mismatch(access_key: str, policy: str, provided: str) -> S3Error:
    return S3Error("SignatureDoesNotMatch", extra={
        "AWSAccessKeyId": access_key,
        "StringToSign": policy,
        "SignatureProvided": provided,
        "StringToSignBytes": sigv2.spaced_hex(policy.encode("utf-8")),
    })


def _verify_v2(fields: dict[str, str], secret_for: Callable[[str], str | None]) -> str:
    access_key, policy, provided = fields["awsaccesskeyid"], fields["policy"], fields["signature"]
    if not sigv2.same_signature(sigv2.sign(_secret(access_key, secret_for), policy.encode("utf-8")), provided):
        raise _mismatch(access_key, policy, provided)
    return access_key


def _bad(name: str, value: str, message: str) -> S3Error:
    return S3Error("InvalidArgument", message, extra={"ArgumentName": name, "ArgumentValue": value})


def _verify_v4(fields: dict[str, str], region: str, secret_for: Callable[[str], str | None]) -> str:
    algorithm, credential, amz_date = fields["x-amz-algorithm"], fields["x-amz-credential"], fields["x-amz-date"]
    if algorithm != ALGORITHM:
        raise _bad("x-amz-algorithm", algorithm, f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts) or parts[3:] != ["s3", "aws4_request"]:
        raise _bad("x-amz-credential", credential, "the Credential is mal-formed; expecting "
                   '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".')
    access_key, date, cred_region = parts[:3]
    if cred_region != region:
        raise _bad("x-amz-credential", credential, f"the region '{cred_region}' is wrong; expecting '{region}'")
    if parse_iso_basic(amz_date) is None or amz_date[:8] != date:
        raise _bad("x-amz-date", amz_date, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\" "
                   "and of the credential's date")
    secret = _secret(access_key, secret_for)
    policy, provided = fields["policy"], fields["x-amz-signature"]
    expected = hmac.new(signing_key(access_key, secret, date, region), policy.encode("utf-8"), hashlib.sha256)
    if not same_signature(expected.hexdigest(), provided.lower()):
        raise _mismatch(access_key, policy, provided)
    return access_key
