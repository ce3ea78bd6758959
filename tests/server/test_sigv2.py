"""server.auth.sigv2 / sigv2_auth against botocore's own SigV2 signers (HmacV1Auth,
HmacV1QueryAuth) as the oracle, AWS's published examples, and tampered requests."""

from __future__ import annotations

import calendar
import time
from collections.abc import Mapping
from email.utils import formatdate
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.auth.authenticate import authenticate
from server.auth.sigv2 import (
    SUBRESOURCES,
    canonical_amz_headers,
    canonical_resource,
    sign,
    string_to_sign,
)
from server.auth.sigv4 import UNSIGNED_PAYLOAD, AuthRequest, AuthResult
from server.s3.errors import S3Error
from tests.server.test_sigv4 import ENDPOINT, HOSTILE_KEYS, KEY, REGION, SECRET, secrets, url_for


def to_auth(request: AWSRequest, host_bucket: str | None = None) -> AuthRequest:
    """What the server receives for a botocore request: raw path, raw query, lower-case headers."""
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    headers.setdefault("host", parts.netloc)
    return AuthRequest(prepared.method, parts.path, parts.query, headers, host_bucket)


def header_signed(method: str = "GET", url: str = url_for("k"), headers: Mapping[str, str] | None = None,
                  body: bytes = b"", *, secret: str = SECRET) -> AuthRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    HmacV1Auth(Credentials(KEY, secret)).add_auth(request)
    return to_auth(request)


def presigned(method: str = "GET", url: str = url_for("k"), expires: int = 3600,
              headers: Mapping[str, str] | None = None) -> AuthRequest:
    request = AWSRequest(method=method, url=url, headers=dict(headers or {}))
    HmacV1QueryAuth(Credentials(KEY, SECRET), expires=expires).add_auth(request)
    parts = urlsplit(request.url)
    return AuthRequest(method, parts.path, parts.query, {"host": parts.netloc})


def auth(req: AuthRequest, **kwargs: float) -> AuthResult:
    return authenticate(req, secrets, region=REGION, **kwargs)


def error(req: AuthRequest, **kwargs: float) -> S3Error:
    with pytest.raises(S3Error) as caught:
        auth(req, **kwargs)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value.extra)
    return caught.value


def with_headers(req: AuthRequest, **changes: str | None) -> AuthRequest:
    headers = dict(req.headers)
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return AuthRequest(req.method, req.path, req.query, headers, req.host_bucket)


SUBRESOURCE_QUERIES = [
    "acl",
    "uploads",
    "uploads=",
    "uploadId=abc%2Fdef&partNumber=3",
    "versionId=3%2B4&tagging",
    "delete",
    "response-content-type=application%2Fx-test&response-content-disposition=attachment%3B%20filename%3D%22a%20b%22",
    "response-expires=Thu%2C%2001%20Dec%201994&response-cache-control=no-cache",
    "list-type=2&prefix=a%20b%2Bc&delimiter=%2F&continuation-token=x%3D%3D",
    "prefix=%E6%97%A5%E6%9C%AC&max-keys=10&versions",
    "location",
    "b=2&acl&a=1",
]


# -- the list of sub-resources and the string to sign ---------------------------


def test_subresources_are_botocores() -> None:
    assert set(HmacV1Auth.QSAOfInterest) == SUBRESOURCES


@pytest.mark.parametrize("query", SUBRESOURCE_QUERIES)
def test_string_to_sign_is_botocores(query: str) -> None:
    """The bytes we sign are exactly botocore's canonical string."""
    request = AWSRequest(method="PUT", url=url_for("dir/ké y", query), headers={
        "Content-Type": "text/plain", "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==",
        "x-amz-meta-b": "  two  words ", "X-Amz-Meta-A": "1", "x-amz-acl": "private"})
    signer = HmacV1Auth(Credentials(KEY, SECRET))
    signer.add_auth(request)
    parts = urlsplit(request.url)
    expected = signer.canonical_string("PUT", parts, request.headers)
    amz = canonical_amz_headers((k, v) for k, v in request.headers.items())
    ours = string_to_sign("PUT", request.headers["Content-MD5"], request.headers["Content-Type"],
                          request.headers["Date"], amz, canonical_resource(parts.path.encode(), parts.query))
    assert ours == expected.encode("utf-8")
    assert sign(SECRET, ours) == request.headers["Authorization"].rpartition(":")[2]


def test_repeated_and_folded_amz_headers() -> None:
    headers = [("X-Amz-Meta-R", "joe"), ("x-amz-meta-r", " jane "), ("x-amz-meta-f", "a\r\n  b"), ("Host", "h")]
    assert canonical_amz_headers(headers) == b"x-amz-meta-f:a b\nx-amz-meta-r:joe,jane\n"


# -- AWS's published examples (RESTAuthentication, AWS's example key pair) -----

AWS_KEY, AWS_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "host_bucket", "signature"),
    [
        ("GET", "/photos/puppy.jpg", "", {"date": "Tue, 27 Mar 2007 19:36:42 +0000"}, "johnsmith",
         "bWq2s1WEIj+Ydj0vQ697zp+IXMU="),
        ("PUT", "/photos/puppy.jpg", "", {"date": "Tue, 27 Mar 2007 21:15:45 +0000", "content-type": "image/jpeg"},
         "johnsmith", "MyyxeRY7whkBe+bq8fHCL/2kKUg="),
        ("GET", "/", "prefix=photos&max-keys=50&marker=puppy", {"date": "Tue, 27 Mar 2007 19:42:41 +0000"},
         "johnsmith", "htDYFYduRNen8P9ZfE/s9SuKy0U="),
        ("GET", "/", "acl", {"date": "Tue, 27 Mar 2007 19:44:46 +0000"}, "johnsmith", "c2WLPFtWHVgbEmeEG93a4cG37dM="),
        ("DELETE", "/johnsmith/photos/puppy.jpg", "",
         {"date": "Tue, 27 Mar 2007 21:20:27 +0000", "x-amz-date": "Tue, 27 Mar 2007 21:20:26 +0000"}, None,
         "lx3byBScXR6KzyMaifNkardMwNk="),
        ("PUT", "/db-backup.dat.gz", "", {
            "date": "Tue, 27 Mar 2007 21:06:08 +0000", "x-amz-acl": "public-read",
            "content-type": "application/x-download", "content-md5": "4gJE4saaMU4BqNR0kLY+lw==",
            "x-amz-meta-reviewedby": "joe@johnsmith.net,jane@johnsmith.net",
            "x-amz-meta-filechecksum": "0x02661779", "x-amz-meta-checksumalgorithm": "crc32",
            "content-disposition": "attachment; filename=database.dat", "content-encoding": "gzip"},
         "static.johnsmith.net", "ilyl83RwaSoYIEdixDQcA4OnAnc="),
        ("GET", "/", "", {"date": "Wed, 28 Mar 2007 01:29:59 +0000"}, None, "qGdzdERIC03wnaRNKh6OqZehG9s="),
        ("GET", "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re", "", {"date": "Wed, 28 Mar 2007 01:49:49 +0000"},
         None, "DNEZGsoieTZ92F3bUfSPQcbGmlM="),
    ],
)
def test_aws_examples(method: str, path: str, query: str, headers: dict[str, str], host_bucket: str | None,
                      signature: str) -> None:
    """AWS's examples (signed for bucket "johnsmith", the name they were computed with)."""
    sent = headers.get("x-amz-date", headers["date"])
    now = calendar.timegm(time.strptime(sent[:25], "%a, %d %b %Y %H:%M:%S"))
    req = AuthRequest(method, path, query, {**headers, "authorization": f"AWS {AWS_KEY}:{signature}"}, host_bucket)
    result = authenticate(req, {AWS_KEY: AWS_SECRET}.get, region=REGION, now=now)
    assert result.access_key == AWS_KEY and result.content_sha256 == UNSIGNED_PAYLOAD
    with pytest.raises(S3Error) as err:
        authenticate(with_headers(req, date="Tue, 27 Mar 2007 21:20:28 +0000", x_amz_date=None),
                     {AWS_KEY: AWS_SECRET}.get, region=REGION, now=now, max_skew_seconds=1e10)
    assert err.value.code == "SignatureDoesNotMatch"


def test_aws_presigned_example() -> None:
    query = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620"
    req = AuthRequest("GET", "/photos/puppy.jpg", query, {"host": "johnsmith.s3.amazonaws.com"}, "johnsmith")
    assert authenticate(req, {AWS_KEY: AWS_SECRET}.get, region=REGION, now=1175139000).presigned


# -- accepted -------------------------------------------------------------------


@pytest.mark.parametrize("key", HOSTILE_KEYS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD"])
def test_header_auth_hostile_keys(key: str, method: str) -> None:
    result = auth(header_signed(method, url_for(key), body=b"data" if method == "PUT" else b""))
    assert result.access_key == KEY and not result.presigned and result.context is None
    assert result.content_sha256 == UNSIGNED_PAYLOAD


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_presigned_hostile_keys(key: str) -> None:
    result = auth(presigned("GET", url_for(key)))
    assert result.presigned and result.content_sha256 == UNSIGNED_PAYLOAD


@pytest.mark.parametrize("query", SUBRESOURCE_QUERIES)
def test_queries(query: str) -> None:
    assert auth(header_signed("GET", url_for("k", query))).access_key == KEY
    assert auth(presigned("GET", url_for("k", query))).presigned


def test_meta_headers_content_type_and_md5() -> None:
    headers = {"x-amz-meta-note": "  a   b  ", "X-Amz-Meta-Other": "x", "Content-Type": "text/plain; charset=utf-8",
               "Content-MD5": "XUFAKrxLKna5cZ2REBfFkg=="}
    assert auth(header_signed("PUT", headers=headers, body=b"hello")).access_key == KEY


def test_presigned_headers_travel_in_the_query() -> None:
    """botocore moves x-amz-* headers, Content-Type and Content-MD5 of a presigned
    SigV2 URL into its query; they count as signed headers of the request."""
    req = presigned("PUT", headers={"x-amz-meta-a": "1", "Content-Type": "text/plain"})
    assert "x-amz-meta-a=1" in req.query and "content-type=text%2Fplain" in req.query
    result = auth(req)
    assert result.query_headers == {"x-amz-meta-a": "1", "content-type": "text/plain"}
    assert auth(with_headers(req, content_type="text/plain")).query_headers == {"x-amz-meta-a": "1"}
    assert error(with_headers(req, content_type="text/html")).code == "SignatureDoesNotMatch"
    tampered = AuthRequest("PUT", req.path, req.query.replace("x-amz-meta-a=1", "x-amz-meta-a=2"), req.headers)
    assert error(tampered).code == "SignatureDoesNotMatch"


def test_x_amz_date_instead_of_date() -> None:
    """x-amz-date sets the request time; S3's rule signs an empty date line,
    botocore (which always sets Date too) signs Date: both verify."""
    stamp = formatdate(usegmt=True)
    botocore_style = header_signed(headers={"x-amz-date": stamp})
    assert auth(botocore_style).access_key == KEY
    message = string_to_sign("GET", "", "", "", f"x-amz-date:{stamp}\n".encode(),
                             canonical_resource(b"/bucket/k", ""))
    s3_style = AuthRequest("GET", "/bucket/k", "", {"x-amz-date": stamp, "authorization": f"AWS {KEY}:{sign(SECRET, message)}"})
    assert auth(s3_style).access_key == KEY
    old = formatdate(time.time() - 3600, usegmt=True)
    assert error(with_headers(botocore_style, x_amz_date=old)).code == "RequestTimeTooSkewed"  # x-amz-date wins


def test_payload_hash_header_is_checked_not_trusted() -> None:
    digest = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert auth(header_signed("PUT", headers={"x-amz-content-sha256": digest}, body=b"hello")).content_sha256 == digest


def test_boto3_clients_sign_sigv2_that_verifies() -> None:
    """Requests as boto3 builds them with signature_version="s3", and boto3's default
    presigned URLs (SigV2 for s3 in us-east-1 unless s3v4 is configured)."""
    captured: list[AuthRequest] = []

    class Stop(Exception):
        pass

    def capture(request: object, **_: object) -> None:
        parts = urlsplit(request.url)  # type: ignore[attr-defined]
        headers = {k.lower(): v.decode("latin-1") if isinstance(v, bytes) else v
                   for k, v in request.headers.items()}  # type: ignore[attr-defined]
        headers.setdefault("host", parts.netloc)
        captured.append(AuthRequest(request.method, parts.path, parts.query, headers))  # type: ignore[attr-defined]
        raise Stop

    client = boto3.client("s3", endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id=KEY,
                          aws_secret_access_key=SECRET,
                          config=Config(signature_version="s3", s3={"addressing_style": "path"},
                                        retries={"max_attempts": 0}))
    client.meta.events.register("before-send.s3.*", capture)
    calls = [
        lambda: client.put_object(Bucket="bucket", Key="dir/ünï code +%", Body=b"x" * 100, Metadata={"k": "v"}),
        lambda: client.list_objects_v2(Bucket="bucket", Prefix="a b/+", Delimiter="/", StartAfter="é"),
        lambda: client.get_object(Bucket="bucket", Key="../x//y", Range="bytes=0-9", ResponseContentType="a/b"),
        lambda: client.create_multipart_upload(Bucket="bucket", Key="m p"),
        lambda: client.upload_part(Bucket="bucket", Key="m p", UploadId="u/1", PartNumber=2, Body=b"p"),
        lambda: client.delete_objects(Bucket="bucket", Delete={"Objects": [{"Key": "a"}]}),
    ]
    for call in calls:
        with pytest.raises(Stop):
            call()
    assert all(r.headers["authorization"].startswith("AWS ") for r in captured)
    default = boto3.client("s3", endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id=KEY,
                           aws_secret_access_key=SECRET)
    for params in ({"Bucket": "bucket", "Key": "p r+é"}, {"Bucket": "b", "Key": "k", "ResponseContentDisposition": "x; y"}):
        url = default.generate_presigned_url("get_object", Params=params)
        assert "AWSAccessKeyId=" in url and "Signature=" in url  # botocore's default: SigV2
        parts = urlsplit(url)
        captured.append(AuthRequest("GET", parts.path, parts.query, {"host": parts.netloc}))
    assert len(captured) == len(calls) + 2
    for req in captured:
        assert auth(req).access_key == KEY


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    key=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=60),
    value=st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
    meta=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
)
def test_property_any_key_query_and_header(key: str, value: str, meta: str) -> None:
    query = "prefix=" + quote(value, safe="-_.~") + "&response-content-type=" + quote(value, safe="")
    req = header_signed("PUT", url_for(key, query), headers={"x-amz-meta-m": meta}, body=b"b")
    assert auth(req).access_key == KEY
    assert auth(presigned("GET", url_for(key, query))).presigned


# -- refused --------------------------------------------------------------------


def test_tampered_requests() -> None:
    req = header_signed("PUT", url_for("k", "acl&prefix=1"), headers={"x-amz-meta-a": "1", "Content-Type": "a/b"},
                        body=b"x")
    cases = [
        with_headers(req, x_amz_meta_a="2"),
        with_headers(req, x_amz_meta_b="1"),
        with_headers(req, content_type="a/c"),
        with_headers(req, content_md5="XUFAKrxLKna5cZ2REBfFkg=="),
        AuthRequest(req.method, req.path + "x", req.query, req.headers),
        AuthRequest(req.method, req.path, "tagging&prefix=1", req.headers),
        AuthRequest(req.method, req.path, "prefix=1", req.headers),
        AuthRequest("POST", req.path, req.query, req.headers),
        AuthRequest(req.method, req.path, req.query, req.headers, host_bucket="other"),
        with_headers(req, authorization=req.headers["authorization"][:-6] + "AAAAA="),
        header_signed("PUT", url_for("k", "acl"), body=b"x", secret="other"),
    ]
    for case in cases:
        err = error(case)
        assert err.code == "SignatureDoesNotMatch", case
    err = error(cases[0])
    assert err.extra["AWSAccessKeyId"] == KEY
    assert err.extra["StringToSign"].endswith("x-amz-meta-a:2\n/bucket/k?acl")
    assert err.extra["StringToSignBytes"] == err.extra["StringToSign"].encode().hex(" ")
    assert err.extra["SignatureProvided"] == req.headers["authorization"].rpartition(":")[2]
    assert list(err.extra) == ["AWSAccessKeyId", "StringToSign", "SignatureProvided", "StringToSignBytes"]
    # a parameter that is not a sub-resource is not signed, in SigV2 as in S3
    assert auth(AuthRequest(req.method, req.path, "acl&prefix=2", req.headers)).access_key == KEY


def test_tampered_presigned() -> None:
    req = presigned("GET", url_for("k", "response-content-type=a%2Fb"))
    for query in (req.query.replace("a%2Fb", "a%2Fc"), req.query.replace("Expires=", "Expires=1"),
                  req.query.replace("Signature=", "Signature=A")):
        assert error(AuthRequest("GET", req.path, query, req.headers)).code in ("SignatureDoesNotMatch", "AccessDenied")
    assert error(AuthRequest("PUT", req.path, req.query, req.headers)).code == "SignatureDoesNotMatch"
    assert error(AuthRequest("GET", "/bucket/other", req.query, req.headers)).code == "SignatureDoesNotMatch"


def test_presigned_expired() -> None:
    req = presigned(expires=60)
    err = error(req, now=time.time() + 120)
    assert (err.code, err.message) == ("AccessDenied", "Request has expired")
    assert set(err.extra) == {"Expires", "ServerTime"} and err.extra["Expires"].endswith("Z")
    assert auth(req, now=time.time() + 30).presigned


def test_presigned_missing_or_bad_parameters() -> None:
    req = presigned()
    without = "&".join(p for p in req.query.split("&") if not p.startswith("Expires="))
    err = error(AuthRequest("GET", req.path, without, req.headers))
    assert err.code == "AccessDenied" and "requires the Signature, Expires and AWSAccessKeyId" in err.message
    bad = "&".join(p if not p.startswith("Expires=") else "Expires=soon" for p in req.query.split("&"))
    assert error(AuthRequest("GET", req.path, bad, req.headers)).code == "AccessDenied"


def test_unknown_access_key() -> None:
    req = header_signed()
    other = req.headers["authorization"].replace(f"AWS {KEY}:", "AWS NOSUCHKEY:")
    err = error(with_headers(req, authorization=other))
    assert err.code == "InvalidAccessKeyId" and err.extra["AWSAccessKeyId"] == "NOSUCHKEY"
    query = presigned().query.replace(f"AWSAccessKeyId={KEY}", "AWSAccessKeyId=NOSUCHKEY")
    assert error(AuthRequest("GET", "/bucket/k", query, {})).code == "InvalidAccessKeyId"


@pytest.mark.parametrize(
    ("date", "code"),
    [
        (None, "AccessDenied"),
        ("", "AccessDenied"),
        ("Bad Date", "AccessDenied"),
        ("Tue, 07 Jul 1950 21:53:04 GMT", "AccessDenied"),
        ("Tue, 07 Jul 2010 21:53:04 GMT", "RequestTimeTooSkewed"),
        ("Tue, 07 Jul 9999 21:53:04 GMT", "RequestTimeTooSkewed"),
    ],
)
def test_request_time(date: str | None, code: str) -> None:
    """As ceph's s3-tests find S3 answering (test_headers.py, *_aws2)."""
    req = with_headers(header_signed(), date=None)
    if date is not None:
        req = with_headers(req, x_amz_date=date)
    err = error(req)
    assert err.code == code
    if code == "RequestTimeTooSkewed":
        assert err.extra["RequestTime"] == date and err.extra["MaxAllowedSkewMilliseconds"] == "900000"


@pytest.mark.parametrize("value", ["AWS HAHAHA", f"AWS {KEY}:", "AWS :c2ln", f"AWS {KEY} :c2ln"])
def test_malformed_authorization_header(value: str) -> None:
    err = error(with_headers(header_signed(), authorization=value))
    assert err.code == "InvalidArgument" and err.extra["ArgumentName"] == "Authorization"


def test_aws_chunked_is_refused() -> None:
    req = header_signed("PUT", headers={"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "5"},
                        body=b"0\r\n\r\n")
    assert error(req).code == "InvalidArgument"
    streaming = header_signed("PUT", headers={"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"})
    assert error(streaming).code == "InvalidArgument"


def test_only_one_mechanism() -> None:
    req = presigned()
    both = with_headers(req, authorization=header_signed().headers["authorization"], date=formatdate(usegmt=True))
    assert error(both).code == "InvalidArgument"
    v4_query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&" + req.query
    assert error(AuthRequest("GET", req.path, v4_query, {})).code == "InvalidArgument"


def test_wrong_secret_never_leaks() -> None:
    err = error(header_signed(secret="s3cr3t/with+chars=x"))
    assert err.code == "SignatureDoesNotMatch"
