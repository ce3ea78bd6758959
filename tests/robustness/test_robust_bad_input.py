"""Hostile and broken requests, each answered with the S3 error AWS sends, the
server staying up and nothing stored: XML bombs and oversized lists, bad
signatures of every kind, broken bodies and framing, hostile keys and bucket
names, garbage ranges and dates, broken CORS configurations and preflights,
malformed and oversized bucket policies, broken ACL XML and headers, unknown
grantees, bad ownership controls and public access blocks.

Every case runs against one server; after each, the bucket must still hold
just its one object (intact), the open multipart upload no part, no CORS
configuration, no policy, its private ACL, ownership controls and public
access block, and the server must answer its health check. At the end its
log must hold no error.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.live_server import LiveServer, start_server
from tests.robustness.fuzzing import logged_errors
from tests.robustness.rawhttp import (
    Answer,
    aws_chunked,
    exchange,
    head_bytes,
    presigned_v2_target,
    signed,
    signed_v2,
)
from tests.server.postform import form_body, sigv2_fields

BUCKET = "hostile"
KEPT = b"kept bytes " * 100
EMPTY_SHA = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"


@dataclass
class Target:
    server: LiveServer
    upload_id: str
    s3: Any  # a boto3 client (made once: making one takes a while)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with start_server(tmp_path_factory.mktemp("hostile") / "data") as server:
        s3 = server.client()
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="kept", Body=KEPT)
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key="upload")["UploadId"]
        yield Target(server, upload, s3)
        server.stop()
        errors = logged_errors(server.log())
        assert errors == [], errors[:5]


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def send(t: Target, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None, *,
         payload: str | None = None, raw_path: bytes | None = None, **sign: Any) -> Answer | None:
    """A signed request (``sign`` goes to :func:`signed`) sent as raw bytes."""
    headers = {"Content-Length": str(len(body)), **(headers or {})}
    headers = signed(t.server, method, path, headers, payload or hashlib.sha256(body).hexdigest(), **sign)
    return exchange(t.server, head_bytes(method, raw_path or path.encode(), headers, t.server.port) + body,
                    head=method == "HEAD")


def unsigned(t: Target, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Answer | None:
    headers = {"Content-Length": str(len(body)), **headers}
    return exchange(t.server, head_bytes(method, path.encode(), headers, t.server.port) + body)


def complete(t: Target, xml: bytes) -> Answer | None:
    return send(t, "POST", f"/{BUCKET}/upload?uploadId={t.upload_id}", xml)


def delete_many(t: Target, xml: bytes, md5: str | None = None) -> Answer | None:
    return send(t, "POST", f"/{BUCKET}?delete", xml, {"Content-MD5": md5 or md5_b64(xml)})


def put_cors(t: Target, xml: bytes, md5: str | None = None) -> Answer | None:
    return send(t, "PUT", f"/{BUCKET}?cors", xml, {"Content-MD5": md5 or md5_b64(xml)})


def cors_xml(*rules: bytes) -> bytes:
    return b"<CORSConfiguration>" + b"".join(b"<CORSRule>%s</CORSRule>" % r for r in rules) + b"</CORSConfiguration>"


GET_ANY = b"<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"


def preflight(t: Target, path: str, headers: dict[str, str], body: bytes = b"") -> Answer | None:
    return unsigned(t, "OPTIONS", path, headers, body)


def parts_xml(numbers: range | list[int]) -> bytes:
    parts = b"".join(b"<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>" % (n, b"0" * 32) for n in numbers)
    return b"<CompleteMultipartUpload>" + parts + b"</CompleteMultipartUpload>"


LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "lollollollollol">'
          + b"".join(b'<!ENTITY %c "&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;">' % ((c,) + (c - 1,) * 10)
                     for c in range(ord("b"), ord("k")))
          + b"]>")
XXE = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'


def presigned(t: Target, path: str, *, expires: int, age_s: float, method: str = "GET") -> str:
    """A presigned URL's path and query, signed ``age_s`` seconds ago."""
    class Aged(S3SigV4QueryAuth):
        def _modify_request_before_signing(self, request: AWSRequest) -> None:
            request.context["timestamp"] = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - age_s))
            super()._modify_request_before_signing(request)

    request = AWSRequest(method=method, url=t.server.url + path)
    Aged(Credentials(t.server.access_key, t.server.secret_key), "s3", "us-east-1", expires=expires).add_auth(request)
    return str(request.url).split(str(t.server.port), 1)[1]


def chunked_put(t: Target, data: bytes, mangle: Callable[[bytes], bytes] = lambda b: b, *,
                decoded: int | None = None, cut: bool = False) -> Answer | None:
    """A signed aws-chunked PUT whose framing ``mangle`` breaks (Content-Length
    signed to match); ``cut``: half of it sent, then the connection half-closed."""
    path = f"/{BUCKET}/chunked"
    shape = {"X-Amz-Date": "20240101T000000Z", "Authorization": "Signature=" + "0" * 64}
    length = len(aws_chunked(data, shape, "x")) if cut else len(mangle(aws_chunked(data, shape, "x")))
    headers = {"Content-Encoding": "aws-chunked", "Content-Length": str(length),
               "x-amz-decoded-content-length": str(len(data) if decoded is None else decoded)}
    headers = signed(t.server, "PUT", path, headers, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    body = aws_chunked(data, headers, t.server.secret_key)
    body = body[: len(body) // 2] if cut else mangle(body)
    return exchange(t.server, head_bytes("PUT", path.encode(), headers, t.server.port) + body, half_close=cut)


def wrong_chunk_signature(body: bytes) -> bytes:
    """The first chunk's signature with its first digit changed."""
    at = body.index(b"chunk-signature=") + len(b"chunk-signature=")
    return body[:at] + (b"1" if body[at:at + 1] == b"0" else b"0") + body[at + 1:]


def trailer_put(t: Target, data: bytes, crc32: str) -> Answer | None:
    body = b"%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n" % (len(data), data, crc32.encode())
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
               "x-amz-trailer": "x-amz-checksum-crc32", "Content-Length": str(len(body))}
    return send(t, "PUT", f"/{BUCKET}/trailer", body, headers, payload="STREAMING-UNSIGNED-PAYLOAD-TRAILER")


def send_v2(t: Target, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
            *, mangle: Callable[[str], str] = lambda a: a, sent_path: str | None = None, **sign: Any) -> Answer | None:
    """A SigV2-signed request (``mangle`` rewrites its Authorization header; ``sent_path``
    sends it somewhere other than where it was signed for)."""
    headers = signed_v2(t.server, method, path, {"Content-Length": str(len(body)), **(headers or {})}, **sign)
    headers["Authorization"] = mangle(headers["Authorization"])
    return exchange(t.server, head_bytes(method, (sent_path or path).encode(), headers, t.server.port) + body)


def v2_forged(authorization: str) -> str:
    """The signature with its first character changed."""
    scheme_key, _, signature = authorization.rpartition(":")
    return f"{scheme_key}:{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


def v2_presigned(t: Target, method: str, path: str, body: bytes = b"", *, expires: int = 600,
                 mangle: Callable[[str], str] = lambda q: q) -> Answer | None:
    target = mangle(presigned_v2_target(t.server, method, path, expires=expires))
    return unsigned(t, method, target, {}, body)


def form_post(t: Target, conditions: list[object], *, secret: str | None = None, file: bytes = b"posted",
              expires_in: float = 300, key: str = "posted", mangle: Callable[[bytes], bytes] = lambda b: b,
              extra: list[tuple[str, str]] | None = None) -> Answer | None:
    """A POST Object form signed with SigV2 (``mangle`` rewrites the whole body)."""
    fields = [("key", key), *(extra or []), *sigv2_fields(t.server.access_key, secret or t.server.secret_key,
                                                          [{"bucket": BUCKET}, *conditions], expires_in=expires_in)]
    body = form_body(fields, file)
    data = mangle(b"".join(body.chunks()))
    headers = {"Content-Type": body.content_type, "Content-Length": str(len(data))}
    return exchange(t.server, head_bytes("POST", f"/{BUCKET}".encode(), headers, t.server.port) + data)


def tampered(t: Target) -> Answer | None:
    headers = signed(t.server, "GET", f"/{BUCKET}/kept", {}, EMPTY_SHA)
    signature = headers["Authorization"][-64:]
    headers["Authorization"] = headers["Authorization"][:-64] + signature[::-1]
    return unsigned(t, "GET", f"/{BUCKET}/kept", headers)


def signed_for_other_path(t: Target) -> Answer | None:
    headers = signed(t.server, "PUT", f"/{BUCKET}/innocent", {"Content-Length": "3"}, hashlib.sha256(b"abc").hexdigest())
    return exchange(t.server, head_bytes("PUT", f"/{BUCKET}/evil".encode(), headers, t.server.port) + b"abc")


def put_policy(t: Target, document: object) -> Answer | None:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return send(t, "PUT", f"/{BUCKET}?policy", body)


def statement(**fields: object) -> dict:
    base: dict = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
                  "Resource": f"arn:aws:s3:::{BUCKET}/*"}
    base.update(fields)
    return {"Version": "2012-10-17", "Statement": [base]}


def put_acl(t: Target, body: bytes, path: str = f"/{BUCKET}?acl", headers: dict[str, str] | None = None) -> Answer | None:
    return send(t, "PUT", path, body, headers)


def acl_xml(grantee: bytes, permission: bytes = b"READ") -> bytes:
    return (b'<AccessControlPolicy><AccessControlList><Grant>'
            b'<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ' + grantee + b"</Grantee>"
            b"<Permission>" + permission + b"</Permission></Grant></AccessControlList></AccessControlPolicy>")


# name -> (request, accepted (status, code) answers; None: the connection closed unanswered)
Case = tuple[Callable[[Target], Answer | None], set[tuple[int, str | None] | None]]
CASES: dict[str, Case] = {
    # XML bodies
    "complete-malformed": (lambda t: complete(t, b"<CompleteMultipartUpload><Part>"), {(400, "MalformedXML")}),
    "complete-not-xml": (lambda t: complete(t, b"\xff\xfe garbage"), {(400, "MalformedXML")}),
    "complete-entity-expansion": (lambda t: complete(t, LAUGHS + b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&j;</ETag></Part></CompleteMultipartUpload>"), {(400, "MalformedXML")}),
    "complete-external-entity": (lambda t: complete(t, XXE + b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&e;</ETag></Part></CompleteMultipartUpload>"), {(400, "MalformedXML")}),
    "complete-10001-parts": (lambda t: complete(t, parts_xml(range(1, 10002))), {(400, "InvalidPart")}),
    "complete-part-0": (lambda t: complete(t, parts_xml([0])), {(400, "InvalidArgument")}),
    "complete-part-negative": (lambda t: complete(t, parts_xml([-3, 1])), {(400, "InvalidArgument")}),
    "complete-part-huge": (lambda t: complete(t, b"<CompleteMultipartUpload><Part><PartNumber>99999999999999999999999</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>"), {(400, "InvalidPart")}),
    "complete-no-parts": (lambda t: complete(t, b"<CompleteMultipartUpload></CompleteMultipartUpload>"), {(400, "MalformedXML")}),
    "complete-oversized": (lambda t: complete(t, b"<CompleteMultipartUpload>" + b" " * (5 << 20) + b"</CompleteMultipartUpload>"), {(400, "MaxMessageLengthExceeded")}),
    "delete-1001-keys": (lambda t: delete_many(t, b"<Delete>" + b"".join(b"<Object><Key>kept%d</Key></Object>" % i for i in range(1001)) + b"</Delete>"), {(400, "MalformedXML")}),
    "delete-malformed": (lambda t: delete_many(t, b"<Delete><Object><Key>kept</Key></Object>"), {(400, "MalformedXML")}),
    "delete-entity-expansion": (lambda t: delete_many(t, LAUGHS + b"<Delete><Object><Key>&j;</Key></Object></Delete>"), {(400, "MalformedXML")}),
    "delete-external-entity": (lambda t: delete_many(t, XXE + b"<Delete><Object><Key>&e;</Key></Object></Delete>"), {(400, "MalformedXML")}),
    "delete-wrong-md5": (lambda t: delete_many(t, b"<Delete><Object><Key>kept</Key></Object></Delete>", md5_b64(b"other")), {(400, "BadDigest")}),
    "delete-no-md5": (lambda t: send(t, "POST", f"/{BUCKET}?delete", b"<Delete><Object><Key>kept</Key></Object></Delete>"), {(400, "InvalidRequest")}),
    "delete-oversized": (lambda t: delete_many(t, b"<Delete>" + b" " * (5 << 20) + b"</Delete>"), {(400, "MaxMessageLengthExceeded")}),
    # CORS configurations (the bucket has none, and keeps none)
    "cors-malformed": (lambda t: put_cors(t, b"<CORSConfiguration><CORSRule>"), {(400, "MalformedXML")}),
    "cors-not-xml": (lambda t: put_cors(t, b"\xff\xfe garbage"), {(400, "MalformedXML")}),
    "cors-empty-body": (lambda t: put_cors(t, b""), {(400, "MalformedXML")}),
    "cors-entity-expansion": (lambda t: put_cors(t, LAUGHS + cors_xml(b"<AllowedOrigin>&j;</AllowedOrigin><AllowedMethod>GET</AllowedMethod>")), {(400, "MalformedXML")}),
    "cors-external-entity": (lambda t: put_cors(t, XXE + cors_xml(b"<AllowedOrigin>&e;</AllowedOrigin><AllowedMethod>GET</AllowedMethod>")), {(400, "MalformedXML")}),
    "cors-no-rules": (lambda t: put_cors(t, cors_xml()), {(400, "MalformedXML")}),
    "cors-rule-without-origin": (lambda t: put_cors(t, cors_xml(b"<AllowedMethod>GET</AllowedMethod>")), {(400, "MalformedXML")}),
    "cors-nested-elements": (lambda t: put_cors(t, cors_xml(b"<AllowedOrigin><a>*</a></AllowedOrigin><AllowedMethod>GET</AllowedMethod>")), {(400, "MalformedXML")}),
    "cors-max-age-huge": (lambda t: put_cors(t, cors_xml(GET_ANY + b"<MaxAgeSeconds>" + b"9" * 40 + b"</MaxAgeSeconds>")), {(400, "MalformedXML")}),
    "cors-101-rules": (lambda t: put_cors(t, cors_xml(*[GET_ANY] * 101)), {(400, "InvalidRequest")}),
    "cors-unsupported-method": (lambda t: put_cors(t, cors_xml(b"<AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>")), {(400, "InvalidRequest")}),
    "cors-two-wildcards": (lambda t: put_cors(t, cors_xml(b"<AllowedOrigin>https://*.*.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod>")), {(400, "InvalidRequest")}),
    "cors-expose-header-injection": (lambda t: put_cors(t, cors_xml(GET_ANY + b"<ExposeHeader>ETag&#13;&#10;Set-Cookie: a=b</ExposeHeader>")), {(400, "InvalidRequest")}),
    "cors-id-too-long": (lambda t: put_cors(t, cors_xml(GET_ANY + b"<ID>" + b"i" * 256 + b"</ID>")), {(400, "InvalidArgument")}),
    "cors-over-64kb": (lambda t: put_cors(t, cors_xml(GET_ANY + b"<ID>x</ID>" + b" " * (64 << 10))), {(400, "MaxMessageLengthExceeded")}),
    "cors-oversized": (lambda t: put_cors(t, cors_xml(GET_ANY) + b" " * (5 << 20)), {(400, "MaxMessageLengthExceeded")}),
    "cors-no-md5": (lambda t: send(t, "PUT", f"/{BUCKET}?cors", cors_xml(GET_ANY)), {(400, "InvalidRequest")}),
    "cors-wrong-md5": (lambda t: put_cors(t, cors_xml(GET_ANY), md5_b64(b"other")), {(400, "BadDigest")}),
    "cors-anonymous-put": (lambda t: unsigned(t, "PUT", f"/{BUCKET}?cors", {"Content-MD5": md5_b64(cors_xml(GET_ANY))}, cors_xml(GET_ANY)), {(403, "AccessDenied")}),
    "cors-anonymous-get": (lambda t: unsigned(t, "GET", f"/{BUCKET}?cors", {}), {(403, "AccessDenied")}),
    "cors-anonymous-delete": (lambda t: unsigned(t, "DELETE", f"/{BUCKET}?cors", {}), {(403, "AccessDenied")}),
    "cors-post": (lambda t: send(t, "POST", f"/{BUCKET}?cors", cors_xml(GET_ANY)), {(501, "NotImplemented")}),
    # preflights: anonymous, never a 5xx
    "preflight-no-origin": (lambda t: preflight(t, f"/{BUCKET}/kept", {"Access-Control-Request-Method": "GET"}), {(400, "BadRequest")}),
    "preflight-no-configuration": (lambda t: preflight(t, f"/{BUCKET}/kept", {"Origin": "https://x.example", "Access-Control-Request-Method": "GET"}), {(403, "AccessForbidden")}),
    "preflight-no-bucket": (lambda t: preflight(t, "/nosuchbucket/kept", {"Origin": "https://x.example", "Access-Control-Request-Method": "GET"}), {(403, "AccessForbidden")}),
    "preflight-600-byte-bucket": (lambda t: preflight(t, "/" + "b" * 600 + "/k", {"Origin": "o", "Access-Control-Request-Method": "GET"}), {(403, "AccessForbidden")}),
    "preflight-key-invalid-utf8": (lambda t: preflight(t, f"/{BUCKET}/a%FFb", {"Origin": "o", "Access-Control-Request-Method": "GET"}), {(400, "InvalidURI")}),
    "preflight-many-request-headers": (lambda t: preflight(t, f"/{BUCKET}/kept", {"Origin": "o", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": ",".join(["x-a"] * 3000)}), {(403, "AccessForbidden")}),
    "preflight-header-section-too-large": (lambda t: preflight(t, f"/{BUCKET}/kept", {"Origin": "o", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": ",".join(["x-a"] * 5000)}), {(400, "RequestHeaderSectionTooLarge")}),
    "preflight-latin1-origin": (lambda t: preflight(t, f"/{BUCKET}/kept", {"Origin": "https://\xe9t\xe9.example", "Access-Control-Request-Method": "GET"}), {(403, "AccessForbidden")}),
    "preflight-with-body": (lambda t: preflight(t, f"/{BUCKET}/kept", {"Origin": "o", "Access-Control-Request-Method": "PUT"}, b"x" * 1000), {(403, "AccessForbidden")}),
    "preflight-reserved-path": (lambda t: send(t, "OPTIONS", "/_fragstore/health"), {(501, "NotImplemented")}),
    # signatures
    "anonymous-get": (lambda t: unsigned(t, "GET", f"/{BUCKET}/kept", {}), {(403, "AccessDenied")}),
    "anonymous-put": (lambda t: unsigned(t, "PUT", f"/{BUCKET}/anon", {}, b"x"), {(403, "AccessDenied")}),
    "anonymous-list": (lambda t: unsigned(t, "GET", f"/{BUCKET}", {}), {(403, "AccessDenied")}),
    "malformed-authorization": (lambda t: unsigned(t, "GET", f"/{BUCKET}/kept", {"Authorization": "AWS4-HMAC-SHA256 nonsense", "x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), "x-amz-content-sha256": EMPTY_SHA}), {(400, "AuthorizationHeaderMalformed")}),
    "authorization-no-date": (lambda t: unsigned(t, "GET", f"/{BUCKET}/kept", {"Authorization": f"AWS4-HMAC-SHA256 Credential={t.server.access_key}/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={'0' * 64}", "x-amz-content-sha256": EMPTY_SHA}), {(403, "AccessDenied")}),
    "garbage-date": (lambda t: unsigned(t, "GET", f"/{BUCKET}/kept", {"Authorization": f"AWS4-HMAC-SHA256 Credential={t.server.access_key}/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={'0' * 64}", "x-amz-date": "yesterday", "x-amz-content-sha256": EMPTY_SHA}), {(403, "AccessDenied")}),
    "tampered-signature": (tampered, {(403, "SignatureDoesNotMatch")}),
    "signed-for-another-key": (signed_for_other_path, {(403, "SignatureDoesNotMatch")}),
    "wrong-secret": (lambda t: send(t, "PUT", f"/{BUCKET}/x", b"abc", secret_key="not-the-secret"), {(403, "SignatureDoesNotMatch")}),
    "unknown-access-key": (lambda t: send(t, "PUT", f"/{BUCKET}/x", b"abc", access_key="NOSUCHUSER42"), {(403, "InvalidAccessKeyId")}),
    "wrong-region": (lambda t: send(t, "PUT", f"/{BUCKET}/x", b"abc", region="eu-west-1"), {(400, "AuthorizationHeaderMalformed")}),
    "clock-behind": (lambda t: send(t, "PUT", f"/{BUCKET}/x", b"abc", skew_s=-3600), {(403, "RequestTimeTooSkewed")}),
    "clock-ahead": (lambda t: send(t, "PUT", f"/{BUCKET}/x", b"abc", skew_s=3600), {(403, "RequestTimeTooSkewed")}),
    "presigned-expired": (lambda t: unsigned(t, "GET", presigned(t, f"/{BUCKET}/kept", expires=60, age_s=120), {}), {(403, "AccessDenied")}),
    "presigned-tampered": (lambda t: unsigned(t, "GET", presigned(t, f"/{BUCKET}/kept", expires=600, age_s=0).replace("/kept", "/kepT"), {}), {(403, "SignatureDoesNotMatch")}),
    "presigned-bad-expires": (lambda t: unsigned(t, "GET", presigned(t, f"/{BUCKET}/kept", expires=600, age_s=0).replace("X-Amz-Expires=600", "X-Amz-Expires=abc"), {}), {(400, "AuthorizationQueryParametersError")}),
    "presigned-and-header": (lambda t: send(t, "GET", presigned(t, f"/{BUCKET}/kept", expires=600, age_s=0)), {(400, "InvalidArgument")}),
    # SigV2: forged, misdirected, expired, unknown, malformed, skewed
    "sigv2-forged-put": (lambda t: send_v2(t, "PUT", f"/{BUCKET}/v2", b"abc", mangle=v2_forged), {(403, "SignatureDoesNotMatch")}),
    "sigv2-forged-delete": (lambda t: send_v2(t, "DELETE", f"/{BUCKET}/kept", mangle=v2_forged), {(403, "SignatureDoesNotMatch")}),
    "sigv2-forged-complete": (lambda t: send_v2(t, "POST", f"/{BUCKET}/upload?uploadId={t.upload_id}", parts_xml([1]), mangle=v2_forged), {(403, "SignatureDoesNotMatch")}),
    "sigv2-forged-upload-part": (lambda t: send_v2(t, "PUT", f"/{BUCKET}/upload?partNumber=1&uploadId={t.upload_id}", b"p" * 100, mangle=v2_forged), {(403, "SignatureDoesNotMatch")}),
    "sigv2-signed-for-another-key": (lambda t: send_v2(t, "PUT", f"/{BUCKET}/innocent", b"abc", sent_path=f"/{BUCKET}/evil"), {(403, "SignatureDoesNotMatch")}),
    "sigv2-signed-for-another-subresource": (lambda t: send_v2(t, "PUT", f"/{BUCKET}/kept?acl", b"abc", sent_path=f"/{BUCKET}/kept"), {(403, "SignatureDoesNotMatch")}),
    "sigv2-changed-meta": (lambda t: exchange(t.server, head_bytes("PUT", f"/{BUCKET}/v2".encode(), {**signed_v2(t.server, "PUT", f"/{BUCKET}/v2", {"Content-Length": "3", "x-amz-meta-a": "1"}), "x-amz-meta-a": "2"}, t.server.port) + b"abc"), {(403, "SignatureDoesNotMatch")}),
    "sigv2-wrong-secret": (lambda t: send_v2(t, "PUT", f"/{BUCKET}/v2", b"abc", secret_key="not-the-secret"), {(403, "SignatureDoesNotMatch")}),
    "sigv2-unknown-access-key": (lambda t: send_v2(t, "PUT", f"/{BUCKET}/v2", b"abc", access_key="NOSUCHUSER42"), {(403, "InvalidAccessKeyId")}),
    "sigv2-malformed": (lambda t: send_v2(t, "PUT", f"/{BUCKET}/v2", b"abc", mangle=lambda a: "AWS HAHAHA"), {(400, "InvalidArgument")}),
    "sigv2-empty-signature": (lambda t: send_v2(t, "PUT", f"/{BUCKET}/v2", b"abc", mangle=lambda a: a.rpartition(":")[0] + ":"), {(400, "InvalidArgument")}),
    "sigv2-clock-behind": (lambda t: send_v2(t, "PUT", f"/{BUCKET}/v2", b"abc", skew_s=-3600), {(403, "RequestTimeTooSkewed")}),
    "sigv2-no-date": (lambda t: exchange(t.server, head_bytes("PUT", f"/{BUCKET}/v2".encode(), {k: v for k, v in signed_v2(t.server, "PUT", f"/{BUCKET}/v2", {"Content-Length": "3"}).items() if k != "Date"}, t.server.port) + b"abc"), {(403, "AccessDenied")}),
    "sigv2-aws-chunked": (lambda t: send_v2(t, "PUT", f"/{BUCKET}/v2", b"3\r\nabc\r\n0\r\n\r\n", {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "3"}), {(400, "InvalidArgument")}),
    "sigv2-streaming-sha256": (lambda t: send_v2(t, "PUT", f"/{BUCKET}/v2", b"abc", {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}), {(400, "InvalidArgument")}),
    "sigv2-sha256-mismatch": (lambda t: send_v2(t, "PUT", f"/{BUCKET}/v2", b"abc", {"x-amz-content-sha256": hashlib.sha256(b"abd").hexdigest()}), {(400, "XAmzContentSHA256Mismatch")}),
    "sigv2-content-md5-wrong": (lambda t: send_v2(t, "PUT", f"/{BUCKET}/v2", b"abc", {"Content-MD5": md5_b64(b"abd")}), {(400, "BadDigest")}),
    "sigv2-presigned-forged": (lambda t: v2_presigned(t, "PUT", f"/{BUCKET}/v2", b"abc", mangle=lambda q: q.replace("Signature=", "Signature=A")), {(403, "SignatureDoesNotMatch")}),
    "sigv2-presigned-other-key": (lambda t: v2_presigned(t, "PUT", f"/{BUCKET}/v2", b"abc", mangle=lambda q: q.replace("/v2?", "/v3?")), {(403, "SignatureDoesNotMatch")}),
    "sigv2-presigned-longer": (lambda t: v2_presigned(t, "PUT", f"/{BUCKET}/v2", b"abc", mangle=lambda q: q.replace("Expires=", "Expires=9")), {(403, "SignatureDoesNotMatch")}),
    "sigv2-presigned-expired": (lambda t: v2_presigned(t, "PUT", f"/{BUCKET}/v2", b"abc", expires=-60), {(403, "AccessDenied")}),
    "sigv2-presigned-partial": (lambda t: v2_presigned(t, "GET", f"/{BUCKET}/kept", mangle=lambda q: q.replace("AWSAccessKeyId=", "AWSAccessKey=")), {(403, "AccessDenied")}),
    "sigv2-presigned-bad-expires": (lambda t: v2_presigned(t, "GET", f"/{BUCKET}/kept", mangle=lambda q: re.sub(r"Expires=\d+", "Expires=soon", q)), {(403, "AccessDenied")}),
    "sigv2-presigned-and-header": (lambda t: send_v2(t, "GET", presigned_v2_target(t.server, "GET", f"/{BUCKET}/kept")), {(400, "InvalidArgument")}),
    # POST Object forms: forged, expired, outside their policy, broken
    "post-forged-sigv2": (lambda t: form_post(t, [{"key": "posted"}], secret="not-the-secret"), {(403, "SignatureDoesNotMatch")}),
    "post-other-key": (lambda t: form_post(t, [{"key": "posted"}], key="elsewhere"), {(403, "AccessDenied")}),
    "post-expired": (lambda t: form_post(t, [{"key": "posted"}], expires_in=-60), {(403, "AccessDenied")}),
    "post-too-large": (lambda t: form_post(t, [{"key": "posted"}, ["content-length-range", 0, 3]]), {(400, "EntityTooLarge")}),
    "post-truncated-file": (lambda t: form_post(t, [{"key": "posted"}], mangle=lambda b: b[: b.rindex(b"\r\n--")]), {(400, "MalformedPOSTRequest")}),
    "post-garbage": (lambda t: form_post(t, [{"key": "posted"}], mangle=lambda b: b"\x00" * 100), {(400, "MalformedPOSTRequest")}),
    "post-huge-prefix": (lambda t: form_post(t, [{"key": "posted"}], mangle=lambda b: b.replace(b"\r\n", b"\r\n" + b" " * 30000, 1)), {(400, "MaxPostPreDataLengthExceededError"), (400, "MalformedPOSTRequest")}),
    # bucket policies: MalformedPolicy with S3's reasons, PolicyTooLarge, nothing stored
    "policy-not-json": (lambda t: put_policy(t, b'{"Version": "2012-10-17", "Statement": ['), {(400, "MalformedPolicy")}),
    "policy-empty": (lambda t: put_policy(t, b""), {(400, "MalformedPolicy")}),
    "policy-a-list": (lambda t: put_policy(t, b"[]"), {(400, "MalformedPolicy")}),
    "policy-binary": (lambda t: put_policy(t, b"{\xff\xfe\x00"), {(400, "MalformedPolicy")}),
    "policy-deeply-nested": (lambda t: put_policy(t, b'{"a":' * 50000 + b"1" + b"}" * 50000), {(400, "MalformedPolicy")}),
    "policy-over-20kb": (lambda t: put_policy(t, statement(Resource=[f"arn:aws:s3:::{BUCKET}/p{i:05d}/*" for i in range(1200)])), {(400, "PolicyTooLarge")}),
    "policy-over-1mib": (lambda t: put_policy(t, b"{" + b" " * (2 << 20) + b"}"), {(400, "PolicyTooLarge")}),
    "policy-bad-version": (lambda t: put_policy(t, {**statement(), "Version": "2024-01-01"}), {(400, "MalformedPolicy")}),
    "policy-no-principal": (lambda t: put_policy(t, statement(Principal=None)), {(400, "MalformedPolicy")}),
    "policy-unknown-principal": (lambda t: put_policy(t, statement(Principal={"AWS": "NOSUCHUSER42"})), {(400, "MalformedPolicy")}),
    "policy-unknown-action": (lambda t: put_policy(t, statement(Action="s3:StealObject")), {(400, "MalformedPolicy")}),
    "policy-other-bucket": (lambda t: put_policy(t, statement(Resource="arn:aws:s3:::other/*")), {(400, "MalformedPolicy")}),
    "policy-unknown-operator": (lambda t: put_policy(t, statement(Condition={"StringSortOf": {"aws:username": "x"}})), {(400, "MalformedPolicy")}),
    "policy-bad-ip": (lambda t: put_policy(t, statement(Condition={"IpAddress": {"aws:SourceIp": "999.1.1.1/8"}})), {(400, "MalformedPolicy")}),
    "policy-public-blocked": (lambda t: put_policy(t, statement()), {(403, "AccessDenied")}),
    "policy-anonymous-put": (lambda t: unsigned(t, "PUT", f"/{BUCKET}?policy", {}, json.dumps(statement()).encode()), {(403, "AccessDenied")}),
    "policy-anonymous-get": (lambda t: unsigned(t, "GET", f"/{BUCKET}?policy", {}), {(403, "AccessDenied")}),
    "policy-get-none": (lambda t: send(t, "GET", f"/{BUCKET}?policy"), {(404, "NoSuchBucketPolicy")}),
    "policy-status-none": (lambda t: send(t, "GET", f"/{BUCKET}?policyStatus"), {(404, "NoSuchBucketPolicy")}),
    # ACLs: malformed XML, unknown grantees, wrong headers
    "acl-malformed-xml": (lambda t: put_acl(t, b"<AccessControlPolicy><Owner>"), {(400, "MalformedACLError")}),
    "acl-not-xml": (lambda t: put_acl(t, b"\xff\xfe garbage"), {(400, "MalformedACLError")}),
    "acl-entity-expansion": (lambda t: put_acl(t, LAUGHS + b"<AccessControlPolicy><Owner><ID>&j;</ID></Owner></AccessControlPolicy>"), {(400, "MalformedACLError")}),
    "acl-external-entity": (lambda t: put_acl(t, XXE + b"<AccessControlPolicy><Owner><ID>&e;</ID></Owner></AccessControlPolicy>"), {(400, "MalformedACLError")}),
    "acl-wrong-root": (lambda t: put_acl(t, b"<Tagging/>"), {(400, "MalformedACLError")}),
    "acl-unknown-grantee-type": (lambda t: put_acl(t, acl_xml(b'xsi:type="Robot"><ID>BOB</ID>')), {(400, "MalformedACLError")}),
    "acl-grantee-without-type": (lambda t: put_acl(t, acl_xml(b"><ID>BOB</ID>")), {(400, "MalformedACLError")}),
    "acl-bad-permission": (lambda t: put_acl(t, acl_xml(b'xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>', b"EVERYTHING")), {(400, "MalformedACLError")}),
    "acl-unknown-user": (lambda t: put_acl(t, acl_xml(b'xsi:type="CanonicalUser"><ID>NOSUCHUSER42</ID>')), {(400, "InvalidArgument")}),
    "acl-unknown-group": (lambda t: put_acl(t, acl_xml(b'xsi:type="Group"><URI>http://example.com/everyone</URI>')), {(400, "InvalidArgument")}),
    "acl-email": (lambda t: put_acl(t, acl_xml(b'xsi:type="AmazonCustomerByEmail"><EmailAddress>a@b.c</EmailAddress>')), {(400, "UnresolvableGrantByEmailAddress")}),
    "acl-public-grant-acls-disabled": (lambda t: put_acl(t, acl_xml(b'xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>')), {(400, "AccessControlListNotSupported")}),
    "acl-oversized": (lambda t: put_acl(t, b"<AccessControlPolicy>" + b" " * (5 << 20) + b"</AccessControlPolicy>"), {(400, "MaxMessageLengthExceeded")}),
    "acl-body-and-header": (lambda t: put_acl(t, acl_xml(b'xsi:type="CanonicalUser"><ID>x</ID>'), headers={"x-amz-acl": "private"}), {(400, "UnexpectedContent")}),
    "acl-other-owner": (lambda t: put_acl(t, b"<AccessControlPolicy><Owner><ID>SOMEONE</ID></Owner><AccessControlList/></AccessControlPolicy>"), {(403, "AccessDenied")}),
    "acl-nothing": (lambda t: put_acl(t, b""), {(400, "MissingSecurityHeader")}),
    "acl-bad-canned-put": (lambda t: send(t, "PUT", f"/{BUCKET}/acl", b"x", {"x-amz-acl": "world-readable"}), {(400, "InvalidArgument")}),
    "acl-canned-and-grant": (lambda t: send(t, "PUT", f"/{BUCKET}/acl", b"x", {"x-amz-acl": "private", "x-amz-grant-read": 'id="x"'}), {(400, "InvalidRequest")}),
    "acl-bad-grant-header": (lambda t: send(t, "PUT", f"/{BUCKET}/acl", b"x", {"x-amz-grant-read": "everyone please"}), {(400, "InvalidArgument")}),
    "acl-grant-unknown-user": (lambda t: send(t, "PUT", f"/{BUCKET}/acl", b"x", {"x-amz-grant-full-control": 'id="NOSUCHUSER42"'}), {(400, "InvalidArgument")}),
    "acl-public-put-acls-disabled": (lambda t: send(t, "PUT", f"/{BUCKET}/acl", b"x", {"x-amz-acl": "public-read"}), {(400, "AccessControlListNotSupported")}),
    "acl-copy-public": (lambda t: send(t, "PUT", f"/{BUCKET}/acl", headers={"x-amz-copy-source": f"/{BUCKET}/kept", "x-amz-acl": "public-read-write"}), {(400, "AccessControlListNotSupported")}),
    "acl-multipart-public": (lambda t: send(t, "POST", f"/{BUCKET}/acl?uploads", headers={"x-amz-acl": "authenticated-read"}), {(400, "AccessControlListNotSupported")}),
    "acl-object-missing": (lambda t: send(t, "PUT", f"/{BUCKET}/nosuchkey?acl", headers={"x-amz-acl": "private"}), {(404, "NoSuchKey")}),
    "acl-anonymous-get": (lambda t: unsigned(t, "GET", f"/{BUCKET}?acl", {}), {(403, "AccessDenied")}),
    "acl-anonymous-put": (lambda t: unsigned(t, "PUT", f"/{BUCKET}/kept?acl", {"x-amz-acl": "public-read"}), {(403, "AccessDenied")}),
    "acl-post-form-bad-canned": (lambda t: form_post(t, [{"key": "posted"}, {"acl": "world"}], extra=[("acl", "world")]), {(400, "InvalidArgument")}),
    "acl-post-form-public": (lambda t: form_post(t, [{"key": "posted"}, {"acl": "public-read"}], extra=[("acl", "public-read")]), {(400, "AccessControlListNotSupported")}),
    "post-anonymous": (lambda t: unsigned(t, "POST", f"/{BUCKET}", {"Content-Type": form_body([("key", "posted")], b"x").content_type}, b"".join(form_body([("key", "posted")], b"x").chunks())), {(403, "AccessDenied"), (400, "MalformedPOSTRequest")}),
    # ownership controls, public access block, CreateBucket's access headers
    "ownership-malformed": (lambda t: send(t, "PUT", f"/{BUCKET}?ownershipControls", b"<OwnershipControls><Rule>"), {(400, "MalformedXML")}),
    "ownership-unknown": (lambda t: send(t, "PUT", f"/{BUCKET}?ownershipControls", b"<OwnershipControls><Rule><ObjectOwnership>Everyone</ObjectOwnership></Rule></OwnershipControls>"), {(400, "MalformedXML")}),
    "ownership-two-rules": (lambda t: send(t, "PUT", f"/{BUCKET}?ownershipControls", b"<OwnershipControls>" + b"<Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule>" * 2 + b"</OwnershipControls>"), {(400, "MalformedXML")}),
    "ownership-wrong-md5": (lambda t: send(t, "PUT", f"/{BUCKET}?ownershipControls", b"<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule></OwnershipControls>", {"Content-MD5": md5_b64(b"x")}), {(400, "BadDigest")}),
    "ownership-anonymous": (lambda t: unsigned(t, "DELETE", f"/{BUCKET}?ownershipControls", {}), {(403, "AccessDenied")}),
    "public-block-malformed": (lambda t: send(t, "PUT", f"/{BUCKET}?publicAccessBlock", b"<PublicAccessBlockConfiguration><BlockPublicAcls>"), {(400, "MalformedXML")}),
    "public-block-not-bool": (lambda t: send(t, "PUT", f"/{BUCKET}?publicAccessBlock", b"<PublicAccessBlockConfiguration><BlockPublicAcls>maybe</BlockPublicAcls></PublicAccessBlockConfiguration>"), {(400, "MalformedXML")}),
    "public-block-anonymous": (lambda t: unsigned(t, "DELETE", f"/{BUCKET}?publicAccessBlock", {}), {(403, "AccessDenied")}),
    "create-bucket-public-acl": (lambda t: send(t, "PUT", "/new-public", headers={"x-amz-acl": "public-read"}), {(400, "InvalidBucketAclWithObjectOwnership")}),
    "create-bucket-bad-ownership": (lambda t: send(t, "PUT", "/new-owned", headers={"x-amz-object-ownership": "Anyone"}), {(400, "InvalidArgument")}),
    "create-bucket-public-acl-writer": (lambda t: send(t, "PUT", "/new-writer", headers={"x-amz-object-ownership": "ObjectWriter", "x-amz-acl": "public-read"}), {(403, "AccessDenied")}),
    "create-bucket-email-grant": (lambda t: send(t, "PUT", "/new-email", headers={"x-amz-object-ownership": "ObjectWriter", "x-amz-grant-read": 'emailAddress="a@b.c"'}), {(400, "UnresolvableGrantByEmailAddress")}),
    # numbers: only ASCII digits, only 32-bit ("²" passes str.isdigit, not int)
    "max-keys-superscript-digit": (lambda t: send(t, "GET", f"/{BUCKET}?max-keys=%C2%B2"), {(400, "InvalidArgument")}),
    "max-keys-huge": (lambda t: send(t, "GET", f"/{BUCKET}?list-type=2&max-keys=99999999999999999999"), {(400, "InvalidArgument")}),
    "part-number-marker-huge": (lambda t: send(t, "GET", f"/{BUCKET}/upload?uploadId={t.upload_id}&part-number-marker=99999999999999999999"), {(400, "InvalidArgument")}),
    "part-number-marker-int32": (lambda t: send(t, "GET", f"/{BUCKET}/upload?uploadId={t.upload_id}&part-number-marker=2147483647"), {(200, None)}),
    "part-number-arabic-digit": (lambda t: send(t, "PUT", f"/{BUCKET}/upload?uploadId={t.upload_id}&partNumber=%D9%A3", b"x"), {(400, "InvalidArgument")}),
    "decoded-length-superscript-digit": (lambda t: exchange(t.server, head_bytes("PUT", presigned(t, f"/{BUCKET}/sup", expires=600, age_s=0, method="PUT").encode(), {"Content-Length": "5", "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "\xb2"}, t.server.port) + b"0\r\n\r\n"), {(400, "InvalidArgument")}),
    # response header overrides must be sendable as header values
    "response-header-injection": (lambda t: send(t, "GET", f"/{BUCKET}/kept?response-content-type=%0D%0AX-Injected:%201"), {(400, "InvalidArgument")}),
    "response-header-nul": (lambda t: send(t, "GET", f"/{BUCKET}/kept?response-expires=%00"), {(400, "InvalidArgument")}),
    "response-header-not-latin1": (lambda t: send(t, "GET", f"/{BUCKET}/kept?response-content-disposition=%E2%82%AC"), {(400, "InvalidArgument")}),
    "response-header-head": (lambda t: send(t, "HEAD", f"/{BUCKET}/kept?response-content-type=a%0Ab"), {(400, None)}),
    # bodies
    "truncated-body": (lambda t: exchange(t.server, head_bytes("PUT", f"/{BUCKET}/cut".encode(), signed(t.server, "PUT", f"/{BUCKET}/cut", {"Content-Length": "1000"}, UNSIGNED), t.server.port) + b"x" * 500, half_close=True), {None, (400, "IncompleteBody")}),
    # the 40 bytes past Content-Length are a broken next request: the parser may refuse that one first
    "content-length-short": (lambda t: send(t, "PUT", f"/{BUCKET}/short", b"x" * 100, {"Content-Length": "60"}), {(400, "XAmzContentSHA256Mismatch"), (400, "BadRequest")}),
    "content-length-garbage": (lambda t: send(t, "PUT", f"/{BUCKET}/g", b"abc", {"Content-Length": "3x"}), {(400, "BadRequest")}),
    "object-over-5gib": (lambda t: exchange(t.server, head_bytes("PUT", f"/{BUCKET}/huge".encode(), signed(t.server, "PUT", f"/{BUCKET}/huge", {"Content-Length": str(6 << 30), "Expect": "100-continue"}, UNSIGNED), t.server.port)), {(400, "EntityTooLarge")}),
    "decoded-over-5gib": (lambda t: exchange(t.server, head_bytes("PUT", f"/{BUCKET}/huge".encode(), signed(t.server, "PUT", f"/{BUCKET}/huge", {"Content-Length": "5", "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(6 << 30)}, "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), t.server.port) + b"0\r\n\r\n"), {(400, "EntityTooLarge")}),
    "sha256-mismatch": (lambda t: send(t, "PUT", f"/{BUCKET}/sha", b"abc", payload=hashlib.sha256(b"abd").hexdigest()), {(400, "XAmzContentSHA256Mismatch")}),
    "sha256-garbage": (lambda t: send(t, "PUT", f"/{BUCKET}/sha", b"abc", payload="not-a-hash"), {(400, "InvalidArgument")}),
    "content-md5-wrong": (lambda t: send(t, "PUT", f"/{BUCKET}/md5", b"abc", {"Content-MD5": md5_b64(b"abd")}), {(400, "BadDigest")}),
    "content-md5-malformed": (lambda t: send(t, "PUT", f"/{BUCKET}/md5", b"abc", {"Content-MD5": "not base64!"}), {(400, "InvalidDigest")}),
    "checksum-header-wrong": (lambda t: send(t, "PUT", f"/{BUCKET}/crc", b"abc", {"x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(b"abd").digest()).decode()}), {(400, "BadDigest")}),
    "trailer-checksum-wrong": (lambda t: trailer_put(t, b"abc" * 100, "AAAAAA=="), {(400, "BadDigest")}),
    "chunked-bad-signature": (lambda t: chunked_put(t, b"d" * 20000, wrong_chunk_signature), {(403, "SignatureDoesNotMatch")}),
    "chunked-changed-byte": (lambda t: chunked_put(t, b"d" * 20000, lambda b: b[:200] + b"e" + b[201:]), {(403, "SignatureDoesNotMatch")}),
    "chunked-bad-size-line": (lambda t: chunked_put(t, b"d" * 20000, lambda b: b"zzzz" + b[4:]), {(400, "IncompleteBody")}),
    "chunked-cut-short": (lambda t: chunked_put(t, b"d" * 20000, cut=True), {None, (400, "IncompleteBody")}),
    "chunked-no-final-chunk": (lambda t: chunked_put(t, b"d" * 20000, lambda b: b[: b.rindex(b"0;chunk")]), {(400, "IncompleteBody")}),
    "chunked-decoded-length-wrong": (lambda t: chunked_put(t, b"d" * 20000, decoded=19999), {(400, "IncompleteBody")}),
    "chunked-small-chunks": (lambda t: chunked_put(t, b"d" * 20000, lambda b: b), {(200, None)}),  # the control: valid
    # keys and buckets
    "key-nul": (lambda t: send(t, "PUT", f"/{BUCKET}/a%00b", b"x"), {(400, "InvalidArgument")}),
    "key-invalid-utf8-escaped": (lambda t: send(t, "PUT", f"/{BUCKET}/a%FFb", b"x"), {(400, "InvalidURI")}),
    "key-invalid-utf8-raw": (lambda t: send(t, "PUT", f"/{BUCKET}/a%FFb", b"x", raw_path=f"/{BUCKET}/a".encode() + b"\xff"), {(400, "BadRequest"), (400, "InvalidURI")}),
    "key-too-long": (lambda t: send(t, "PUT", f"/{BUCKET}/" + "k" * 1025, b"x"), {(400, "KeyTooLongError")}),
    "key-too-long-multibyte": (lambda t: send(t, "PUT", f"/{BUCKET}/" + "%C3%A9" * 513, b"x"), {(400, "KeyTooLongError")}),
    "bucket-uppercase": (lambda t: send(t, "PUT", "/Bad_Bucket"), {(400, "InvalidBucketName")}),
    "bucket-dots": (lambda t: send(t, "PUT", "/a..b"), {(400, "InvalidBucketName")}),
    "bucket-ip": (lambda t: send(t, "PUT", "/192.168.5.4"), {(400, "InvalidBucketName")}),
    "bucket-too-long": (lambda t: send(t, "PUT", "/" + "b" * 64), {(400, "InvalidBucketName")}),
    "bucket-empty": (lambda t: send(t, "GET", "//kept"), {(400, "InvalidBucketName")}),
    "bucket-empty-list": (lambda t: send(t, "GET", "//?list-type=2"), {(400, "InvalidBucketName")}),
    "bucket-600-bytes": (lambda t: send(t, "DELETE", "/" + "b" * 600 + "/kept"), {(400, "InvalidBucketName")}),
    "copy-source-600-byte-bucket": (lambda t: send(t, "PUT", f"/{BUCKET}/copy", headers={"x-amz-copy-source": "/" + "b" * 600 + "/kept"}), {(400, "InvalidBucketName")}),
    "bucket-dot-dot-slash": (lambda t: send(t, "PUT", "/..%2F..%2Fetc"), {(400, "InvalidBucketName")}),
    # ranges, dates, headers
    "range-past-end": (lambda t: send(t, "GET", f"/{BUCKET}/kept", headers={"Range": "bytes=99999-"}), {(416, "InvalidRange")}),
    "range-garbage": (lambda t: send(t, "GET", f"/{BUCKET}/kept", headers={"Range": "bytes=abc"}), {(200, None)}),
    "range-reversed": (lambda t: send(t, "GET", f"/{BUCKET}/kept", headers={"Range": "bytes=9-3"}), {(200, None)}),
    "range-huge-numbers": (lambda t: send(t, "GET", f"/{BUCKET}/kept", headers={"Range": "bytes=0-" + "9" * 40}), {(206, None)}),
    "if-modified-since-garbage": (lambda t: send(t, "GET", f"/{BUCKET}/kept", headers={"If-Modified-Since": "the day before"}), {(200, None)}),
    "if-unmodified-since-garbage": (lambda t: send(t, "GET", f"/{BUCKET}/kept", headers={"If-Unmodified-Since": "Tue, 99 Foo 2020"}), {(200, None)}),
    "metadata-too-large": (lambda t: send(t, "PUT", f"/{BUCKET}/meta", b"abc", {"x-amz-meta-big": "v" * 3000}), {(400, "MetadataTooLarge")}),
    "header-section-too-large": (lambda t: send(t, "PUT", f"/{BUCKET}/hdr", b"abc", {"X-Filler": "f" * 40000}), {(400, "RequestHeaderSectionTooLarge")}),
    "unknown-method": (lambda t: send(t, "PATCH", f"/{BUCKET}/kept"), {(405, "MethodNotAllowed")}),
    "unknown-subresource": (lambda t: send(t, "PUT", f"/{BUCKET}/kept?torrent", b"x"), {(501, "NotImplemented")}),
}


def assert_nothing_stored(t: Target) -> None:
    s3 = t.s3
    listed = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert [(o["Key"], o["ETag"]) for o in listed] == [("kept", f'"{hashlib.md5(KEPT).hexdigest()}"')]
    assert s3.list_parts(Bucket=BUCKET, Key="upload", UploadId=t.upload_id).get("Parts", []) == []
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [BUCKET]
    with pytest.raises(ClientError) as info:
        s3.get_bucket_cors(Bucket=BUCKET)
    assert info.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"
    with pytest.raises(ClientError) as info:
        s3.get_bucket_policy(Bucket=BUCKET)
    assert info.value.response["Error"]["Code"] == "NoSuchBucketPolicy"
    grants = s3.get_bucket_acl(Bucket=BUCKET)["Grants"]
    assert [(g["Grantee"]["ID"], g["Permission"]) for g in grants] == [(t.server.access_key, "FULL_CONTROL")]
    assert s3.get_object_acl(Bucket=BUCKET, Key="kept")["Grants"] == grants
    rules = s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert all(s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"].values())


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_request(target: Target, name: str) -> None:
    request, accepted = CASES[name]
    answer = request(target)
    got = None if answer is None else (answer.status, answer.code)
    assert got in accepted, f"{name}: {got}, {answer.body[:300] if answer else b''!r}"
    if answer is not None and answer.code is not None:
        assert answer.headers.get("x-amz-request-id"), "an S3 error without a request id"
    if name == "chunked-small-chunks":  # the valid control stored its object: remove it again
        target.s3.delete_object(Bucket=BUCKET, Key="chunked")
    assert_nothing_stored(target)
    assert target.server.raw("GET", "/_fragstore/health", sign=False).status == 200
