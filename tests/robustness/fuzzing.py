"""Hypothesis strategies for raw S3 requests, and the oracle they are held to.

A request is built from fragments that S3 servers get wrong: hostile keys and
bucket names (percent escapes of any byte, ``../``, NUL, over-long), query
strings mixing real parameters and sub-resources with garbage values, the
headers that steer parsing (Range, conditions, Content-MD5, checksums,
aws-chunked, copy sources, metadata) with plausible and garbage values, and
bodies from random bytes to near-valid XML and aws-chunked framing. Most
requests are signed correctly, so they reach the handlers; the rest are
presigned (their headers unsigned), unsigned, signed with the wrong secret, or
carry a garbage payload hash.

The oracle: no answer is a 5xx other than 501 NotImplemented, the server
stays up, and (checked by the caller) it logs no error. Used by
tests/robustness/test_robust_fuzz.py (short) and benchmarks/fuzz.py.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from tests.live_server import LiveServer
from tests.robustness.rawhttp import Answer, exchange, head_bytes, presigned_target, signed

BUCKET = "fuzz-target"
KEYS = ("object", "dir/object", "big")
UNSIGNED = "UNSIGNED-PAYLOAD"
PAYLOAD_MODES = (UNSIGNED, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                 "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RawRequest:
    method: str
    target: bytes          # the request target as sent: path and query
    headers: tuple[tuple[str, str], ...]
    body: bytes
    auth: str              # signed | presigned | wrong-secret | unsigned
    payload: str           # sha256 | UNSIGNED-PAYLOAD | a streaming mode | garbage
    length: str            # exact | short | long | absent

    def describe(self) -> str:
        return f"{self.method} {self.target[:200]!r} {dict(self.headers)} body={len(self.body)} {self.auth}/{self.payload}/{self.length}"


def _escaped_bytes() -> st.SearchStrategy[str]:
    return st.binary(min_size=1, max_size=6).map(lambda b: "".join(f"%{x:02X}" for x in b))


_TEXT = st.text(st.characters(codec="utf-8"), max_size=24)  # utf-8: no lone surrogates
_PLAIN_KEY = st.one_of(st.sampled_from(KEYS), st.from_regex(r"[a-z0-9/._-]{1,12}", fullmatch=True))
_KEY_PIECES = st.one_of(
    _PLAIN_KEY, _PLAIN_KEY, _PLAIN_KEY,
    st.sampled_from(("../", "..", ".", "%00", "%FF", "%C3%A9", "%2F", "%2e%2e%2f", "//", "~", "+", "%20",
                     "?", "#", "a b", "%", "%G1", "\\", "..\\")),
    _TEXT.map(lambda t: quote(t, safe="/")),
    _escaped_bytes(),
    st.integers(1000, 1100).map(lambda n: "k" * n),
)
_BUCKETS = st.one_of(
    st.just(BUCKET), st.just(BUCKET), st.just(BUCKET), st.just(BUCKET), st.just(BUCKET), st.just(BUCKET),
    st.sampled_from(["other-fuzz", "_fragstore", "Bad_Name", "a", "ab", "a..b", "192.168.0.1", "-x", "x-", "xn--abc",
                     "b" * 64, "", "%2E%2E"]),
    _TEXT.map(lambda t: quote(t, safe="")),
)
_QUERY_NAMES = st.one_of(
    st.sampled_from(["uploads", "uploadId", "partNumber", "list-type", "max-keys", "prefix", "delimiter", "delete",
                     "start-after", "continuation-token", "encoding-type", "marker", "max-parts", "max-uploads"]),
    st.sampled_from(["fetch-owner", "key-marker", "upload-id-marker", "part-number-marker", "versionId", "location",
                     "acl", "tagging", "versioning", "response-content-type", "response-content-disposition", "x-id",
                     "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
                     "X-Amz-Signature", "exact", "dry-run", "repair"]),
)
_QUERY_VALUES = st.one_of(
    st.sampled_from(["", "2", "0", "-1", "1", "10000", "10001", "99999999999999999999", "2147483648", "true", "url",
                     "abc", "null", "AWS4-HMAC-SHA256", "/", "%FF", "%00", "%0D%0AX-Injected:%201", "%C2%B2", "%D9%A3",
                     "%E2%82%AC", "%09", "%7F"]),
    _TEXT.map(lambda t: quote(t, safe="")),
)
_DATES = st.sampled_from(["Tue, 24 Nov 2026 10:00:00 GMT", "Thu, 01 Jan 1970 00:00:00 GMT", "yesterday", "",
                          "Sun, 06 Nov 1994 08:49:37 GMT", "9999999999", "Tue, 99 Foo 2020 99:99:99 GMT"])
_B64 = st.one_of(st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
                 st.sampled_from(["", "=", "not base64!", "AAAAAA==", "1B2M2Y8AsgTpgAmY7PhCfg=="]))
_HEADER_VALUES: dict[str, st.SearchStrategy[str]] = {
    "Range": st.one_of(
        st.builds(lambda a, b: f"bytes={a}-{b}", st.integers(-5, 10**20), st.integers(-5, 10**20)),
        st.sampled_from(["bytes=0-", "bytes=-0", "bytes=-5", "bytes=", "bytes=0-1,3-4", "items=0-1", "bytes=--1",
                         "bytes=5-2", "bytes= 1 - 2", "bytes=1-2-3", "bytes=\xb2-\xb3", "bytes=-\xb9"])),
    "If-Match": st.sampled_from(['"x"', "*", "", '"' + "0" * 32 + '"', "W/\"x\"", "a,b,,"]),
    "If-None-Match": st.sampled_from(['"x"', "*", "", "W/*"]),
    "If-Modified-Since": _DATES,
    "If-Unmodified-Since": _DATES,
    "Content-MD5": _B64,
    "Content-Type": st.sampled_from(["text/plain", "", "application/xml", "\x7f", "a" * 300]),
    "Content-Encoding": st.sampled_from(["aws-chunked", "gzip", "aws-chunked,gzip", "", "identity"]),
    "x-amz-decoded-content-length": st.sampled_from(["0", "1", "-1", "abc", "99999999999999", "100", "\xb2", "1\xb9"]),
    "x-amz-trailer": st.sampled_from(["x-amz-checksum-crc32", "x-amz-checksum-sha256", "x-amz-checksum-bogus", "",
                                      "x-amz-checksum-crc32,x-amz-checksum-crc32c"]),
    "x-amz-sdk-checksum-algorithm": st.sampled_from(["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME", "MD5", ""]),
    "x-amz-checksum-crc32": _B64,
    "x-amz-checksum-sha256": _B64,
    "x-amz-checksum-crc64nvme": _B64,
    "x-amz-checksum-algorithm": st.sampled_from(["CRC32", "SHA256", "bogus"]),
    "x-amz-checksum-type": st.sampled_from(["FULL_OBJECT", "COMPOSITE", "bogus"]),
    "x-amz-checksum-mode": st.sampled_from(["ENABLED", "x"]),
    "x-amz-copy-source": st.one_of(
        st.sampled_from([f"/{BUCKET}/object", f"{BUCKET}/big", f"/{BUCKET}/object?versionId=null", f"/{BUCKET}/nope",
                         "/other-fuzz/object", "", "/", "no-slash", f"/{BUCKET}/%FF", f"/{BUCKET}/object?versionId=3"]),
        _KEY_PIECES.map(lambda k: f"/{BUCKET}/{k}")),
    "x-amz-copy-source-range": st.sampled_from(["bytes=0-5", "bytes=5-0", "bytes=0-99999999", "garbage", ""]),
    "x-amz-copy-source-if-match": st.sampled_from(['"x"', "*"]),
    "x-amz-copy-source-if-modified-since": _DATES,
    "x-amz-metadata-directive": st.sampled_from(["COPY", "REPLACE", "bogus", ""]),
    "x-amz-meta-fuzz": st.one_of(_TEXT.map(lambda t: t.encode("utf-8").decode("latin-1")),
                                 st.integers(0, 3000).map(lambda n: "m" * n)),
    "x-amz-storage-class": st.sampled_from(["STANDARD", "GLACIER", "bogus"]),
    "x-amz-date": st.sampled_from(["20200101T000000Z", "garbage", ""]),
    "x-amz-mp-parts-count": st.sampled_from(["1", "x"]),
    "Expect": st.sampled_from(["100-continue", "bogus"]),
    "Cache-Control": st.sampled_from(["no-cache", "\t"]),
    "Host": st.sampled_from(["127.0.0.1", f"{BUCKET}.localhost", "", "a" * 300]),
}


def _xml_bodies() -> st.SearchStrategy[bytes]:
    number = st.one_of(st.integers(-3, 10002).map(str), st.sampled_from(["", "x", "1.5", "99999999999999999999"]))
    etag = st.sampled_from(['"' + "0" * 32 + '"', "", "&amp;", '"x"'])
    part = st.builds(lambda n, e: f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>", number, etag)
    complete = st.lists(part, max_size=6).map(
        lambda ps: f"<CompleteMultipartUpload>{''.join(ps)}</CompleteMultipartUpload>".encode())
    obj = _KEY_PIECES.map(lambda k: f"<Object><Key>{k}</Key></Object>")
    delete = st.builds(lambda objs, q: f"<Delete><Quiet>{q}</Quiet>{''.join(objs)}</Delete>".encode(),
                       st.lists(obj, max_size=6), st.sampled_from(["true", "false", "", "x"]))
    broken = st.sampled_from([b"<Delete>", b"<?xml version='1.0'?><!DOCTYPE d [<!ENTITY e 'x'>]><Delete>&e;</Delete>",
                              b"<CompleteMultipartUpload><Part>", b"\xef\xbb\xbf<Delete/>", b"<a:Delete xmlns:a='x'/>",
                              b"<CreateBucketConfiguration><LocationConstraint>mars</LocationConstraint>"
                              b"</CreateBucketConfiguration>"])
    return st.one_of(complete, delete, broken)


def _chunked_bodies() -> st.SearchStrategy[bytes]:
    chunk = st.builds(lambda data, size: b"%s;chunk-signature=%s\r\n%s\r\n" % (size.encode(), b"0" * 64, data),
                      st.binary(max_size=40), st.sampled_from(["0", "1", "10", "2000", "zz", "-1", "ffffffffffffffffff"]))
    tail = st.sampled_from([b"0\r\n\r\n", b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", b"", b"0;chunk-signature=" + b"0" * 64
                            + b"\r\n\r\n", b"0\r\nx-amz-checksum-crc32\r\n\r\n"])
    return st.builds(lambda cs, t: b"".join(cs) + t, st.lists(chunk, max_size=3), tail)


@st.composite
def raw_requests(draw: st.DrawFn) -> RawRequest:
    method = draw(st.sampled_from(["GET"] * 6 + ["PUT"] * 6 + ["POST"] * 3 + ["DELETE"] * 3 + ["HEAD"] * 2 + ["PATCH"]))
    bucket = draw(_BUCKETS)
    pieces: list[str] = draw(st.lists(_KEY_PIECES, max_size=3))
    slash: bool = draw(st.booleans())
    path = "/" + bucket + ("/" + "".join(pieces) if pieces or slash else "")
    query = draw(st.one_of(st.just([]), st.lists(st.tuples(_QUERY_NAMES, st.one_of(st.none(), _QUERY_VALUES)),
                                                 min_size=1, max_size=3)))
    target = path + ("?" + "&".join(n if v is None else f"{n}={v}" for n, v in query) if query else "")
    names = draw(st.lists(st.sampled_from(sorted(_HEADER_VALUES)), max_size=5, unique=True))
    headers = tuple((n, draw(_HEADER_VALUES[n])) for n in names)
    body = draw(st.one_of(st.just(b""), st.binary(max_size=600), _xml_bodies(), _chunked_bodies(),
                          st.integers(1, 3 << 20).map(lambda n: b"z" * n)))
    auth = draw(st.sampled_from(["signed"] * 7 + ["presigned", "presigned", "wrong-secret", "unsigned"]))
    payload = draw(st.sampled_from(["sha256"] * 4 + [UNSIGNED, "garbage", *PAYLOAD_MODES]))
    length = draw(st.sampled_from(["exact"] * 12 + ["short", "long", "absent"]))
    return RawRequest(method, target.encode("latin-1", "replace"), headers, body, auth, payload, length)


@dataclass
class FuzzTally:
    tried: int = 0
    answered: int = 0
    unanswered: int = 0   # the server closed the connection without an answer
    unanswered_by_length: Counter[str] = field(default_factory=Counter)  # long/absent: the body never ended
    timeouts: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)  # 5xx other than 501 NotImplemented

    @property
    def five_xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def summary(self) -> str:
        return (f"inputs_tried={self.tried} answered={self.answered} unanswered={self.unanswered} "
                f"{dict(self.unanswered_by_length)} "
                f"timeouts={self.timeouts} 5xx={self.five_xx} 5xx_not_501={len(self.server_errors)} "
                f"501_not_implemented={self.statuses[501]} statuses={dict(sorted(self.statuses.items()))}")


def wire_bytes(server: LiveServer, request: RawRequest) -> bytes:
    headers = dict(request.headers)
    host = headers.pop("Host", None)
    body = request.body
    length = {"exact": len(body), "short": max(len(body) - 7, 0), "long": len(body) + 7}.get(request.length)
    if length is not None:
        headers["Content-Length"] = str(length)
    payload = {"sha256": hashlib.sha256(body).hexdigest(), "garbage": "f" * 63}.get(request.payload, request.payload)
    target = request.target
    if request.auth == "presigned":  # headers go unsigned: x-amz-* ones need no signature here
        try:
            target = presigned_target(server, request.method, target.decode("latin-1")).encode("latin-1")
        except (ValueError, UnicodeError, KeyError):
            pass
    elif request.auth != "unsigned":
        secret = None if request.auth == "signed" else "not-the-secret"
        try:
            headers = signed(server, request.method, request.target.decode("latin-1"), headers, payload,
                             secret_key=secret)
        except (ValueError, UnicodeError):
            pass  # botocore would not sign it: send it unsigned
    head = head_bytes(request.method, target, headers, server.port)
    if host is not None:  # a Host header of its own: the signature was made for the real one
        head = head.replace(f"Host: 127.0.0.1:{server.port}\r\n".encode(), f"Host: {host}\r\n".encode(), 1)
    return head + body


def send(server: LiveServer, request: RawRequest, tally: FuzzTally) -> Answer | None:
    """Send one request and score its answer."""
    tally.tried += 1
    data = wire_bytes(server, request)
    try:
        answer = exchange(server, data, half_close=request.length in ("long", "absent"),
                          head=request.method == "HEAD", timeout=TIMEOUT_S)
    except TimeoutError:
        tally.timeouts += 1
        return None
    if answer is None:
        tally.unanswered += 1
        tally.unanswered_by_length[request.length] += 1
        return None
    tally.answered += 1
    tally.statuses[answer.status] += 1
    if answer.code:
        tally.codes[answer.code] += 1
    if answer.status >= 500 and answer.status != 501:
        tally.server_errors.append(f"{answer.status} {answer.code}: {request.describe()}")
    return answer


def prepare(server: LiveServer, s3: Any) -> None:
    """The bucket and objects the requests aim at (again, if a request removed them);
    ``s3`` is a boto3 client of ``server``."""
    existing = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    if BUCKET not in existing:
        s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="object", Body=b"0123456789" * 10)
    s3.put_object(Bucket=BUCKET, Key="dir/object", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="big", Body=b"b" * 300_000)


def healthy(server: LiveServer) -> bool:
    return server.process.poll() is None and server.raw("GET", "/_fragstore/health", sign=False).status == 200


def logged_errors(log: str) -> list[str]:
    """The error lines of a server log (tracebacks start with one)."""
    return [line for line in log.splitlines() if " ERROR " in line or line.startswith("Traceback")]
