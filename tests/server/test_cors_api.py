"""Bucket CORS against the live server: Put/Get/DeleteBucketCors through boto3 and hand-made XML."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.live_server import LiveServer

APP = "https://app.example.com"
RULES = [
    {"ID": "uploads", "AllowedOrigins": [APP, "https://*.staging.example.com"], "AllowedMethods": ["PUT", "POST", "GET"],
     "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag", "x-amz-request-id"], "MaxAgeSeconds": 3000},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]},
]


def error_of(info: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = info.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def element(body: bytes, tag: str) -> str | None:
    found = re.search(rb"<%s>([^<]*)</%s>" % (tag.encode(), tag.encode()), body)
    return found.group(1).decode() if found else None


# -- the configuration ------------------------------------------------------------------------
def test_configuration_round_trip(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as info:
        s3.get_bucket_cors(Bucket=bucket)
    assert error_of(info) == (404, "NoSuchCORSConfiguration", "The CORS configuration does not exist")
    assert info.value.response["Error"]["BucketName"] == bucket
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204  # none to delete
    assert s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES
    replaced = [{"AllowedOrigins": [""], "AllowedMethods": ["DELETE"], "MaxAgeSeconds": 0}]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": replaced})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == replaced
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as info:
        s3.get_bucket_cors(Bucket=bucket)
    assert error_of(info)[1] == "NoSuchCORSConfiguration"


@pytest.mark.parametrize(("rules", "expected"), [
    ([{"AllowedOrigins": ["*", "https://test.com"], "AllowedMethods": ["GET", "PUT", "HEAD", "MYMETHOD"]}],
     (400, "InvalidRequest", "Found unsupported HTTP method in CORS config. Unsupported method is MYMETHOD")),
    ([{"AllowedOrigins": ["*"], "AllowedMethods": ["OPTIONS"]}],
     (400, "InvalidRequest", "Found unsupported HTTP method in CORS config. Unsupported method is OPTIONS")),
    ([], (400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")),
    ([{"AllowedOrigins": ["*example*.com"], "AllowedMethods": ["GET"]}],
     (400, "InvalidRequest", 'AllowedOrigin "*example*.com" can not have more than one wildcard.')),
    ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["x-*-*"]}],
     (400, "InvalidRequest", 'AllowedHeader "x-*-*" can not have more than one wildcard.')),
    ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101,
     (400, "InvalidRequest", "The number of CORS rules should not exceed allowed limit of 100 rules.")),
    ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "MaxAgeSeconds": -5}],
     (400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")),
])
def test_invalid_configurations(s3: Any, bucket: str, rules: list[dict[str, Any]], expected: tuple[int, str, str]) -> None:
    with pytest.raises(ClientError) as info:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert error_of(info) == expected
    with pytest.raises(ClientError) as info:
        s3.get_bucket_cors(Bucket=bucket)
    assert error_of(info)[1] == "NoSuchCORSConfiguration"  # nothing stored


def test_hand_made_document_and_its_digest(live_server: LiveServer, s3: Any, bucket: str) -> None:
    xml = (b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
           b"</CORSRule></CORSConfiguration>")
    md5 = base64.b64encode(hashlib.md5(xml).digest()).decode()
    missing = live_server.raw("PUT", f"/{bucket}?cors", body=xml)
    assert (missing.status, element(missing.body, "Code")) == (400, "InvalidRequest")
    wrong = live_server.raw("PUT", f"/{bucket}?cors", body=xml, headers={"Content-MD5": base64.b64encode(b"0" * 16).decode()})
    assert (wrong.status, element(wrong.body, "Code")) == (400, "BadDigest")
    assert live_server.raw("PUT", f"/{bucket}?cors", body=xml, headers={"Content-MD5": md5}).status == 200
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]
    got = live_server.raw("GET", f"/{bucket}?cors")
    assert got.headers["content-type"] == "application/xml"
    assert b'<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CORSRule>' in got.body


def test_document_over_64_kb(live_server: LiveServer, s3: Any, bucket: str) -> None:
    rule = b"<CORSRule><AllowedOrigin>https://%s.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>"
    xml = b"<CORSConfiguration>" + rule % (b"o" * 800) * 90 + b"</CORSConfiguration>"
    assert len(xml) > 64 * 1024
    md5 = base64.b64encode(hashlib.md5(xml).digest()).decode()
    answer = live_server.raw("PUT", f"/{bucket}?cors", body=xml, headers={"Content-MD5": md5})
    assert (answer.status, element(answer.body, "Code")) == (400, "MaxMessageLengthExceeded")
