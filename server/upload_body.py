"""The body of a PutObject or UploadPart, ready to stream into the engine.

The checksums a client sends in trailers are only known once the body has been
read, yet the engine takes the object's metadata when the put starts. So the
metadata carries :class:`LiveChecksums`, a read-through view of
``Payload.checksums`` that the engine reads when it publishes, after the last
byte.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass

from server.body import bounded, require_length
from server.context import RequestContext
from server.params import content_md5
from server.payload import Payload


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


@dataclass(frozen=True)
class UploadBody:
    payload: Payload
    stream: AsyncIterator[bytes]
    checksums: Mapping[str, str]
    content_md5: bytes | None


def upload_body(ctx: RequestContext) -> UploadBody:
    """Check the length headers and Content-MD5 syntax, then wrap the body."""
    require_length(ctx.headers)
    md5 = content_md5(ctx.headers)
    payload = ctx.payload()
    return UploadBody(payload, bounded(payload), LiveChecksums(payload), md5)
