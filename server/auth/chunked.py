"""The aws-chunked body encoding, decoded incrementally.

Wire format (``Content-Encoding: aws-chunked``)::

    <hex size>[;chunk-signature=<sig>]\\r\\n <size bytes> \\r\\n      (repeated)
    0[;chunk-signature=<sig>]\\r\\n                                  (last chunk)
    [<name>:<value>\\r\\n ...  [x-amz-trailer-signature:<sig>\\r\\n]]  (trailers)
    \\r\\n

Signed chunks chain: chunk *i* signs ``AWS4-HMAC-SHA256-PAYLOAD`` over the
signature of chunk *i-1* (the request's own signature for the first) and the
SHA-256 of its data; the trailer signs ``AWS4-HMAC-SHA256-TRAILER`` over the last
chunk's signature and ``name:value\\n`` per trailer. Every chunk but the last data
chunk must hold at least 8192 bytes (InvalidChunkSizeError, as S3).

:class:`AwsChunkedDecoder` is fed the body in pieces of any size (a CRLF or size
line may be split anywhere) and returns views of the data it carries; framing
lines are bounded, so a hostile client cannot make it buffer. Framing errors and
truncation are IncompleteBody, as S3 answers them; a bad signature is
SignatureDoesNotMatch.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from server.auth.sigv4 import SigningContext
from server.auth.sigv4_canonical import (
    EMPTY_SHA256,
    chunk_string_to_sign,
    same_signature,
    sign,
    trailer_string_to_sign,
)
from server.s3.errors import S3Error

MIN_CHUNK: Final = 8192
MAX_LINE: Final = 4096  # a size line with its signature is under 100 bytes
MAX_TRAILERS: Final = 16 * 1024
TRAILER_SIGNATURE: Final = "x-amz-trailer-signature"
_HEX: Final = re.compile(rb"[0-9a-fA-F]{1,16}")
_SIG_PREFIX: Final = b"chunk-signature="
_SIZE, _DATA, _DATA_CRLF, _TRAILER, _DONE = range(5)


def incomplete() -> S3Error:
    """The error S3 gives for any broken or truncated chunked body."""
    return S3Error("IncompleteBody", "The request body terminated unexpectedly")


class _Signatures:
    """The chain of chunk signatures, checked as chunks complete."""

    def __init__(self, context: SigningContext) -> None:
        self._ctx = context
        self._previous = context.seed_signature

    def check_chunk(self, data_sha256_hex: str, provided: str) -> None:
        ctx = self._ctx
        to_sign = chunk_string_to_sign(ctx.amz_date, ctx.scope, self._previous, data_sha256_hex)
        self._previous = self._check(to_sign, provided)

    def check_trailer(self, trailer: bytes, provided: str) -> None:
        ctx = self._ctx
        self._check(trailer_string_to_sign(ctx.amz_date, ctx.scope, self._previous, trailer), provided)

    def _check(self, to_sign: bytes, provided: str) -> str:
        expected = sign(self._ctx.signing_key, to_sign)
        if not same_signature(expected, provided):
            raise S3Error("SignatureDoesNotMatch", extra={"SignatureProvided": provided})
        return expected


class AwsChunkedDecoder:
    """Incremental aws-chunked decoder. ``context`` given: chunk signatures are
    verified; ``signed_trailer``: the trailer must carry a valid signature too."""

    def __init__(self, context: SigningContext | None = None, *, signed_trailer: bool = False) -> None:
        self._sigs = _Signatures(context) if context is not None else None
        self._signed_trailer = signed_trailer and context is not None
        self._state = _SIZE
        self._line = bytearray()
        self._left = 0  # data bytes, then CRLF bytes, still expected
        self._hash = hashlib.sha256()
        self._provided = ""
        self._chunks = 0
        self._last_size = 0
        self._trailer_bytes = 0
        self.trailers: dict[str, str] = {}

    def feed(self, data: bytes) -> list[memoryview]:
        """Consume one piece of the body; return the object data it carried."""
        view, pos, end, out = memoryview(data), 0, len(data), []
        while pos < end:
            if self._state == _DATA:
                take = min(self._left, end - pos)
                piece = view[pos : pos + take]
                if self._sigs is not None:
                    self._hash.update(piece)
                out.append(piece)
                pos += take
                self._left -= take
                if not self._left:
                    self._state, self._left = _DATA_CRLF, 2
            elif self._state == _DATA_CRLF:
                pos = self._crlf(data, pos)
            elif self._state == _DONE:
                raise incomplete()  # bytes after the end of the body
            else:
                line, pos = self._take_line(data, pos)
                if line is None:
                    break
                if self._state == _SIZE:
                    self._size_line(line)
                else:
                    self._trailer_line(line)
        return out

    def close(self) -> dict[str, str]:
        """The input ended: return the trailers, or raise if the body was cut short."""
        unsigned_end = self._signed_trailer and TRAILER_SIGNATURE not in self.trailers
        if self._state == _TRAILER and not self._line and not unsigned_end:
            self._end_trailers()  # tolerate a missing final empty line
        if self._state != _DONE:
            raise incomplete()
        return self.trailers

    def _crlf(self, data: bytes, pos: int) -> int:
        got = data[pos : pos + self._left]
        if got != b"\r\n"[2 - self._left :][: len(got)]:
            raise incomplete()
        self._left -= len(got)
        if not self._left:
            if self._sigs is not None:
                self._sigs.check_chunk(self._hash.hexdigest(), self._provided)
            self._state = _SIZE
        return pos + len(got)

    def _take_line(self, data: bytes, pos: int) -> tuple[bytes | None, int]:
        """A complete CRLF-terminated line (without CRLF) or None with the rest buffered."""
        room = MAX_LINE - len(self._line)
        nl = data.find(b"\n", pos, pos + room)
        if nl < 0:
            if len(data) - pos >= room:
                raise incomplete()  # line too long
            self._line += data[pos:]
            return None, len(data)
        line = bytes(self._line) + data[pos:nl] if self._line else data[pos:nl]
        self._line.clear()
        if not line.endswith(b"\r"):
            raise incomplete()
        return line[:-1], nl + 1

    def _size_line(self, line: bytes) -> None:
        size_hex, _, extension = line.partition(b";")
        size_hex = size_hex.strip(b" \t")
        if not _HEX.fullmatch(size_hex):
            raise incomplete()
        size = int(size_hex, 16)
        self._chunks += 1
        if size and self._chunks > 1 and self._last_size < MIN_CHUNK:
            raise S3Error("InvalidChunkSizeError", extra={
                "Chunk": str(self._chunks), "BadChunkSize": str(self._last_size)})
        self._last_size = size
        if self._sigs is not None:
            extension = extension.strip(b" \t")
            if not extension.startswith(_SIG_PREFIX):
                raise incomplete()
            self._provided = extension[len(_SIG_PREFIX) :].decode("latin-1")
            self._hash = hashlib.sha256()
        if size:
            self._state, self._left = _DATA, size
            return
        if self._sigs is not None:
            self._sigs.check_chunk(EMPTY_SHA256, self._provided)
        self._state = _TRAILER

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            self._end_trailers()
            return
        self._trailer_bytes += len(line) + 2
        name, colon, value = line.partition(b":")
        key = name.strip().lower().decode("latin-1")
        if not colon or not key or key in self.trailers or self._trailer_bytes > MAX_TRAILERS:
            raise incomplete()
        self.trailers[key] = value.strip().decode("latin-1")

    def _end_trailers(self) -> None:
        provided = self.trailers.pop(TRAILER_SIGNATURE, None)
        if self._signed_trailer:
            assert self._sigs is not None
            if provided is None:
                raise S3Error("SignatureDoesNotMatch", "The trailer signature is missing.")
            canonical = "".join(f"{k}:{v}\n" for k, v in sorted(self.trailers.items()))
            self._sigs.check_trailer(canonical.encode("latin-1"), provided)
        self._state = _DONE
