"""What a request's headers promise about its body, read before the body is:
the declared length, the checksum headers and the trailing checksum.

Errors are S3's: a malformed value is InvalidRequest (checksums) or
InvalidArgument (lengths); a body that breaks a promise is BadDigest or
IncompleteBody, raised by :mod:`server.payload` once the body has been read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from server.checksums import ALGORITHMS, algorithm_of_header, b64, decode_value, header_name
from server.errors import S3Error

_DIGITS = re.compile(r"\d{1,19}")


def declared_length(headers: Mapping[str, str], chunked: bool) -> int | None:
    """The object's byte count as declared: x-amz-decoded-content-length for an
    aws-chunked body, Content-Length otherwise; None when not declared."""
    name = "x-amz-decoded-content-length" if chunked else "content-length"
    value = headers.get(name)
    if value is None:
        return None
    if not _DIGITS.fullmatch(value.strip()):
        raise S3Error("InvalidArgument", f"Invalid value for {name}",
                      extra={"ArgumentName": name, "ArgumentValue": value})
    return int(value)


def header_checksums(headers: Mapping[str, str]) -> dict[str, bytes]:
    """algorithm -> raw digest from the ``x-amz-checksum-<alg>`` request headers (at most one)."""
    found: dict[str, bytes] = {}
    for name, value in headers.items():
        algorithm = algorithm_of_header(name)
        if algorithm is None:
            continue
        raw = decode_value(algorithm, value)
        if raw is None:
            raise S3Error("InvalidRequest", f"Value for {header_name(algorithm)} header is invalid.")
        found[algorithm] = raw
    if len(found) > 1:
        raise S3Error("InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
    return found


def trailer_algorithm(headers: Mapping[str, str]) -> str | None:
    """The algorithm of the checksum announced in ``x-amz-trailer``, if any."""
    value = headers.get("x-amz-trailer")
    if value is None or not value.strip():
        return None
    algorithm = algorithm_of_header(value)
    if algorithm is None:
        raise S3Error("InvalidRequest", "The value specified in the x-amz-trailer header is not supported")
    return algorithm


def check_sdk_algorithm(headers: Mapping[str, str], algorithms: set[str]) -> None:
    """``x-amz-sdk-checksum-algorithm`` must name a known algorithm and agree with the
    checksum actually sent; alone it asks for nothing to be verified."""
    value = headers.get("x-amz-sdk-checksum-algorithm")
    if value is None:
        return
    named = value.strip().upper()
    if named not in ALGORITHMS or (algorithms and algorithms != {named}):
        raise S3Error("InvalidRequest", "Value for x-amz-sdk-checksum-algorithm header is invalid.")


def mismatch(algorithm: str) -> S3Error:
    return S3Error("BadDigest", f"The {algorithm} you specified did not match the calculated checksum.")


def trailer_checksums(trailers: Mapping[str, str], expected: str | None) -> dict[str, bytes]:
    """algorithm -> raw digest from the received trailers; the announced one must be there."""
    found: dict[str, bytes] = {}
    for name, value in trailers.items():
        algorithm = algorithm_of_header(name)
        if algorithm is None:
            continue
        if algorithm != expected:
            raise S3Error("InvalidRequest", f"The trailing header {name} was not announced in x-amz-trailer.")
        raw = decode_value(algorithm, value)
        if raw is None:
            raise S3Error("InvalidRequest", f"Value for {name} trailing header is invalid.")
        found[algorithm] = raw
    if expected is not None and expected not in found:
        raise S3Error("IncompleteBody", "The request body terminated unexpectedly")
    return found


def verify(expected: Mapping[str, bytes], computed: Mapping[str, bytes]) -> dict[str, str]:
    """Compare each expected digest with the computed one; return algorithm -> base64."""
    for algorithm, raw in expected.items():
        if computed[algorithm] != raw:
            raise mismatch(algorithm)
    return {algorithm: b64(raw) for algorithm, raw in expected.items()}
