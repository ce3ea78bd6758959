"""The one authentication function: which signature a request carries, checked.

    Authorization: AWS <key>:<signature>              SigV2 header     (server/auth/sigv2_auth.py)
    AWSAccessKeyId, Signature, Expires in the query   SigV2 presigned
    Authorization: AWS4-HMAC-SHA256 ...               SigV4 header     (server/auth/sigv4.py)
    X-Amz-Algorithm, X-Amz-Credential, ... in query   SigV4 presigned
    none of them                                      anonymous (access key "")
    more than one                                     InvalidArgument

An unsigned request is anonymous: authorization (server/auth/authorize.py)
decides what it may do from bucket policies and ACLs, and refuses the rest
with AccessDenied. Its body is read as a SigV2 body is (no aws-chunked; an
x-amz-content-sha256 hex digest is checked).

POST Object forms carry their signature in the form instead
(server/auth/post_auth.py).
"""

from __future__ import annotations

from collections.abc import Callable

from server.auth.sigv2_auth import authenticate_v2, has_v2_query, is_v2_header, payload_mode
from server.auth.sigv4 import AuthRequest, AuthResult
from server.auth.sigv4 import authenticate as authenticate_v4
from server.auth.sigv4_parse import presigned_params
from server.s3.errors import S3Error

_V4_QUERY = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")


def _v4_fragments(params: dict[str, list[str]]) -> bool:
    """Some of a presigned URL's parameters (a broken URL is an error, not anonymous)."""
    return any(name.startswith("X-Amz-") for name in params)


def authenticate(
    req: AuthRequest,
    secret_for: Callable[[str], str | None],
    *,
    region: str,
    now: float | None = None,
    max_skew_seconds: float = 900.0,
) -> AuthResult:
    """Who signed ``req``; S3Error with S3's code when nobody validly did."""
    header = req.headers.get("authorization")
    params = presigned_params(req.query) if req.query else {}
    v2_query = has_v2_query(params)
    v4_query = any(name in params for name in _V4_QUERY)
    if (header is not None) + v2_query + v4_query > 1:
        raise S3Error(
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified",
            extra={"ArgumentName": "Authorization", "ArgumentValue": "null"},
        )
    if header is None and not v2_query and not v4_query and not _v4_fragments(params):
        return AuthResult("", payload_mode(req.headers), None, False)
    if (header is not None and is_v2_header(header)) or v2_query:
        return authenticate_v2(req, secret_for, now=now, max_skew_seconds=max_skew_seconds)
    return authenticate_v4(req, secret_for, region=region, now=now, max_skew_seconds=max_skew_seconds)
