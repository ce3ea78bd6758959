"""server.auth.post_auth and post_policy: form signatures checked against botocore's
own POST signers (generate_presigned_post: S3SigV4PostAuth and, by default,
HmacV1PostAuth), and the policy rules one by one."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config

from server.auth.post_auth import authenticate_form
from server.auth.post_policy import check_policy, parse_policy
from server.s3.errors import S3Error
from tests.server.postform import expiration, sigv2_fields
from tests.server.test_sigv4 import ENDPOINT, KEY, REGION, SECRET, secrets

BUCKET = "forms"


def client(**config: Any) -> Any:
    return boto3.client("s3", endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id=KEY,
                        aws_secret_access_key=SECRET, config=Config(**config))


def presigned_post(signature_version: str | None, key: str = "up/${filename}", **kw: Any) -> list[tuple[str, str]]:
    config = {"signature_version": signature_version} if signature_version else {}
    post = client(**config).generate_presigned_post(BUCKET, key, **kw)
    return list(post["fields"].items())


def verify(pairs: list[tuple[str, str]], filename: str | None = "photo.png", bucket: str = BUCKET,
           now: float | None = None) -> Any:
    return authenticate_form(pairs, filename, bucket, secrets, region=REGION, now=now)


def refused(pairs: list[tuple[str, str]], **kw: Any) -> S3Error:
    with pytest.raises(S3Error) as caught:
        verify(pairs, **kw)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value.extra)
    return caught.value


def replace(pairs: list[tuple[str, str]], name: str, value: str | None) -> list[tuple[str, str]]:
    out = [(n, v) for n, v in pairs if n != name]
    return out + [(name, value)] if value is not None else out


# -- botocore's signers as the oracle ----------------------------------------------


@pytest.mark.parametrize("version", ["s3v4", None])
def test_botocore_presigned_posts_verify(version: str | None) -> None:
    """s3v4 signs with SigV4; botocore's default for s3 in us-east-1 signs POSTs with SigV2."""
    pairs = presigned_post(version, Fields={"Content-Type": "image/png", "x-amz-meta-who": "me", "acl": "private"},
                           Conditions=[{"Content-Type": "image/png"}, {"x-amz-meta-who": "me"}, {"acl": "private"},
                                       ["content-length-range", 10, 2000]])
    names = {n for n, _ in pairs}
    assert ("x-amz-signature" in names) == (version == "s3v4") and ("AWSAccessKeyId" in names) == (version is None)
    auth, grant = verify(pairs)
    assert auth.access_key == KEY and auth.context is None and not auth.presigned
    assert grant.fields["key"] == "up/photo.png" and grant.fields["bucket"] == BUCKET
    assert grant.fields["content-type"] == "image/png" and grant.length_range == (10, 2000)


@pytest.mark.parametrize("version", ["s3v4", None])
def test_tampered_fields_fail_the_policy(version: str | None) -> None:
    pairs = presigned_post(version, key="exact/key", Fields={"Content-Type": "image/png"},
                           Conditions=[{"Content-Type": "image/png"}])
    assert verify(pairs)[1].fields["key"] == "exact/key"
    assert "Policy Condition failed" in refused(replace(pairs, "key", "exact/other")).message
    assert "Policy Condition failed" in refused(replace(pairs, "Content-Type", "text/html")).message
    assert refused(pairs, bucket="other-bucket").code == "AccessDenied"
    extra = refused(pairs + [("x-amz-meta-new", "1")])
    assert extra.message == "Invalid according to Policy: Extra input fields: x-amz-meta-new"
    signature = "x-amz-signature" if version else "signature"
    forged = dict(pairs)[signature]
    forged = forged[:-2] + ("00" if not forged.endswith("00") else "11")
    err = refused(replace(pairs, signature, forged))
    assert err.code == "SignatureDoesNotMatch" and err.extra["StringToSign"] == dict(pairs)["policy"]
    assert err.extra["StringToSignBytes"].startswith(dict(pairs)["policy"].encode()[:2].hex(" "))
    changed = base64.b64encode(base64.b64decode(dict(pairs)["policy"]).replace(b"image/png", b"text/html")).decode()
    assert refused(replace(replace(pairs, "policy", changed), "Content-Type", "text/html")).code == "SignatureDoesNotMatch"


def test_sigv4_form_fields_checked() -> None:
    pairs = presigned_post("s3v4")
    for name in ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"):
        err = refused(replace(pairs, name, None))
        assert err.code == "InvalidArgument" and name.title() in err.message.title()
    assert refused(replace(pairs, "x-amz-algorithm", "AWS4-HMAC-SHA1")).code == "InvalidArgument"
    credential = dict(pairs)["x-amz-credential"]
    assert refused(replace(pairs, "x-amz-credential", credential.replace("us-east-1", "eu-west-1"))).code == "InvalidArgument"
    assert refused(replace(pairs, "x-amz-credential", credential.replace(KEY, "NOSUCHKEY"))).code == "InvalidAccessKeyId"
    assert refused(replace(pairs, "x-amz-date", "yesterday")).code == "InvalidArgument"


def test_anonymous_and_missing_fields() -> None:
    auth, grant = authenticate_form([("key", "k"), ("acl", "public-read")], "f.txt", "b", secrets, region=REGION)
    assert auth.access_key == "" and grant.length_range is None  # unsigned: authorization decides
    assert grant.fields == {"key": "k", "acl": "public-read", "bucket": "b"}
    pairs = presigned_post(None)
    assert refused(replace(pairs, "policy", None)).code == "AccessDenied"
    err = refused(replace(pairs, "key", None))
    assert err.code == "InvalidArgument" and err.extra == {"ArgumentName": "key", "ArgumentValue": ""}
    assert "field named 'key'.  If it is specified, please check the order" in err.message
    err = refused(replace(pairs, "signature", None))
    assert err.code == "InvalidArgument" and err.extra["ArgumentName"] == "Signature"
    unknown = [(n, "NOSUCHKEY" if n == "AWSAccessKeyId" else v) for n, v in pairs]
    assert refused(unknown).code == "InvalidAccessKeyId"


def test_field_names_are_case_insensitive_and_filename_expands() -> None:
    pairs = [("KEY", "a/${filename}"), ("Content-Type", "image/jpeg"), ("X-Amz-Meta-Tag", "t"), ("x-ignore-me", "1")]
    conditions = [{"bucket": BUCKET}, ["starts-with", "$key", "a/"], ["eq", "$content-type", "image/jpeg"],
                  {"x-amz-meta-tag": "t"}]
    grant = verify(pairs + sigv2_fields(KEY, SECRET, conditions), filename=r"C:\Users\me\pic.jpg")[1]
    assert grant.fields["key"] == "a/pic.jpg" and grant.fields["x-amz-meta-tag"] == "t"
    assert verify(pairs + sigv2_fields(KEY, SECRET, conditions), filename=None)[1].fields["key"] == "a/"


# -- the policy document -----------------------------------------------------------


def policy_of(document: object) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"conditions": []}, "Invalid Policy: Policy missing expiration."),
        ({"expiration": expiration(60)}, "Invalid Policy: Policy missing conditions."),
        ({"expiration": "tomorrow", "conditions": []}, "Invalid Policy: Invalid 'expiration' value: 'tomorrow'"),
        ({"expiration": expiration(60), "conditions": [{"a": "1", "b": "2"}]},
         "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified."),
        ({"expiration": expiration(60), "conditions": [["content-length-range", 0, 512.0]]}, "Invalid Policy: Invalid JSON."),
        ({"expiration": expiration(60), "conditions": [["eq", "key", "x"]]}, None),
        ({"expiration": expiration(60), "conditions": [["matches", "$key", "x"]]}, None),
        ({"expiration": expiration(60), "conditions": [["eq", "$key"]]}, None),
        ({"expiration": expiration(60), "conditions": [["content-length-range", 5, 1]]}, None),
        ([1, 2], "Invalid Policy: Invalid JSON."),
    ],
)
def test_invalid_documents(document: object, message: str | None) -> None:
    with pytest.raises(S3Error) as err:
        parse_policy(policy_of(document))
    assert err.value.code == "InvalidPolicyDocument"
    assert err.value.message == message if message else err.value.message.startswith("Invalid Policy: ")
    with pytest.raises(S3Error) as err:
        parse_policy("not base64 !")
    assert err.value.code == "InvalidPolicyDocument"


def check(conditions: list[object], fields: dict[str, str], now: float | None = None) -> S3Error | None:
    policy = parse_policy(policy_of({"expiration": expiration(60), "conditions": conditions}))
    try:
        check_policy(policy, {"bucket": BUCKET, **fields}, time.time() if now is None else now)
    except S3Error as err:
        assert err.code == "AccessDenied"
        return err
    return None


def test_conditions() -> None:
    bucket: list[object] = [{"bucket": BUCKET}]
    assert check(bucket + [["starts-with", "$key", ""]], {"key": "anything"}) is None
    assert check(bucket + [["starts-with", "$key", "a/"]], {"key": "b/x"}) is not None
    assert check(bucket + [["starts-with", "$Content-Type", "image/"]], {"content-type": "image/png, image/gif"}) is None
    assert check(bucket + [["starts-with", "$Content-Type", "image/"]], {"content-type": "image/png, text/x"}) is not None
    err = check(bucket + [["starts-with", "$x-amz-meta-a", ""]], {})
    assert err is not None and err.message == 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$x-amz-meta-a", ""]'
    assert check([["starts-with", "$bucket", ""]], {}) is not None  # exact matching only
    assert check(bucket + [["starts-with", "$success_action_status", "2"]], {"success_action_status": "201"}) is not None
    assert check(bucket + [["starts-with", "$x-amz-credential", ""]], {"x-amz-credential": "c"}) is not None
    err = check([], {})
    assert err is not None and err.message == "Invalid according to Policy: Extra input fields: bucket"
    assert check(bucket, {"policy": "p", "signature": "s", "awsaccesskeyid": "k", "x-ignore-x": "1", "file": ""}) is None
    err = check(bucket, {}, now=time.time() + 120)
    assert err is not None and err.message == "Invalid according to Policy: Policy expired."
