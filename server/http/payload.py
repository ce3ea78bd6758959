"""The request body, decoded and verified while it streams.

``x-amz-content-sha256`` (as authenticated) says how to read the body:

    <hex sha256>                                 as sent; SHA-256 must match (XAmzContentSHA256Mismatch)
    UNSIGNED-PAYLOAD                             as sent (aws-chunked if Content-Encoding says so)
    STREAMING-AWS4-HMAC-SHA256-PAYLOAD           aws-chunked, every chunk signature checked
    STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER   the same, plus a signed trailer
    STREAMING-UNSIGNED-PAYLOAD-TRAILER           aws-chunked, unsigned, with a trailer
    anything else                                InvalidArgument

Checksums sent as ``x-amz-checksum-<alg>`` headers or as the trailer named by
``x-amz-trailer`` are computed over the decoded bytes (BadDigest on mismatch), and
the decoded length must equal the declared one (IncompleteBody). Every check
runs before the iterator yields its last piece, so a consumer that sees the end
of the iteration holds a verified body; on failure it gets the S3Error instead.

The body is decoded in batches of about a megabyte; a large batch is decoded
and hashed in a worker thread (hashlib and awscrt release the GIL), so the event
loop stays free and memory per request stays bounded.

A consumer that hashes the bytes anyway (the engine, for the ETag) may take the
digests over with :meth:`Payload.take_digests`: the body is then not hashed here,
a plain body passes its pieces through untouched (no batching, no copy, no
thread), and the consumer feeds every byte to the digests and calls
:meth:`Payload.verify` once it has, which raises the same errors. Length and
framing checks still raise at the end of the iteration.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Mapping
from typing import Final

from dedup.types import BodyDigest
from server.auth.chunked import AwsChunkedDecoder
from server.auth.sigv4 import (
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    AuthResult,
)
from server.http.checksums import (
    ALGORITHMS,
    Hasher,
    algorithm_of_header,
    b64,
    decode_value,
    header_name,
    new_hasher,
)
from server.s3.errors import S3Error

BATCH: Final = 1 << 20        # raw bytes gathered before decoding and yielding
OFFLOAD: Final = 256 << 10    # batches at least this large are decoded in a thread


# -- what the headers promise about the body, read before the body is ----------

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


def verify_digests(expected: Mapping[str, bytes], computed: Mapping[str, bytes]) -> dict[str, str]:
    """Compare each expected digest with the computed one; return algorithm -> base64."""
    for algorithm, raw in expected.items():
        if computed[algorithm] != raw:
            raise mismatch(algorithm)
    return {algorithm: b64(raw) for algorithm, raw in expected.items()}


# -- the body itself ----------------------------------------------------------

def _is_hex_sha256(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value.lower())


class Payload:
    """The decoded request body as an async iterator of bytes."""

    def __init__(self, raw: AsyncIterator[bytes], auth: AuthResult, headers: Mapping[str, str]) -> None:
        mode = auth.content_sha256
        self._raw = raw
        self._decoder = self._decoder_for(mode, auth, headers)
        self._body_sha256 = hashlib.sha256() if _is_hex_sha256(mode) else None
        self._expected_sha256 = mode.lower()
        self._expected = header_checksums(headers)
        self._trailer = trailer_algorithm(headers) if self._decoder is not None else None
        algorithms = set(self._expected) | ({self._trailer} if self._trailer else set())
        check_sdk_algorithm(headers, algorithms)
        self._hashers: dict[str, Hasher] = {a: new_hasher(a) for a in sorted(algorithms)}
        self._count = 0
        self._hashing = True  # False once a consumer took the digests over
        self.decoded_length: int | None = declared_length(headers, self._decoder is not None)
        self.checksums: dict[str, str] = {}
        self._trailers: dict[str, str] = {}

    @staticmethod
    def _decoder_for(mode: str, auth: AuthResult, headers: Mapping[str, str]) -> AwsChunkedDecoder | None:
        if mode in (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER):
            assert auth.context is not None  # only SigV4 yields these modes
            return AwsChunkedDecoder(auth.context, signed_trailer=mode == STREAMING_SIGNED_TRAILER)
        if mode == STREAMING_UNSIGNED_TRAILER:
            return AwsChunkedDecoder()
        if mode == UNSIGNED_PAYLOAD:
            encodings = {e.strip().lower() for e in headers.get("content-encoding", "").split(",")}
            return AwsChunkedDecoder() if "aws-chunked" in encodings else None
        if _is_hex_sha256(mode):
            return None
        raise S3Error("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                      "STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                      "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.",
                      extra={"ArgumentName": "x-amz-content-sha256", "ArgumentValue": mode})

    def take_digests(self) -> list[BodyDigest]:
        """Hand the running digests to the consumer (call before iterating): it must
        feed them every decoded byte, in order, then call :meth:`verify`."""
        self._hashing = False
        return [*self._hashers.values(), *([self._body_sha256] if self._body_sha256 is not None else [])]

    def verify(self) -> None:
        """Compare the digests with what the request promised; sets :attr:`checksums`."""
        if self._body_sha256 is not None:
            computed = self._body_sha256.hexdigest()
            if computed != self._expected_sha256:
                raise S3Error("XAmzContentSHA256Mismatch", extra={
                    "ClientComputedContentSHA256": self._expected_sha256,
                    "S3ComputedContentSHA256": computed,
                })
        digests = {a: h.digest() for a, h in self._hashers.items()}
        verified = verify_digests(self._expected, digests)
        if self._decoder is not None:
            verified |= verify_digests(trailer_checksums(self._trailers, self._trailer), digests)
        self.checksums = verified

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._decoder is None and not self._hashing:
            return self._pass_through()
        return self._batched()

    async def _pass_through(self) -> AsyncIterator[bytes]:
        """A plain body whose digests a consumer took: the pieces as received."""
        limit = self.decoded_length
        async for piece in self._raw:
            self._count += len(piece)
            if limit is not None and self._count > limit:
                raise self._length_error()
            yield piece
        self._finish()

    async def _batched(self) -> AsyncIterator[bytes]:
        batch: list[bytes] = []
        size = 0
        async for piece in self._raw:
            if piece:
                batch.append(piece if type(piece) is bytes else bytes(piece))
                size += len(piece)
            if size >= BATCH:
                data = await self._decode(batch, size)
                batch, size = [], 0
                if data:
                    yield data
        data = await self._decode(batch, size) if batch else b""
        self._finish()
        if data:
            yield data

    async def _decode(self, batch: list[bytes], size: int) -> bytes:
        if size >= OFFLOAD:
            return await asyncio.to_thread(self._decode_batch, batch)
        return self._decode_batch(batch)

    def _decode_batch(self, batch: list[bytes]) -> bytes:
        """Decode, hash and count one batch; runs on the loop or in a worker thread."""
        if self._decoder is None:
            data = batch[0] if len(batch) == 1 else b"".join(batch)
        else:
            data = b"".join([view for piece in batch for view in self._decoder.feed(piece)])
        if self._hashing:
            for hasher in self._hashers.values():
                hasher.update(data)
            if self._body_sha256 is not None:
                self._body_sha256.update(data)
        self._count += len(data)
        if self.decoded_length is not None and self._count > self.decoded_length:
            raise self._length_error()
        return data

    def _length_error(self) -> S3Error:
        return S3Error("IncompleteBody", extra={
            "NumberBytesExpected": str(self.decoded_length),
            "NumberBytesProvided": str(self._count),
        })

    def _finish(self) -> None:
        """All checks that need the whole body; raises before the last piece is yielded
        (the digest checks only while this payload hashes its bytes itself)."""
        self._trailers = self._decoder.close() if self._decoder is not None else {}
        if self.decoded_length is not None and self._count != self.decoded_length:
            raise self._length_error()
        if self._hashing:
            self.verify()
