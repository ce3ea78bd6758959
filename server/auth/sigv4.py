"""AWS Signature Version 4 for S3: header auth and presigned URLs.

:func:`authenticate` takes a request as received (:class:`AuthRequest`) and a
secret lookup, and either returns who signed it (:class:`AuthResult`, with the
:class:`SigningContext` a streaming body needs to check its chunk signatures) or
raises :class:`~server.s3.errors.S3Error` with S3's code:

    anonymous (no header, no X-Amz-* query)   AccessDenied
    SigV4a / another scheme                   InvalidRequest (SigV2 is server/auth/sigv2_auth.py's)
    header and query auth together           InvalidArgument
    malformed header / query parameters      AuthorizationHeaderMalformed / AuthorizationQueryParametersError
    missing or unreadable date (header auth) AccessDenied
    unknown access key                       InvalidAccessKeyId
    clock skew (header auth)                 RequestTimeTooSkewed
    presigned URL past X-Amz-Expires         AccessDenied "Request has expired"
    bad x-amz-content-sha256                 InvalidArgument / InvalidRequest (absent)
    unsigned x-amz-* header (header auth)    AccessDenied
    wrong signature                          SignatureDoesNotMatch

The secret never enters an exception or a log line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from server.auth.sigv4_canonical import (
    canonical_headers,
    canonical_path,
    canonical_query,
    canonical_request,
    query_pairs,
    raw_path,
    same_signature,
    sign,
    signing_key,
    string_to_sign,
)
from server.auth.sigv4_checks import (
    PAYLOAD_MODES,
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    check_all_amz_headers_signed,
    check_scope,
    check_time,
    payload_hash_of,
)
from server.auth.sigv4_parse import (
    UNSUPPORTED,
    Claim,
    parse_authorization,
    parse_presigned,
    presigned_params,
)
from server.s3.errors import S3Error

__all__ = [
    "PAYLOAD_MODES",
    "STREAMING_SIGNED",
    "STREAMING_SIGNED_TRAILER",
    "STREAMING_UNSIGNED_TRAILER",
    "UNSIGNED_PAYLOAD",
    "AuthRequest",
    "AuthResult",
    "SigningContext",
    "authenticate",
]


@dataclass(frozen=True)
class AuthRequest:
    """A request as received. ``path`` and ``query`` are raw (percent-encoded, no
    ``?``); ``headers`` maps lower-case names to values (repeats joined with ``,``),
    decoded as Latin-1 as ASGI servers do. ``host_bucket`` is the bucket a
    virtual-hosted request names in its Host header (SigV2 signs it)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    host_bucket: str | None = None


@dataclass(frozen=True)
class SigningContext:
    """What a streaming body needs to verify chunk and trailer signatures."""

    signing_key: bytes
    amz_date: str
    scope: str
    seed_signature: str

    def __repr__(self) -> str:  # keep the key out of logs and tracebacks
        return f"SigningContext(amz_date={self.amz_date!r}, scope={self.scope!r})"


@dataclass(frozen=True)
class AuthResult:
    """Who signed the request and how its body is to be read. ``context`` is
    SigV4's (None for SigV2 and POST forms, whose bodies carry no chunk
    signatures)."""

    access_key: str
    content_sha256: str
    context: SigningContext | None
    presigned: bool
    # Headers a presigned SigV2 URL carries in its query (x-amz-*, Content-Type,
    # Content-MD5, as botocore puts them there), signed: they apply as headers.
    query_headers: Mapping[str, str] = field(default_factory=dict)
    # Set only for the console's internal requests (server/auth/session_caller.py):
    # the caller was authenticated by a console session, not by a signature.
    session: str | None = None


def authenticate(
    req: AuthRequest,
    secret_for: Callable[[str], str | None],
    *,
    region: str,
    now: float | None = None,
    max_skew_seconds: float = 900.0,
) -> AuthResult:
    """Verify the request's SigV4 signature; raise S3Error with S3's code if it fails."""
    claim = _claim(req)
    check_scope(claim, region)
    secret = secret_for(claim.credential.access_key)
    if secret is None:
        raise S3Error("InvalidAccessKeyId", extra={"AWSAccessKeyId": claim.credential.access_key})
    check_time(claim, time.time() if now is None else now, max_skew_seconds)
    payload_hash = payload_hash_of(claim, req.headers)
    mode = payload_hash if payload_hash in PAYLOAD_MODES else payload_hash.lower()
    if not claim.presigned:
        check_all_amz_headers_signed(claim, req.headers)
    cred = claim.credential
    key = signing_key(cred.access_key, secret, cred.date, cred.region)
    _verify_signature(req, claim, key, payload_hash)
    context = SigningContext(key, claim.amz_date, cred.scope, claim.signature.lower())
    return AuthResult(cred.access_key, mode, context, claim.presigned)


def _claim(req: AuthRequest) -> Claim:
    header = req.headers.get("authorization")
    params = presigned_params(req.query) if req.query else {}
    is_presigned = any(k in params for k in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"))
    if header is not None and is_presigned:
        raise S3Error(
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified",
            extra={"ArgumentName": "Authorization", "ArgumentValue": "null"},
        )
    if header is not None:
        return parse_authorization(header, req.headers)
    if is_presigned:
        return parse_presigned(params)
    if "AWSAccessKeyId" in params and "Signature" in params:
        raise S3Error("InvalidRequest", UNSUPPORTED)
    raise S3Error("AccessDenied")


def _canonical_requests(req: AuthRequest, claim: Claim, payload_hash: str) -> Iterator[bytes]:
    """The canonical request per AWS rules first; then, if they differ, the ones a
    client signs when it takes the raw path and query as already encoded, or
    form-encodes spaces in the query as ``+``. All of them cover the same bytes."""
    pairs = query_pairs(req.query)
    if claim.presigned:
        pairs = [(n, v) for n, v in pairs if unquote_to_bytes(n) != b"X-Amz-Signature"]
    headers = canonical_headers(req.headers, claim.signed_headers)
    forms = [
        (canonical_path(req.path), canonical_query(pairs)),
        (raw_path(req.path), canonical_query(pairs, reencode=False)),
    ]
    if "+" in req.query:
        forms.append((forms[0][0], canonical_query(pairs, plus_is_space=True)))
    seen = set()
    for path, query in forms:
        if (path, query) not in seen:
            seen.add((path, query))
            yield canonical_request(req.method, path, query, headers, claim.signed_headers, payload_hash)


def _verify_signature(req: AuthRequest, claim: Claim, key: bytes, payload_hash: str) -> None:
    first: tuple[bytes, bytes] | None = None
    for canonical in _canonical_requests(req, claim, payload_hash):
        to_sign = string_to_sign(claim.amz_date, claim.credential.scope, canonical)
        if same_signature(sign(key, to_sign), claim.signature):
            return
        first = first or (canonical, to_sign)
    assert first is not None
    raise S3Error("SignatureDoesNotMatch", extra={
        "AWSAccessKeyId": claim.credential.access_key,
        "StringToSign": first[1].decode("latin-1"),
        "SignatureProvided": claim.signature,
        "CanonicalRequest": first[0].decode("latin-1"),
    })
