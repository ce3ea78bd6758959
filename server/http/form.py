"""multipart/form-data, read as it streams (RFC 7578), for S3's POST Object.

:func:`read_form` reads the fields that come before the ``file`` field into
memory (at most :data:`MAX_PRE_DATA` bytes of form, boundaries and headers
included: MaxPostPreDataLengthExceededError past that, as S3) and returns with
the file's bytes still unread: :attr:`FormFile.data` streams them, holding back
only the few bytes that could begin the closing delimiter. Fields after the
file are ignored, as S3 ignores them: up to :data:`MAX_DRAIN` bytes of them are
read and dropped, so the connection can serve the next request; past that the
rest is left unread and the server closes the connection.

    --B\\r\\n headers \\r\\n\\r\\n value \\r\\n--B\\r\\n ... --B\\r\\n headers \\r\\n\\r\\n <file> \\r\\n--B ...

A body that breaks this grammar is MalformedPOSTRequest; a body that ends
before the file's closing delimiter is too. Written here rather than taken
from a library: the file part must stream into the engine without a copy of
the whole body, field names are matched as S3 matches them, and each failure
needs S3's error code.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final

from server.s3.errors import S3Error

MAX_PRE_DATA: Final = 20 * 1024  # "the form data and boundaries (excluding the file) cannot exceed 20 KB"
MAX_DRAIN: Final = 1 << 20
MAX_BOUNDARY: Final = 70
_BOUNDARY = re.compile(r"""boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))""", re.IGNORECASE)
_PARAM = re.compile(r""";\s*([A-Za-z0-9_*-]+)\s*=\s*(?:"([^"]*)"|([^;\s]*))""")  # browsers send '"' as %22


def malformed() -> S3Error:
    return S3Error("MalformedPOSTRequest")


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type; MalformedPOSTRequest otherwise."""
    if not content_type or content_type.split(";", 1)[0].strip().lower() != "multipart/form-data":
        raise malformed()
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise malformed()
    return (found.group(1) or found.group(2)).encode("latin-1")


@dataclass
class FormFile:
    """The ``file`` field: its filename and Content-Type as the client sent them,
    and its bytes as an async iterator (read it once)."""

    filename: str | None
    content_type: str | None
    data: AsyncIterator[bytes]


@dataclass
class Form:
    """The fields before the file (names as sent, values as UTF-8 text, in
    order) and the file, None when the form has no ``file`` field."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    file: FormFile | None = None


@dataclass(frozen=True)
class _Part:
    name: str
    filename: str | None
    content_type: str | None


def _parse_part_headers(block: bytes) -> _Part:
    """``Content-Disposition: form-data; name="..."[; filename="..."]`` and Content-Type."""
    disposition: str | None = None
    content_type: str | None = None
    for line in block.split(b"\r\n"):
        raw_name, colon, value = line.partition(b":")
        if not colon:
            raise malformed()
        header = raw_name.strip().lower()
        text = value.strip().decode("utf-8", "replace")
        if header == b"content-disposition":
            disposition = text
        elif header == b"content-type":
            content_type = text
    if disposition is None or disposition.split(";", 1)[0].strip().lower() != "form-data":
        raise malformed()
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              for m in _PARAM.finditer(disposition)}
    name = params.get("name")
    if not name:
        raise malformed()
    return _Part(name, params.get("filename"), content_type)


class _Reader:
    """The body with a small look-ahead buffer, for the fields before the file."""

    def __init__(self, body: AsyncIterator[bytes], boundary: bytes, limit: int) -> None:
        self.body = body
        self.delimiter = b"\r\n--" + boundary
        self.limit = limit
        self.buffer = bytearray(b"\r\n")  # so that the first delimiter looks like every other
        self.pos = 0

    async def fill(self) -> None:
        """Read one more piece; MaxPostPreDataLengthExceededError past the limit."""
        if len(self.buffer) - 2 > self.limit:
            raise S3Error("MaxPostPreDataLengthExceededError")
        try:
            piece = await anext(self.body)
        except StopAsyncIteration:
            raise malformed() from None
        self.buffer += piece

    async def find(self, needle: bytes, start: int) -> int:
        while (at := self.buffer.find(needle, start)) < 0:
            await self.fill()
        return at

    async def take(self, count: int) -> bytes:
        while len(self.buffer) < self.pos + count:
            await self.fill()
        taken = bytes(self.buffer[self.pos : self.pos + count])
        self.pos += count
        return taken

    async def after_delimiter(self) -> bool:
        """Past a delimiter: True when a part follows, False at the closing ``--``."""
        mark = await self.take(2)
        if mark == b"--":
            return False
        while mark[:1] in (b" ", b"\t"):  # transport padding
            mark = mark[1:] + await self.take(1)
        if mark != b"\r\n":
            raise malformed()
        return True


async def read_form(body: AsyncIterator[bytes], boundary: bytes, *, limit: int = MAX_PRE_DATA) -> Form:
    """The fields up to the ``file`` field, and the file still streaming."""
    if not 1 <= len(boundary) <= MAX_BOUNDARY:
        raise malformed()
    reader = _Reader(aiter(body), boundary, limit)
    reader.pos = await reader.find(reader.delimiter, 0) + len(reader.delimiter)  # a preamble is skipped
    form = Form()
    while await reader.after_delimiter():
        end = await reader.find(b"\r\n\r\n", reader.pos)
        part = _parse_part_headers(bytes(reader.buffer[reader.pos : end]))
        reader.pos = end + 4
        if reader.pos - 2 > limit:
            raise S3Error("MaxPostPreDataLengthExceededError")
        if part.name.lower() == "file":
            first = bytes(reader.buffer[reader.pos :])
            form.file = FormFile(part.filename, part.content_type, _file_data(reader, first))
            return form
        end = await reader.find(reader.delimiter, reader.pos)
        try:
            form.fields.append((part.name, bytes(reader.buffer[reader.pos : end]).decode("utf-8")))
        except UnicodeDecodeError:
            raise malformed() from None
        reader.pos = end + len(reader.delimiter)
        if reader.pos - 2 > limit:
            raise S3Error("MaxPostPreDataLengthExceededError")
    return form


async def _file_data(reader: _Reader, first: bytes) -> AsyncIterator[bytes]:
    """The file's bytes up to the delimiter that ends them, then the rest drained."""
    delimiter, keep = reader.delimiter, len(reader.delimiter) - 1
    del reader.buffer[:]
    carry = b""
    pieces = _prepend(first, reader.body)
    async for piece in pieces:
        data = carry + piece if carry else piece
        at = data.find(delimiter)
        if at >= 0:
            if at:
                yield data[:at]
            await _drain(len(data) - at, pieces)
            return
        cut = data.rfind(b"\r", max(0, len(data) - keep))  # where the delimiter could begin
        cut = len(data) if cut < 0 else cut
        if cut:
            yield data[:cut] if cut < len(data) else data
        carry = data[cut:]
    raise malformed()


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for piece in rest:
        yield piece


async def _drain(seen: int, pieces: AsyncIterator[bytes]) -> None:
    """Read and drop what follows the file (fields S3 ignores), up to MAX_DRAIN bytes."""
    async for piece in pieces:
        seen += len(piece)
        if seen > MAX_DRAIN:
            return
