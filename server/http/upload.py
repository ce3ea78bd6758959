"""The body of a PutObject or UploadPart, ready to stream into the engine.

The checksums a client sends in trailers are only known once the body has been
read, yet the engine takes the object's metadata when the put starts. So the
metadata carries :class:`LiveChecksums`, a read-through view of
``Payload.checksums`` that the engine reads when it publishes, after the last
byte.

The stream is an :class:`UploadStream`, which the engine recognises as a body
that checks itself (``dedup.types.CheckedBody``, matched by shape: the engine
never imports this layer): the engine takes the payload's digests (the signed
SHA-256 and any x-amz-checksum-*) into its own MD5 pass over its buffers and
calls ``verify`` after the last byte, before it publishes anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass

from dedup.types import BodyDigest
from server.http.body import bounded, require_length
from server.http.payload import Payload
from server.s3.context import RequestContext
from server.s3.params import content_md5


class LiveChecksums(Mapping[str, str]):
    """``payload.checksums`` as it is when read (complete once the body is)."""

    def __init__(self, payload: Payload) -> None:
        self._payload = payload

    def __getitem__(self, algorithm: str) -> str:
        return self._payload.checksums[algorithm]

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._payload.checksums))

    def __len__(self) -> int:
        return len(self._payload.checksums)


class UploadStream:
    """The payload, at most 5 GiB of it, for the engine to hash and verify."""

    def __init__(self, payload: Payload) -> None:
        self._payload = payload

    def __aiter__(self) -> AsyncIterator[bytes]:
        return bounded(self._payload)

    def take_digests(self) -> Sequence[BodyDigest]:
        return self._payload.take_digests()

    def verify(self) -> None:
        self._payload.verify()


@dataclass(frozen=True)
class UploadBody:
    payload: Payload
    stream: UploadStream
    checksums: Mapping[str, str]
    content_md5: bytes | None


def upload_body(ctx: RequestContext) -> UploadBody:
    """Check the length headers and Content-MD5 syntax, then wrap the body."""
    require_length(ctx.headers)
    md5 = content_md5(ctx.headers)
    payload = ctx.payload()
    return UploadBody(payload, UploadStream(payload), LiveChecksums(payload), md5)
