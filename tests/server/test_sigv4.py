"""server.auth.sigv4 against botocore's own signers as the oracle, AWS's published
examples, and tampered requests."""

from __future__ import annotations

import calendar
import time
from collections.abc import Mapping
from email.utils import mktime_tz, parsedate_tz
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.auth.sigv4 import AuthRequest, AuthResult, authenticate
from server.auth.sigv4_canonical import signing_key
from server.s3.errors import S3Error

KEY, SECRET, REGION = "AKFRAGSTORE", "s3cr3t/with+chars=", "us-east-1"
ENDPOINT = "http://localhost:9000"
HOSTILE_KEYS = [
    "plain.txt",
    "with space",
    "plus+sign",
    "percent%41literal",
    "unicode-é-日本-🎉",
    "../../etc/passwd",
    "a//double//slash/",
    "/leading",
    "trailing/",
    "tilde~star*paren()!$&'=,;:@",
    "q?hash#",
    "x" * 1024,
    "k/" + "é" * 300,
]


def secrets(key: str) -> str | None:
    return SECRET if key == KEY else None


def url_for(key: str, query: str = "") -> str:
    return f"{ENDPOINT}/bucket/{quote(key, safe='/~')}" + (f"?{query}" if query else "")


def to_auth(request: AWSRequest) -> AuthRequest:
    """What the server receives for a botocore request: raw path, raw query, lower-case headers."""
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    headers.setdefault("host", parts.netloc)
    return AuthRequest(prepared.method, parts.path, parts.query, headers)


def header_signed(
    method: str = "GET",
    url: str = url_for("k"),
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    *,
    secret: str = SECRET,
    region: str = REGION,
) -> AuthRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    S3SigV4Auth(Credentials(KEY, secret), "s3", region).add_auth(request)
    return to_auth(request)


def presigned(
    method: str = "GET", url: str = url_for("k"), expires: int = 3600, headers: Mapping[str, str] | None = None
) -> AuthRequest:
    request = AWSRequest(method=method, url=url, headers=dict(headers or {}))
    S3SigV4QueryAuth(Credentials(KEY, SECRET), "s3", REGION, expires=expires).add_auth(request)
    return to_auth(request)


def auth(req: AuthRequest, **kwargs: float) -> AuthResult:
    return authenticate(req, secrets, region=REGION, **kwargs)


def error(req: AuthRequest, **kwargs: float) -> S3Error:
    with pytest.raises(S3Error) as caught:
        auth(req, **kwargs)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value.extra)
    return caught.value


def flip_last_hex(text: str) -> str:
    """Change the last hex digit, always to a different one."""
    return text[:-1] + ("1" if text[-1] == "0" else "0")


def with_headers(req: AuthRequest, **changes: str | None) -> AuthRequest:
    headers = dict(req.headers)
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return AuthRequest(req.method, req.path, req.query, headers)


# -- accepted -----------------------------------------------------------------


@pytest.mark.parametrize("key", HOSTILE_KEYS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD"])
def test_header_auth_hostile_keys(key: str, method: str) -> None:
    body = b"data" if method == "PUT" else b""
    result = auth(header_signed(method, url_for(key), body=body))
    assert result.access_key == KEY and not result.presigned
    assert result.context.scope == f"{time.strftime('%Y%m%d', time.gmtime())}/{REGION}/s3/aws4_request"


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_presigned_hostile_keys(key: str) -> None:
    result = auth(presigned("GET", url_for(key)))
    assert result.presigned and result.content_sha256 == "UNSIGNED-PAYLOAD"


@pytest.mark.parametrize(
    "query",
    [
        "uploads",
        "uploadId=abc%2Fdef&partNumber=3",
        "list-type=2&prefix=a%20b%2Bc&delimiter=%2F&continuation-token=x%3D%3D",
        "prefix=%E6%97%A5%E6%9C%AC&max-keys=10",
        "b=2&a=1&a=0",
        "tagging=&versionId=null",
    ],
)
def test_queries(query: str) -> None:
    assert auth(header_signed("GET", url_for("k", query))).access_key == KEY
    assert auth(presigned("GET", url_for("k", query))).presigned


def test_header_whitespace_is_collapsed() -> None:
    req = header_signed("PUT", headers={"x-amz-meta-note": "  a   b \t c  ", "Content-Type": "text/plain"})
    assert auth(req).content_sha256 != "UNSIGNED-PAYLOAD"


def test_payload_hash_is_reported() -> None:
    req = header_signed("PUT", body=b"hello")
    assert auth(req).content_sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"


def test_date_header_instead_of_x_amz_date() -> None:
    req = header_signed(headers={"Date": "Mon, 01 Jan 2024 00:00:00 GMT"})
    assert "x-amz-date" not in req.headers and "date" in req.headers
    expected = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(mktime_tz(parsedate_tz(req.headers["date"]))))  # type: ignore[arg-type]
    assert auth(req).context.amz_date == expected


def test_unencoded_utf8_path_verifies() -> None:
    """A client may send a path's UTF-8 bytes raw; ASGI hands them over decoded as Latin-1."""
    req = header_signed(url=url_for("日本 語"))
    raw = "/bucket/" + "日本 語".replace(" ", "%20").encode().decode("latin-1")
    assert auth(AuthRequest(req.method, raw, req.query, req.headers)).access_key == KEY


def test_query_plus_as_space() -> None:
    req = header_signed(url=url_for("k", "prefix=a%20b"))
    assert auth(AuthRequest(req.method, req.path, "prefix=a+b", req.headers)).access_key == KEY


def test_presigned_put_with_signed_headers() -> None:
    req = presigned("PUT", headers={"x-amz-meta-a": "1", "Content-Type": "text/plain"})
    assert "x-amz-meta-a" in req.query.lower().replace("%3b", ";")
    assert auth(req).presigned


def test_boto3_client_requests_verify() -> None:
    """Requests exactly as the boto3 client builds them (captured before sending)."""
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

    client = boto3.client(
        "s3", endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 0}),
    )
    client.meta.events.register("before-send.s3.*", capture)
    calls = [
        lambda: client.put_object(Bucket="bucket", Key="dir/ünï code +%", Body=b"x" * 100),
        lambda: client.list_objects_v2(Bucket="bucket", Prefix="a b/+", Delimiter="/", StartAfter="é"),
        lambda: client.get_object(Bucket="bucket", Key="../x//y", Range="bytes=0-9"),
        lambda: client.create_multipart_upload(Bucket="bucket", Key="m p", Metadata={"k": "v  w"}),
        lambda: client.delete_objects(Bucket="bucket", Delete={"Objects": [{"Key": "a"}]}),
    ]
    for call in calls:
        with pytest.raises(Stop):
            call()
    url = client.generate_presigned_url("get_object", Params={"Bucket": "bucket", "Key": "p r+é"})
    parts = urlsplit(url)
    captured.append(AuthRequest("GET", parts.path, parts.query, {"host": parts.netloc}))
    assert len(captured) == len(calls) + 1
    for req in captured:
        assert auth(req).access_key == KEY


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    key=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=60),
    value=st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
    meta=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
)
def test_property_any_key_query_and_header(key: str, value: str, meta: str) -> None:
    query = "prefix=" + quote(value, safe="-_.~")
    req = header_signed("PUT", url_for(key, query), headers={"x-amz-meta-m": meta}, body=b"b")
    assert auth(req).access_key == KEY
    assert auth(presigned("GET", url_for(key, query))).presigned


# -- AWS's published examples (Signature Version 4, S3 API reference) ----------

AWS_KEY, AWS_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_NOW = float(calendar.timegm((2013, 5, 24, 0, 0, 0)))


def aws_auth(req: AuthRequest) -> AuthResult:
    return authenticate(req, {AWS_KEY: AWS_SECRET}.get, region="us-east-1", now=AWS_NOW)


def test_aws_example_get_object() -> None:
    headers = {
        "host": "examplebucket.s3.amazonaws.com",
        "range": "bytes=0-9",
        "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "x-amz-date": "20130524T000000Z",
        "authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    }
    assert aws_auth(AuthRequest("GET", "/test.txt", "", headers)).access_key == AWS_KEY
    with pytest.raises(S3Error) as err:
        aws_auth(AuthRequest("GET", "/test.txt", "", {**headers, "range": "bytes=0-10"}))
    assert err.value.code == "SignatureDoesNotMatch"


def test_aws_example_presigned() -> None:
    query = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1"
        "%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )
    req = AuthRequest("GET", "/test.txt", query, {"host": "examplebucket.s3.amazonaws.com"})
    assert aws_auth(req).presigned


def test_aws_example_streaming_seed() -> None:
    headers = {
        "host": "s3.amazonaws.com",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "content-length": "66824",
        "authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
        "x-amz-decoded-content-length;x-amz-storage-class,"
        "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    }
    result = aws_auth(AuthRequest("PUT", "/examplebucket/chunkObject.txt", "", headers))
    assert result.content_sha256 == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    assert result.context.seed_signature == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    assert result.context.amz_date == "20130524T000000Z"
    assert result.context.scope == "20130524/us-east-1/s3/aws4_request"


# -- refused ------------------------------------------------------------------


def test_tampered_requests() -> None:
    req = header_signed("PUT", url_for("k", "a=1"), headers={"x-amz-meta-a": "1"}, body=b"x")
    cases = [
        with_headers(req, x_amz_meta_a="2"),
        AuthRequest(req.method, req.path + "x", req.query, req.headers),
        AuthRequest(req.method, req.path, "a=2", req.headers),
        AuthRequest(req.method, req.path, "", req.headers),
        AuthRequest("POST", req.path, req.query, req.headers),
        with_headers(req, authorization=flip_last_hex(req.headers["authorization"])),
        with_headers(req, x_amz_content_sha256="UNSIGNED-PAYLOAD"),
        with_headers(req, host="elsewhere:9000"),
        header_signed("PUT", url_for("k", "a=1"), headers={"x-amz-meta-a": "1"}, body=b"x", secret="other"),
    ]
    for case in cases:
        err = error(case)
        assert err.code == "SignatureDoesNotMatch", case
    assert error(cases[0]).extra["AWSAccessKeyId"] == KEY
    assert "CanonicalRequest" in error(cases[0]).extra


def test_tampered_date_same_day() -> None:
    req = header_signed()
    stamp = calendar.timegm(time.strptime(req.headers["x-amz-date"], "%Y%m%dT%H%M%SZ"))
    moved = stamp + 1 if time.gmtime(stamp + 1).tm_mday == time.gmtime(stamp).tm_mday else stamp - 1
    changed = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(moved))
    assert error(with_headers(req, x_amz_date=changed)).code == "SignatureDoesNotMatch"


def test_tampered_presigned() -> None:
    req = presigned("GET", url_for("k", "a=1"))
    assert error(AuthRequest(req.method, req.path, req.query.replace("a=1", "a=2"), req.headers)).code == "SignatureDoesNotMatch"
    assert error(AuthRequest("PUT", req.path, req.query, req.headers)).code == "SignatureDoesNotMatch"
    assert error(AuthRequest(req.method, "/bucket/other", req.query, req.headers)).code == "SignatureDoesNotMatch"
    longer = req.query.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200")
    assert error(AuthRequest(req.method, req.path, longer, req.headers)).code == "SignatureDoesNotMatch"


def test_anonymous_is_access_denied() -> None:
    assert error(AuthRequest("GET", "/bucket/k", "", {"host": "h"})).code == "AccessDenied"
    assert error(AuthRequest("GET", "/bucket/k", "list-type=2", {"host": "h"})).code == "AccessDenied"


def test_sigv4a_is_unsupported() -> None:
    """SigV4a (and any scheme but SigV2, server/auth/sigv2_auth.py) is refused as S3 refuses it."""
    sigv4a = header_signed().headers["authorization"].replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")
    err = error(with_headers(header_signed(), authorization=sigv4a))
    assert err.code == "InvalidRequest" and "AWS4-HMAC-SHA256" in err.message


def test_header_and_query_auth_together() -> None:
    req = presigned()
    both = with_headers(req, authorization=header_signed().headers["authorization"])
    assert error(both).code == "InvalidArgument"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda a: a.replace(", Signature=", ", Sig="),
        lambda a: a.replace("SignedHeaders=", "Signed="),
        lambda a: a + ", Extra=1",
        lambda a: a.replace("/s3/aws4_request", "/aws4_request"),
        lambda a: a.replace("Credential=", "Credential=/"),
        lambda a: a.replace("SignedHeaders=", "SignedHeaders=;"),
    ],
)
def test_malformed_authorization_header(mangle: object) -> None:
    req = header_signed()
    bad = with_headers(req, authorization=mangle(req.headers["authorization"]))  # type: ignore[operator]
    assert error(bad).code == "AuthorizationHeaderMalformed"


def test_wrong_region() -> None:
    err = error(header_signed(region="eu-west-1"))
    assert err.code == "AuthorizationHeaderMalformed"
    assert "the region 'eu-west-1' is wrong; expecting 'us-east-1'" in err.message
    assert err.extra["Region"] == REGION
    req = AWSRequest(method="GET", url=url_for("k"))
    S3SigV4QueryAuth(Credentials(KEY, SECRET), "s3", "eu-west-1").add_auth(req)
    err = error(to_auth(req))
    assert err.code == "AuthorizationQueryParametersError"
    assert "the region 'eu-west-1' is wrong; expecting 'us-east-1'" in err.message


def test_wrong_service_and_terminal() -> None:
    req = AWSRequest(method="GET", url=url_for("k"), headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    SigV4Auth(Credentials(KEY, SECRET), "ec2", REGION).add_auth(req)
    err = error(to_auth(req))
    assert err.code == "AuthorizationHeaderMalformed" and 'incorrect service "ec2"' in err.message
    good = header_signed()
    bad = good.headers["authorization"].replace("/aws4_request", "/aws5_request")
    assert "incorrect terminal" in error(with_headers(good, authorization=bad)).message


def test_credential_date_must_match_request_date() -> None:
    req = header_signed()
    day = req.headers["x-amz-date"][:8]
    bad = req.headers["authorization"].replace(f"/{day}/", "/20000101/")
    err = error(with_headers(req, authorization=bad))
    assert err.code == "AuthorizationHeaderMalformed" and "Invalid credential date" in err.message


def test_unknown_access_key() -> None:
    req = header_signed()
    err = error(with_headers(req, authorization=req.headers["authorization"].replace(KEY, "AKNOBODY")))
    assert err.code == "InvalidAccessKeyId" and err.extra["AWSAccessKeyId"] == "AKNOBODY"
    pre = presigned()
    assert error(AuthRequest("GET", pre.path, pre.query.replace(KEY, "AKNOBODY"), pre.headers)).code == "InvalidAccessKeyId"


def test_missing_or_garbage_date() -> None:
    req = header_signed()
    for value in (None, "yesterday", "20240230T000000Z", "2024-01-01T00:00:00Z"):
        err = error(with_headers(req, x_amz_date=value))
        assert err.code == "AccessDenied" and "Date or x-amz-date" in err.message
    assert error(with_headers(req, x_amz_date=None, date="not a date")).code == "AccessDenied"


def test_clock_skew() -> None:
    req = header_signed()
    now = time.time()
    assert auth(req, now=now + 800).access_key == KEY
    assert auth(req, now=now - 800).access_key == KEY
    for skewed in (now + 1000, now - 1000):
        err = error(req, now=skewed)
        assert err.code == "RequestTimeTooSkewed"
        assert err.extra["MaxAllowedSkewMilliseconds"] == "900000"
        assert err.extra["RequestTime"] == req.headers["x-amz-date"]
    assert auth(req, now=now + 1000, max_skew_seconds=2000).access_key == KEY


def test_presigned_expiry() -> None:
    req = presigned(expires=60)
    now = time.time()
    assert auth(req, now=now + 30).presigned
    err = error(req, now=now + 120)
    assert err.code == "AccessDenied" and err.message == "Request has expired"
    assert err.extra["X-Amz-Expires"] == "60"
    assert auth(presigned(expires=604800), now=now + 604000).presigned
    assert error(presigned(), now=now - 3600).code == "AccessDenied"  # not yet valid


@pytest.mark.parametrize(
    "change, message",
    [
        (("X-Amz-Date=", "X-Amz-Datum="), "requires the X-Amz-Algorithm"),
        (("X-Amz-Expires=3600", "X-Amz-Expires=604801"), "less than a week"),
        (("X-Amz-Expires=3600", "X-Amz-Expires=-1"), "non-negative"),
        (("X-Amz-Expires=3600", "X-Amz-Expires=soon"), "should be a number"),
        (("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1"), "only supports"),
        (("X-Amz-Date=2", "X-Amz-Date=x2"), "ISO8601"),
        (("X-Amz-Credential=", "X-Amz-Credential=x%2F"), "Credential is mal-formed"),
        (("X-Amz-Signature=", "X-Amz-Signature=1&X-Amz-Signature="), "requires the X-Amz-Algorithm"),
    ],
)
def test_malformed_presigned(change: tuple[str, str], message: str) -> None:
    req = presigned()
    assert change[0] in req.query
    err = error(AuthRequest(req.method, req.path, req.query.replace(*change), req.headers))
    assert err.code == "AuthorizationQueryParametersError"
    assert message in err.message


def signed_with_payload_hash(value: str) -> AuthRequest:
    """Signed over an x-amz-content-sha256 chosen here (S3SigV4Auth would overwrite it)."""
    request = AWSRequest(method="PUT", url=url_for("k"), headers={"X-Amz-Content-SHA256": value})
    SigV4Auth(Credentials(KEY, SECRET), "s3", REGION).add_auth(request)
    return to_auth(request)


def test_content_sha256_header_rules() -> None:
    req = header_signed()
    assert error(with_headers(req, x_amz_content_sha256=None)).code == "InvalidRequest"
    err = error(signed_with_payload_hash("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"))
    assert err.code == "InvalidArgument" and err.extra["ArgumentName"] == "x-amz-content-sha256"
    assert error(signed_with_payload_hash("abc123")).code == "InvalidArgument"
    for mode in ("UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                 "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "ab" * 32):
        assert auth(signed_with_payload_hash(mode)).content_sha256 == mode
    assert auth(signed_with_payload_hash("AB" * 32)).content_sha256 == "ab" * 32


def test_unsigned_amz_header_is_refused() -> None:
    req = with_headers(header_signed(), x_amz_meta_sneaky="1")
    err = error(req)
    assert err.code == "AccessDenied" and err.extra["HeadersNotSigned"] == "x-amz-meta-sneaky"
    assert auth(with_headers(header_signed(), user_agent="anything")).access_key == KEY


def test_presigned_ignores_unsigned_content_sha256() -> None:
    req = with_headers(presigned("PUT"), x_amz_content_sha256="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    assert auth(req).content_sha256 == "UNSIGNED-PAYLOAD"


def test_context_carries_no_secret_in_repr() -> None:
    result = auth(header_signed())
    assert "signing_key" not in repr(result.context) and SECRET not in repr(result)


def test_signing_key_is_cached() -> None:
    signing_key.cache_clear()
    req = header_signed()
    auth(req)
    auth(req)
    info = signing_key.cache_info()
    assert info.misses == 1 and info.hits == 1
