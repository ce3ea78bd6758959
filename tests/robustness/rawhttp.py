"""Hand-made HTTP for hostile-input tests: requests as raw bytes over a socket
(paths that are not ASCII, broken framing, truncated bodies) and SigV4 / SigV2
headers signed at a chosen time, for a chosen region, with chosen keys."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import socket
import time
from dataclasses import dataclass
from email.utils import formatdate

from botocore.auth import (
    SIGV4_TIMESTAMP,
    HmacV1Auth,
    HmacV1QueryAuth,
    S3SigV4Auth,
    S3SigV4QueryAuth,
)
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.live_server import REGION, LiveServer

TIMEOUT_S = 60.0


class _TimedSigner(S3SigV4Auth):
    """botocore's S3 signer at a given moment, with the payload line given."""

    def __init__(self, credentials: Credentials, region: str, payload_hash: str, when: datetime.datetime) -> None:
        super().__init__(credentials, "s3", region)
        self._payload_hash = payload_hash
        self._when = when

    def payload(self, request: AWSRequest) -> str:
        return self._payload_hash

    def add_auth(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._when.strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        signature = self.signature(self.string_to_sign(request, canonical), request)
        self._inject_signature_to_request(request, signature)


def signed(server: LiveServer, method: str, target: str, headers: dict[str, str], payload_hash: str, *,
           skew_s: float = 0.0, region: str = REGION, access_key: str | None = None,
           secret_key: str | None = None) -> dict[str, str]:
    """``headers`` plus SigV4 ones, signed ``skew_s`` seconds away from now."""
    when = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(seconds=skew_s)
    request = AWSRequest(method=method, url=server.url + target, headers=dict(headers))
    credentials = Credentials(access_key or server.access_key, secret_key or server.secret_key)
    _TimedSigner(credentials, region, payload_hash, when).add_auth(request)
    return dict(request.headers.items())


def presigned_target(server: LiveServer, method: str, target: str, *, expires: int = 600) -> str:
    """``target`` with presigned-URL query parameters (SigV4 query auth) added."""
    request = AWSRequest(method=method, url=server.url + target)
    credentials = Credentials(server.access_key, server.secret_key)
    S3SigV4QueryAuth(credentials, "s3", REGION, expires=expires).add_auth(request)
    return str(request.url).split(str(server.port), 1)[1]


class _TimedV2Signer(HmacV1Auth):
    """botocore's SigV2 header signer with the Date it signs chosen."""

    def __init__(self, credentials: Credentials, when: float) -> None:
        super().__init__(credentials)
        self._when = when

    def _get_date(self) -> str:
        return formatdate(self._when, usegmt=True)


def signed_v2(server: LiveServer, method: str, target: str, headers: dict[str, str], *, skew_s: float = 0.0,
              access_key: str | None = None, secret_key: str | None = None) -> dict[str, str]:
    """``headers`` plus ``Date`` and a SigV2 ``Authorization`` header, dated ``skew_s`` from now."""
    request = AWSRequest(method=method, url=server.url + target, headers=dict(headers))
    credentials = Credentials(access_key or server.access_key, secret_key or server.secret_key)
    _TimedV2Signer(credentials, time.time() + skew_s).add_auth(request)
    return dict(request.headers.items())


def presigned_v2_target(server: LiveServer, method: str, target: str, *, expires: int = 600) -> str:
    """``target`` with SigV2 presigned-URL query parameters (negative ``expires``: already expired)."""
    request = AWSRequest(method=method, url=server.url + target)
    HmacV1QueryAuth(Credentials(server.access_key, server.secret_key), expires=expires).add_auth(request)
    return str(request.url).split(str(server.port), 1)[1]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def code(self) -> str | None:
        """The S3 error code of an ``<Error>`` body."""
        found = re.search(rb"<Code>([^<]*)</Code>", self.body)
        return found.group(1).decode() if found else None


def head_bytes(method: str, target: bytes, headers: dict[str, str], port: int) -> bytes:
    lines = [method.encode() + b" " + target + b" HTTP/1.1", f"Host: 127.0.0.1:{port}".encode()]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in headers.items() if name.lower() != "host"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def exchange(server: LiveServer, data: bytes, *, half_close: bool = False, head: bool = False,
             timeout: float = TIMEOUT_S) -> Answer | None:
    """Send ``data`` as is; the first answer, or None if the connection closed
    without one (``head``: the answer to a HEAD, which has no body)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer and close before it has read everything
        return read_answer(sock, head=head)


def read_answer(sock: socket.socket, *, head: bool = False) -> Answer | None:
    """The next final answer on ``sock`` (interim 1xx answers skipped)."""
    buffer = b""
    try:
        while True:
            while b"\r\n\r\n" not in buffer:
                piece = sock.recv(65536)
                if not piece:
                    return None
                buffer += piece
            top, _, body = buffer.partition(b"\r\n\r\n")
            lines = top.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            if status >= 200:
                break
            buffer = body
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if head or status in (204, 304) else int(headers.get("content-length", "0"))
        while len(body) < length:
            piece = sock.recv(65536)
            if not piece:
                break
            body += piece
        return Answer(status, headers, body[:length])
    except ConnectionResetError:
        return None


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def aws_chunked(data: bytes, headers: dict[str, str], secret: str, *, chunk: int = 8192,
                region: str = REGION) -> bytes:
    """``data`` as signed aws-chunked, chained from the request's signature in ``headers``."""
    amz_date = headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), amz_date[:8]), region), "s3"), "aws4_request")
    previous = headers["Authorization"].rsplit("Signature=", 1)[1]
    out = bytearray()
    for piece in [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]:
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous,
                             hashlib.sha256(b"").hexdigest(), hashlib.sha256(piece).hexdigest()])
        previous = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        out += b"%x;chunk-signature=%s\r\n" % (len(piece), previous.encode())
        out += piece + b"\r\n" if piece else b""
    return bytes(out + b"\r\n")

