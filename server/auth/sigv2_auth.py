"""SigV2 authentication of a request: ``Authorization: AWS <key>:<signature>``,
or a presigned URL's ``AWSAccessKeyId``, ``Signature`` and ``Expires``.

:func:`authenticate_v2` returns who signed (:class:`AuthResult`) or raises
S3's error:

    malformed Authorization header              InvalidArgument
    some but not all of the query parameters    AccessDenied
    Expires not a number of seconds             AccessDenied
    unknown access key                          InvalidAccessKeyId
    no valid Date or x-amz-date (header auth)   AccessDenied
    clock skew (header auth)                    RequestTimeTooSkewed
    presigned URL past Expires                  AccessDenied "Request has expired"
    aws-chunked body, streaming sha256 value    InvalidArgument
    wrong signature                             SignatureDoesNotMatch (with StringToSign[Bytes])

SigV2 signs no payload: the body is read as sent (UNSIGNED-PAYLOAD), checked
against ``x-amz-content-sha256`` when that is a hex digest, and Content-MD5 as
on any request. aws-chunked bodies are SigV4's alone and are refused.

Besides the string to sign as S3's rules define it, forms are accepted that
cover the same request: the path re-encoded as botocore encodes keys (for
clients that send raw UTF-8), ``/bucket/`` for a path-style ``/bucket`` (what
botocore signs for bucket requests) and, when ``x-amz-date`` is sent, the two other
date lines in use: ``Date`` (botocore's ``HmacV1Auth`` always signs it there)
and the ``x-amz-date`` value itself, left out of the amz headers (the form of
AWS's own published example). The error reports the first form.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from urllib.parse import quote_from_bytes, unquote_to_bytes

from server.auth.sigv2 import (
    canonical_amz_headers,
    canonical_resource,
    same_signature,
    sign,
    spaced_hex,
    string_to_sign,
)
from server.auth.sigv4 import UNSIGNED_PAYLOAD, AuthRequest, AuthResult
from server.auth.sigv4_canonical import wire_bytes
from server.auth.sigv4_parse import presigned_params
from server.s3.errors import S3Error

QUERY_PARAMS = ("AWSAccessKeyId", "Signature", "Expires")
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_EXPIRES = re.compile(r"\d{1,12}")
_POSITIONAL = ("content-md5", "content-type")


@dataclass(frozen=True)
class _Claim:
    access_key: str
    signature: str
    presigned: bool
    headers: Mapping[str, str]  # what the string to sign reads: the request's, plus query ones


def is_v2_header(value: str) -> bool:
    """Whether an Authorization header uses the ``AWS`` (SigV2) scheme."""
    return value.strip().partition(" ")[0] == "AWS"


def has_v2_query(params: Mapping[str, list[str]]) -> bool:
    return any(name in params for name in QUERY_PARAMS)


def authenticate_v2(
    req: AuthRequest,
    secret_for: Callable[[str], str | None],
    *,
    now: float | None = None,
    max_skew_seconds: float = 900.0,
) -> AuthResult:
    """Verify a SigV2 request; raise S3Error with S3's code if it fails."""
    header = req.headers.get("authorization")
    claim = _parse_header(header, req.headers) if header is not None else _parse_query(req)
    secret = secret_for(claim.access_key)
    if secret is None:
        raise S3Error("InvalidAccessKeyId", extra={"AWSAccessKeyId": claim.access_key})
    now = time.time() if now is None else now
    dates = _presigned_dates(req, now) if claim.presigned else _header_dates(claim.headers, now, max_skew_seconds)
    mode = payload_mode(claim.headers)
    _verify(req, claim, secret, dates)
    query_headers = {k: v for k, v in claim.headers.items() if k not in req.headers}
    return AuthResult(claim.access_key, mode, None, claim.presigned, query_headers)


def _parse_header(value: str, headers: Mapping[str, str]) -> _Claim:
    _, _, credentials = value.strip().partition(" ")
    access_key, colon, signature = credentials.strip().partition(":")
    if not colon or not access_key or not signature or " " in credentials.strip():
        raise S3Error("InvalidArgument", "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
                      extra={"ArgumentName": "Authorization", "ArgumentValue": value})
    return _Claim(access_key, signature, False, headers)


def _parse_query(req: AuthRequest) -> _Claim:
    params = presigned_params(req.query)
    if any(len(params.get(name, ())) != 1 for name in QUERY_PARAMS):
        raise S3Error("AccessDenied", "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
    headers = dict(req.headers)
    for name, values in params.items():  # botocore moves these headers into the query
        lower = name.lower()
        if (lower.startswith("x-amz-") or lower in _POSITIONAL) and lower not in headers:
            headers[lower] = ",".join(values)
    signature = params["Signature"][0].replace(" ", "+")  # a '+' sent unencoded, read as a form would
    return _Claim(params["AWSAccessKeyId"][0], signature, True, headers)


def _iso8601(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


# (date line, whether x-amz-date is left out of the amz headers)
DateForm = tuple[str, bool]


def _presigned_dates(req: AuthRequest, now: float) -> list[DateForm]:
    """The Expires value (the date line of a presigned URL), once checked."""
    expires = presigned_params(req.query)["Expires"][0]
    if not _EXPIRES.fullmatch(expires):
        raise S3Error("AccessDenied", f"Invalid date (should be seconds since epoch): {expires}")
    if now > int(expires):
        raise S3Error("AccessDenied", "Request has expired",
                      extra={"Expires": _iso8601(int(expires)), "ServerTime": _iso8601(now)})
    return [(expires, False)]


def _parse_date(value: str) -> float | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000": UTC
        parsed = parsed.replace(tzinfo=UTC)
    timestamp = parsed.timestamp()
    return timestamp if timestamp >= 0 else None


def _header_dates(headers: Mapping[str, str], now: float, max_skew: float) -> list[DateForm]:
    """The date lines to try: Date; or, when x-amz-date is sent, empty (S3's
    rule), Date (botocore's) or x-amz-date (AWS's example). The request time
    (x-amz-date, else Date) must be within ``max_skew`` of ``now``."""
    amz_date, date = headers.get("x-amz-date"), headers.get("date")
    sent = amz_date if amz_date is not None else date
    timestamp = _parse_date(sent) if sent else None
    if sent is None or timestamp is None:
        raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
    if abs(now - timestamp) > max_skew:
        raise S3Error("RequestTimeTooSkewed", extra={
            "RequestTime": sent,
            "ServerTime": _iso8601(now),
            "MaxAllowedSkewMilliseconds": str(int(max_skew * 1000)),
        })
    if amz_date is None:
        return [(sent, False)]
    return [("", False), *([(date, False)] if date is not None else []), (amz_date, True)]


def payload_mode(headers: Mapping[str, str]) -> str:
    """How to read the body: as sent, or checked against a hex SHA-256."""
    encodings = {e.strip().lower() for e in headers.get("content-encoding", "").split(",")}
    if "aws-chunked" in encodings:
        raise S3Error("InvalidArgument", "aws-chunked encoding is not supported with AWS Signature Version 2",
                      extra={"ArgumentName": "Content-Encoding", "ArgumentValue": headers["content-encoding"]})
    value = headers.get("x-amz-content-sha256")
    if value is None or value == UNSIGNED_PAYLOAD:
        return UNSIGNED_PAYLOAD
    if _HEX_SHA256.fullmatch(value):
        return value.lower()
    raise S3Error("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value "
                  "with AWS Signature Version 2",
                  extra={"ArgumentName": "x-amz-content-sha256", "ArgumentValue": value})


def _strings_to_sign(req: AuthRequest, claim: _Claim, dates: list[DateForm]) -> Iterator[bytes]:
    """S3's string to sign first, then the other accepted forms, each once."""
    headers = claim.headers
    raw = wire_bytes(req.path)
    paths = [raw, quote_from_bytes(unquote_to_bytes(raw), safe="/~").encode("ascii")]
    if raw.count(b"/") == 1 and len(raw) > 1:  # "/bucket": botocore signs "/bucket/"
        paths.append(raw + b"/")
    amz = {drop: canonical_amz_headers((k, v) for k, v in headers.items() if not (drop and k == "x-amz-date"))
           for drop in (False, True)}
    seen = set()
    for path in paths:
        resource = canonical_resource(path, req.query, req.host_bucket)
        for date, drop in dates:
            message = string_to_sign(req.method, headers.get("content-md5", ""),
                                     headers.get("content-type", ""), date, amz[drop], resource)
            if message not in seen:
                seen.add(message)
                yield message


def _verify(req: AuthRequest, claim: _Claim, secret: str, dates: list[DateForm]) -> None:
    first: bytes | None = None
    for message in _strings_to_sign(req, claim, dates):
        if same_signature(sign(secret, message), claim.signature):
            return
        first = first or message
    assert first is not None
    raise S3Error("SignatureDoesNotMatch", extra={
        "AWSAccessKeyId": claim.access_key,
        "StringToSign": first.decode("latin-1"),
        "SignatureProvided": claim.signature,
        "StringToSignBytes": spaced_hex(first),
    })
