"""The checks of a SigV4 claim besides the signature itself: credential scope,
request time or expiry, the ``x-amz-content-sha256`` value, and that every
``x-amz-*`` header is signed. Each raises S3's error for the failure."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping

from server.auth.sigv4_parse import Claim
from server.s3.errors import S3Error

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
PAYLOAD_MODES = (UNSIGNED_PAYLOAD, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER)
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def check_scope(claim: Claim, region: str) -> None:
    """The credential's date, region, service and terminal are this server's."""
    cred = claim.credential
    code = "AuthorizationQueryParametersError" if claim.presigned else "AuthorizationHeaderMalformed"
    prefix = "Error parsing the X-Amz-Credential parameter; " if claim.presigned else "The authorization header is malformed; "
    if cred.date != claim.amz_date[:8]:
        message = f'Invalid credential date "{cred.date}". This date is not the same as X-Amz-Date: "{claim.amz_date[:8]}".'
        raise S3Error(code, prefix + message)
    if cred.region != region:
        raise S3Error(code, prefix + f"the region '{cred.region}' is wrong; expecting '{region}'", extra={"Region": region})
    if cred.service != "s3":
        raise S3Error(code, prefix + f'incorrect service "{cred.service}". This endpoint belongs to "s3".')
    if cred.terminal != "aws4_request":
        raise S3Error(code, prefix + f'incorrect terminal "{cred.terminal}". This endpoint uses "aws4_request".')


def _iso8601(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def check_time(claim: Claim, now: float, max_skew: float) -> None:
    """Header auth within ``max_skew`` of ``now``; a presigned URL not expired, not future."""
    if claim.presigned:
        assert claim.expires is not None
        if now > claim.timestamp + claim.expires:
            raise S3Error("AccessDenied", "Request has expired", extra={
                "X-Amz-Expires": str(claim.expires),
                "Expires": _iso8601(claim.timestamp + claim.expires),
                "ServerTime": _iso8601(now),
            })
        if claim.timestamp - now > max_skew:
            raise S3Error("AccessDenied", "Request is not valid yet")
    elif abs(now - claim.timestamp) > max_skew:
        raise S3Error("RequestTimeTooSkewed", extra={
            "RequestTime": claim.request_time,
            "ServerTime": _iso8601(now),
            "MaxAllowedSkewMilliseconds": str(int(max_skew * 1000)),
        })


def payload_hash_of(claim: Claim, headers: Mapping[str, str]) -> str:
    """The payload line of the canonical request, which is also how to read the body."""
    value = headers.get("x-amz-content-sha256")
    if claim.presigned and "x-amz-content-sha256" not in {h.lower() for h in claim.signed_headers}:
        return UNSIGNED_PAYLOAD
    if value is None:
        raise S3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
    if value in PAYLOAD_MODES or _HEX_SHA256.fullmatch(value):
        return value
    raise S3Error(
        "InvalidArgument",
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER "
        "or a valid sha256 value.",
        extra={"ArgumentName": "x-amz-content-sha256", "ArgumentValue": value},
    )


def check_all_amz_headers_signed(claim: Claim, headers: Mapping[str, str]) -> None:
    """Every ``x-amz-*`` header present is covered by the signature (header auth)."""
    signed = {name.lower() for name in claim.signed_headers}
    unsigned = sorted(n for n in headers if n.startswith("x-amz-") and n not in signed)
    if unsigned:
        raise S3Error("AccessDenied", "There were headers present in the request which were not signed",
                      extra={"HeadersNotSigned": ", ".join(unsigned)})
