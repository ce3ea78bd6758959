"""Browser-style POST Object forms for tests: multipart/form-data bodies built as
an HTML form would send them, SigV2 policies signed by hand, and the upload
sent with http.client (the body streamed, so a large file is never in memory)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from tests.live_server import LiveServer, RawResponse

Fields = Sequence[tuple[str, str]]


@dataclass
class FormBody:
    """A multipart/form-data body: ``head`` (fields and the file part's headers),
    the file's bytes (any iterable of bytes), ``tail`` (closing delimiter, fields after)."""

    head: bytes
    file: Iterable[bytes]
    tail: bytes
    file_size: int
    boundary: str = field(default="")

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def length(self) -> int:
        return len(self.head) + self.file_size + len(self.tail)

    def chunks(self) -> Iterator[bytes]:
        yield self.head
        yield from self.file
        yield self.tail


def _part(boundary: str, name: str, value: str) -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").encode() + value.encode() + b"\r\n"


def form_body(fields: Fields, file: bytes | Iterable[bytes] | None = b"", *, file_size: int | None = None,
              filename: str = "upload.bin", file_type: str = "application/octet-stream",
              after: Fields = (), file_field: str = "file") -> FormBody:
    """``fields`` in order, then the file (unless None), then ``after`` (fields S3 ignores)."""
    boundary = "----fragstoreform" + uuid.uuid4().hex
    head = b"".join(_part(boundary, name, value) for name, value in fields)
    if file is None:
        tail = b"".join(_part(boundary, name, value) for name, value in after) + f"--{boundary}--\r\n".encode()
        return FormBody(head, [], tail, 0, boundary)
    head += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{filename}\"\r\n"
             f"Content-Type: {file_type}\r\n\r\n").encode()
    chunks: Iterable[bytes] = [file] if isinstance(file, bytes) else file
    size = len(file) if isinstance(file, bytes) else file_size
    assert size is not None, "give file_size with an iterable file"
    tail = b"\r\n" + b"".join(_part(boundary, name, value) for name, value in after) + f"--{boundary}--\r\n".encode()
    return FormBody(head, chunks, tail, size, boundary)


def post(server: LiveServer, path: str, body: FormBody, headers: dict[str, str] | None = None,
         *, timeout: float = 600) -> RawResponse:
    """POST the form to ``path`` (the bucket's URL path), streamed."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.putrequest("POST", path, skip_accept_encoding=True)
        for name, value in {"Content-Type": body.content_type, "Content-Length": str(body.length),
                            **(headers or {})}.items():
            conn.putheader(name, value)
        conn.endheaders()
        try:
            for chunk in body.chunks():
                conn.send(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the body was read: the answer is still there
        response = conn.getresponse()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def expiration(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + seconds))


def sigv2_fields(access_key: str, secret_key: str, conditions: list[object], *, expires_in: float = 300,
                 raw_policy: bytes | None = None) -> list[tuple[str, str]]:
    """AWSAccessKeyId, policy and signature (HMAC-SHA1 of the base64 policy) by hand."""
    document = raw_policy or json.dumps({"expiration": expiration(expires_in), "conditions": conditions}).encode()
    policy = base64.b64encode(document).decode()
    signature = base64.b64encode(hmac.digest(secret_key.encode(), policy.encode(), hashlib.sha1)).decode()
    return [("AWSAccessKeyId", access_key), ("policy", policy), ("signature", signature)]


def error_code(response: RawResponse) -> str | None:
    if b"<Code>" not in response.body:
        return None
    return response.body.split(b"<Code>")[1].split(b"</Code>")[0].decode()
