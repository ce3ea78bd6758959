"""Bucket CORS against the live server: Put/Get/DeleteBucketCors through boto3, the
preflight (OPTIONS object) and the CORS headers of actual answers through plain
HTTP requests with Origin headers, as a browser sends them."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.live_server import LiveServer, RawResponse
from tests.server.promtext import scrape

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
NOT_ALLOWED = ("CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
               "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not "
               "whitelisted by the resource's CORS spec.")
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


def preflight(server: LiveServer, target: str, origin: str | None = APP, method: str | None = "PUT",
              headers: str | None = None, **extra: str) -> RawResponse:
    """An anonymous OPTIONS request, as a browser sends it."""
    sent = dict(extra)
    if origin is not None:
        sent["Origin"] = origin
    if method is not None:
        sent["Access-Control-Request-Method"] = method
    if headers is not None:
        sent["Access-Control-Request-Headers"] = headers
    return server.raw("OPTIONS", target, headers=sent, sign=False, content_length=False)


def cors_headers(response: RawResponse) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-") or k == "vary"}


@pytest.fixture
def cors_bucket(s3: Any, bucket: str) -> str:
    s3.put_object(Bucket=bucket, Key="photo.jpg", Body=b"jpeg bytes")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    return bucket


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


def test_configuration_goes_with_the_bucket(live_server: LiveServer, s3: Any) -> None:
    name = f"t-{uuid.uuid4().hex[:20]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": RULES})
    assert preflight(live_server, f"/{name}/k").status == 200
    s3.delete_bucket(Bucket=name)
    assert element(preflight(live_server, f"/{name}/k").body, "Message") == "CORSResponse: Bucket not found"
    s3.create_bucket(Bucket=name)
    with pytest.raises(ClientError) as info:
        s3.get_bucket_cors(Bucket=name)
    assert error_of(info)[1] == "NoSuchCORSConfiguration"
    assert element(preflight(live_server, f"/{name}/k").body, "Message") == "CORSResponse: CORS is not enabled for this bucket."
    assert cors_headers(live_server.raw("GET", f"/{name}", headers={"Origin": APP})) == {}


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


# -- the preflight --------------------------------------------------------------------------------
def test_preflight_from_an_allowed_origin(live_server: LiveServer, cors_bucket: str) -> None:
    answer = preflight(live_server, f"/{cors_bucket}/photo.jpg", method="PUT", headers="Content-Type,X-Amz-Date")
    assert (answer.status, answer.body) == (200, b"")
    assert cors_headers(answer) == {
        "access-control-allow-origin": APP,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "PUT, POST, GET",
        "access-control-allow-headers": "content-type, x-amz-date",
        "access-control-expose-headers": "ETag, x-amz-request-id",
        "access-control-max-age": "3000",
        "vary": VARY,
    }
    assert answer.headers["x-amz-request-id"]


def test_preflight_needs_no_object_and_no_credentials(live_server: LiveServer, cors_bucket: str) -> None:
    """The key is not looked up; a query (a presigned URL's, an upload's) and a bogus
    Authorization change nothing: a browser sends the preflight without credentials."""
    target = f"/{cors_bucket}/not/yet/uploaded?uploadId=abc&partNumber=1&X-Amz-Signature=0"
    answer = preflight(live_server, target, method="PUT", Authorization="AWS4-HMAC-SHA256 garbage")
    assert answer.status == 200 and answer.headers["access-control-allow-origin"] == APP


def test_preflight_wildcard_origin(live_server: LiveServer, cors_bucket: str) -> None:
    answer = preflight(live_server, f"/{cors_bucket}/photo.jpg", origin="https://pr-42.staging.example.com")
    assert answer.status == 200 and answer.headers["access-control-allow-origin"] == "https://pr-42.staging.example.com"
    anyone = preflight(live_server, f"/{cors_bucket}/photo.jpg", origin="http://random:1234", method="GET")
    assert anyone.status == 200
    assert cors_headers(anyone) == {"access-control-allow-origin": "*", "access-control-allow-methods": "GET, HEAD", "vary": VARY}


def test_preflight_wildcard_headers(live_server: LiveServer, cors_bucket: str) -> None:
    allowed = preflight(live_server, f"/{cors_bucket}/k", headers="X-Amz-Meta-Author, x-amz-checksum-crc32")
    assert allowed.status == 200
    assert allowed.headers["access-control-allow-headers"] == "x-amz-meta-author, x-amz-checksum-crc32"
    refused = preflight(live_server, f"/{cors_bucket}/k", headers="content-type, authorization")
    assert (refused.status, element(refused.body, "Code")) == (403, "AccessForbidden")
    assert cors_headers(refused) == {}


@pytest.mark.parametrize(("origin", "method", "target"), [
    ("http://app.example.com", "PUT", "/{b}/photo.jpg"),  # the scheme is part of the origin
    ("https://app.example.com/", "PUT", "/{b}/photo.jpg"),  # so is a trailing slash
    ("https://evil.example", "PUT", "/{b}/photo.jpg"),
    (APP, "DELETE", "/{b}/photo.jpg"),  # a method no rule allows
    ("https://evil.example", "DELETE", "/{b}"),
])
def test_preflight_refused(live_server: LiveServer, cors_bucket: str, origin: str, method: str, target: str) -> None:
    answer = preflight(live_server, target.format(b=cors_bucket), origin=origin, method=method)
    assert answer.status == 403
    assert (element(answer.body, "Code"), element(answer.body, "Message")) == ("AccessForbidden", NOT_ALLOWED)
    assert element(answer.body, "Method") == method
    assert element(answer.body, "ResourceType") == ("OBJECT" if "photo" in target else "BUCKET")
    assert cors_headers(answer) == {}


def test_preflight_without_configuration(live_server: LiveServer, bucket: str) -> None:
    for method in ("PUT", None):
        answer = preflight(live_server, f"/{bucket}/k", method=method)
        assert answer.status == 403
        assert element(answer.body, "Code") == "AccessForbidden"
        assert element(answer.body, "Message") == "CORSResponse: CORS is not enabled for this bucket."
        assert (element(answer.body, "Method"), element(answer.body, "ResourceType")) == (method or "OPTIONS", "BUCKET")


def test_preflight_to_no_bucket(live_server: LiveServer) -> None:
    for target in ("/no-such-bucket-cors/k", "/", "/Not_A_Bucket/k", "/" + "b" * 300):
        answer = preflight(live_server, target)
        assert answer.status == 403, target
        assert element(answer.body, "Message") == "CORSResponse: Bucket not found"


def test_preflight_missing_headers(live_server: LiveServer, cors_bucket: str) -> None:
    for target in (f"/{cors_bucket}/photo.jpg", "/no-such-bucket-cors/k"):
        answer = preflight(live_server, target, origin=None)
        assert (answer.status, element(answer.body, "Code")) == (400, "BadRequest")
        assert element(answer.body, "Message") == "Insufficient information. Origin request header needed."
    answer = preflight(live_server, f"/{cors_bucket}/photo.jpg", method=None)
    assert (answer.status, element(answer.body, "Code")) == (400, "BadRequest")
    assert element(answer.body, "Message") == "Invalid Access-Control-Request-Method: null"


def test_preflight_odd_input(live_server: LiveServer, cors_bucket: str) -> None:
    target = f"/{cors_bucket}/photo.jpg"
    for origin in ("null", "https://\u00e9t\u00e9.example", "x" * 2000):
        answer = preflight(live_server, target, origin=origin, method="GET")
        assert answer.status == 200 and answer.headers["access-control-allow-origin"] == "*", origin
    names = [f"x-amz-meta-{i}" for i in range(800)]  # ~12 KB: within the 16 KB header section
    many = preflight(live_server, target, method="PUT", headers=",".join(names))
    assert many.status == 200 and many.headers["access-control-allow-headers"] == ", ".join(names)
    lower = preflight(live_server, target, method="put")  # methods are case-sensitive
    assert (lower.status, element(lower.body, "Code")) == (403, "AccessForbidden")


def test_preflight_is_an_operation_of_its_own(live_server: LiveServer, cors_bucket: str) -> None:
    before = scrape(live_server).value("fragstore_requests_total", operation="OptionsObject", status="200")
    assert preflight(live_server, f"/{cors_bucket}/photo.jpg").status == 200
    after = scrape(live_server).value("fragstore_requests_total", operation="OptionsObject", status="200")
    assert after == before + 1


# -- actual requests ---------------------------------------------------------------------------------
def test_get_with_an_allowed_origin(live_server: LiveServer, cors_bucket: str) -> None:
    answer = live_server.raw("GET", f"/{cors_bucket}/photo.jpg", headers={"Origin": APP})
    assert (answer.status, answer.body) == (200, b"jpeg bytes")
    assert cors_headers(answer) == {
        "access-control-allow-origin": APP,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "PUT, POST, GET",
        "access-control-expose-headers": "ETag, x-amz-request-id",
        "access-control-max-age": "3000",
        "vary": VARY,
    }
    head = live_server.raw("HEAD", f"/{cors_bucket}/photo.jpg", headers={"Origin": "http://anyone"})
    assert head.status == 200 and head.headers["access-control-allow-origin"] == "*"


def test_no_cors_headers_without_origin_or_match(live_server: LiveServer, cors_bucket: str) -> None:
    """No Origin: not a cross-origin request. A refused origin or method: served as
    usual, without CORS headers (not even Vary); the browser withholds the answer."""
    for headers in ({}, {"Origin": APP, "Access-Control-Request-Method": "DELETE"},
                    {"Origin": APP, "Access-Control-Request-Headers": "authorization"}, {"Origin": ""}):
        answer = live_server.raw("GET", f"/{cors_bucket}/photo.jpg", headers=headers)
        assert (answer.status, answer.body) == (200, b"jpeg bytes"), headers
        assert cors_headers(answer) == {}, headers
    for origin in ("https://evil.example", "http://app.example.com"):  # the "*" rule allows GET and HEAD only
        put = live_server.raw("PUT", f"/{cors_bucket}/from-elsewhere", body=b"x", headers={"Origin": origin})
        assert put.status == 200 and cors_headers(put) == {}


def test_error_answers_carry_cors_headers(live_server: LiveServer, cors_bucket: str) -> None:
    """A browser can read why a request failed: missing key, refused signature, anonymous caller."""
    missing = live_server.raw("GET", f"/{cors_bucket}/missing", headers={"Origin": APP})
    assert (missing.status, element(missing.body, "Code")) == (404, "NoSuchKey")
    assert missing.headers["access-control-allow-origin"] == APP and missing.headers["vary"] == VARY
    anonymous = live_server.raw("PUT", f"/{cors_bucket}/upload", body=b"x", sign=False, headers={"Origin": APP})
    assert (anonymous.status, element(anonymous.body, "Code")) == (403, "AccessDenied")
    assert anonymous.headers["access-control-allow-origin"] == APP
    forged = live_server.raw("PUT", f"/{cors_bucket}/upload", body=b"x", secret_key="wrong", headers={"Origin": APP})
    assert (forged.status, element(forged.body, "Code")) == (403, "SignatureDoesNotMatch")
    assert forged.headers["access-control-allow-origin"] == APP
    head = live_server.raw("HEAD", f"/{cors_bucket}/missing", headers={"Origin": APP})
    assert head.status == 404 and head.headers["access-control-allow-origin"] == "*"  # HEAD: the second rule


def test_browser_upload_flow(live_server: LiveServer, s3: Any, cors_bucket: str) -> None:
    """What a web page does: preflight, then a PUT to a presigned URL, reading the ETag it exposes."""
    url = s3.generate_presigned_url("put_object", Params={"Bucket": cors_bucket, "Key": "upload.txt"}, ExpiresIn=300)
    target = url.split(str(live_server.port), 1)[1]
    assert preflight(live_server, target, method="PUT", headers="content-type").status == 200
    put = live_server.raw("PUT", target, body=b"from the page", sign=False,
                          headers={"Origin": APP, "Content-Type": "text/plain"})
    assert put.status == 200
    assert put.headers["access-control-allow-origin"] == APP
    assert "ETag" in put.headers["access-control-expose-headers"] and put.headers["etag"]
    assert s3.get_object(Bucket=cors_bucket, Key="upload.txt")["Body"].read() == b"from the page"
