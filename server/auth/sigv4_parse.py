"""Reading SigV4 credentials out of a request: the ``Authorization`` header or the
presigned ``X-Amz-*`` query parameters, into one :class:`Claim`.

Errors are the ones S3 answers: a malformed header is AuthorizationHeaderMalformed,
malformed query parameters AuthorizationQueryParametersError, a missing or
unreadable date AccessDenied, another signing scheme (SigV4a; SigV2 never gets
here, server/auth/authenticate.py sends it to sigv2_auth.py) InvalidRequest.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

from server.auth.sigv4_canonical import ALGORITHM, query_pairs
from server.s3.errors import S3Error

MAX_EXPIRES = 604800  # seven days
_ISO_BASIC = re.compile(r"\d{8}T\d{6}Z")
_HEADER_MALFORMED = "The authorization header is malformed; "
_QUERY_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date",
                 "X-Amz-SignedHeaders", "X-Amz-Expires")
UNSUPPORTED = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."


@dataclass(frozen=True)
class Credential:
    """``<access key>/<date>/<region>/<service>/aws4_request``."""

    access_key: str
    date: str
    region: str
    service: str
    terminal: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminal}"


@dataclass(frozen=True)
class Claim:
    """What a request says about its own signature, not yet checked."""

    presigned: bool
    credential: Credential
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str             # ISO 8601 basic, as it enters the string to sign
    request_time: str         # the date exactly as sent (for RequestTimeTooSkewed)
    timestamp: float          # seconds since the epoch
    expires: int | None = None  # presigned only


def _fail(presigned: bool, message: str) -> S3Error:
    if presigned:
        return S3Error("AuthorizationQueryParametersError", message)
    return S3Error("AuthorizationHeaderMalformed", _HEADER_MALFORMED + message)


def parse_iso_basic(value: str) -> float | None:
    """Seconds since the epoch of ``YYYYMMDDTHHMMSSZ``, or None."""
    if not _ISO_BASIC.fullmatch(value):
        return None
    try:  # by hand: time.strptime costs ~10 us, on every request
        return datetime(int(value[0:4]), int(value[4:6]), int(value[6:8]), int(value[9:11]),
                        int(value[11:13]), int(value[13:15]), tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _parse_credential(value: str, presigned: bool) -> Credential:
    parts = value.split("/")
    if len(parts) != 5 or not all(parts) or not re.fullmatch(r"\d{8}", parts[1]):
        shape = '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request"'
        if presigned:
            raise _fail(True, f"Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting {shape}.")
        raise _fail(False, f"the Credential is mal-formed; expecting {shape}.")
    return Credential(*parts)


def _parse_signed_headers(value: str, presigned: bool) -> tuple[str, ...]:
    names = tuple(value.split(";"))
    if not value or not all(names):
        raise _fail(presigned, "the SignedHeaders are mal-formed.")
    return names


def _header_date(headers: Mapping[str, str]) -> tuple[str, str, float]:
    """(ISO basic date, date as sent, timestamp) from X-Amz-Date, else Date."""
    sent = headers.get("x-amz-date")
    if sent is not None:
        timestamp = parse_iso_basic(sent.strip())
        if timestamp is not None:
            return sent.strip(), sent, timestamp
    elif "date" in headers:
        sent = headers["date"]
        try:
            parsed = parsedate_to_datetime(sent)
        except (TypeError, ValueError, IndexError):
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:  # "-0000", as botocore writes it: UTC
                parsed = parsed.replace(tzinfo=UTC)
            timestamp = parsed.timestamp()
            return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(timestamp)), sent, timestamp
    raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")


def parse_authorization(value: str, headers: Mapping[str, str]) -> Claim:
    """The claim of an ``Authorization: AWS4-HMAC-SHA256 Credential=..., ...`` header."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme != ALGORITHM:
        raise S3Error("InvalidRequest", UNSUPPORTED)
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, eq, field = item.strip().partition("=")
        if not eq or name in fields:
            fields = {}
            break
        fields[name] = field.strip()
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise _fail(False, "the authorization header requires three components: Credential, SignedHeaders, and Signature.")
    credential = _parse_credential(fields["Credential"], False)
    amz_date, sent, timestamp = _header_date(headers)
    return Claim(False, credential, _parse_signed_headers(fields["SignedHeaders"], False),
                 fields["Signature"], amz_date, sent, timestamp)


def presigned_params(query: str) -> dict[str, list[str]]:
    """Decoded query parameters by name (all values), for presigned detection and parsing."""
    params: dict[str, list[str]] = {}
    for name, value in query_pairs(query):
        key = unquote(name.decode("latin-1"))
        params.setdefault(key, []).append(unquote(value.decode("latin-1")))
    return params


def parse_presigned(params: Mapping[str, list[str]]) -> Claim:
    """The claim of a presigned URL's ``X-Amz-*`` parameters."""
    if any(len(params.get(name, ())) != 1 for name in _QUERY_PARAMS):
        raise _fail(True, "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
    value = {name: params[name][0] for name in _QUERY_PARAMS}
    if value["X-Amz-Algorithm"] != ALGORITHM:
        raise _fail(True, f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    credential = _parse_credential(value["X-Amz-Credential"], True)
    timestamp = parse_iso_basic(value["X-Amz-Date"])
    if timestamp is None:
        raise _fail(True, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    expires = _parse_expires(value["X-Amz-Expires"])
    return Claim(True, credential, _parse_signed_headers(value["X-Amz-SignedHeaders"], True),
                 value["X-Amz-Signature"], value["X-Amz-Date"], value["X-Amz-Date"], timestamp, expires)


def _parse_expires(value: str) -> int:
    if not re.fullmatch(r"-?\d{1,12}", value):
        raise _fail(True, "X-Amz-Expires should be a number")
    expires = int(value)
    if expires < 0:
        raise _fail(True, "X-Amz-Expires must be non-negative")
    if expires > MAX_EXPIRES:
        raise _fail(True, f"X-Amz-Expires must be less than a week (in seconds) that is; {MAX_EXPIRES} seconds")
    return expires
