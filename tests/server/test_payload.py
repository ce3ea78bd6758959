"""server.http.payload: request bodies exactly as boto3 sends them (captured before
sending), signed chunk streams written from the AWS spec, and broken ones."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import os
import random
from collections.abc import AsyncIterator, Iterable, Mapping
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from server.auth.sigv4 import AuthRequest, AuthResult, authenticate
from server.http.checksums import b64, new_hasher
from server.http.payload import BATCH, Payload
from server.s3.errors import S3Error

KEY, SECRET, REGION = "AKPAYLOAD", "payload-secret", "us-east-1"
ALGORITHMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]


class Stop(Exception):
    pass


def capture(call: str, *, https: bool = True, **params: object) -> tuple[AuthRequest, bytes]:
    """The request a boto3 client sends for one call, and its body on the wire."""
    client = boto3.client(
        "s3", endpoint_url=("https" if https else "http") + "://localhost:9000", region_name=REGION,
        aws_access_key_id=KEY, aws_secret_access_key=SECRET,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 0}),
    )
    seen: list[tuple[AuthRequest, bytes]] = []

    def before_send(request: object, **_: object) -> None:
        parts = urlsplit(request.url)  # type: ignore[attr-defined]
        headers = {k.lower(): v.decode("latin-1") if isinstance(v, bytes) else v
                   for k, v in request.headers.items()}  # type: ignore[attr-defined]
        body = request.body  # type: ignore[attr-defined]
        raw = body.read() if hasattr(body, "read") else (body or b"")
        seen.append((AuthRequest(request.method, parts.path, parts.query, headers), bytes(raw)))  # type: ignore[attr-defined]
        raise Stop

    client.meta.events.register("before-send.s3.*", before_send)
    with pytest.raises(Stop):
        getattr(client, call)(**params)
    return seen[0]


def authed(req: AuthRequest) -> AuthResult:
    return authenticate(req, {KEY: SECRET}.get, region=REGION)


async def pieces(body: bytes, how: str) -> AsyncIterator[bytes]:
    rng = random.Random(len(body))
    pos = 0
    while pos < len(body):
        step = {"whole": len(body), "1": 1, "7": 7}.get(how) or rng.randint(1, 100_000)
        yield body[pos : pos + step]
        pos += step
        await asyncio.sleep(0)


def read(body: bytes, auth: AuthResult, headers: Mapping[str, str], how: str = "whole") -> tuple[bytes, Payload, list[int]]:
    payload = Payload(pieces(body, how), auth, headers)

    async def consume() -> tuple[bytes, list[int]]:
        out, sizes = bytearray(), []
        async for piece in payload:
            sizes.append(len(piece))
            out += piece
        return bytes(out), sizes

    data, sizes = asyncio.run(consume())
    return data, payload, sizes


def failure(body: bytes, auth: AuthResult, headers: Mapping[str, str], how: str = "whole") -> S3Error:
    with pytest.raises(S3Error) as err:
        read(body, auth, headers, how)
    return err.value


def digest_b64(algorithm: str, data: bytes) -> str:
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return b64(hasher.digest())


def put(body: bytes, *, https: bool = True, **params: object) -> tuple[AuthRequest, AuthResult, bytes]:
    req, wire = capture("put_object", https=https, Bucket="b", Key="k", Body=io.BytesIO(body), **params)
    return req, authed(req), wire


# -- boto3's own requests -----------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("how", ["whole", "7", "random"])
def test_boto3_trailer_checksums(algorithm: str, how: str) -> None:
    body = os.urandom(70_000)
    req, auth, wire = put(body, ChecksumAlgorithm=algorithm)
    assert auth.content_sha256 == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    data, payload, _ = read(wire, auth, req.headers, how)
    assert data == body
    assert payload.checksums == {algorithm: digest_b64(algorithm, body)}
    assert payload.decoded_length == len(body)


def test_boto3_default_is_crc32_trailer_byte_by_byte() -> None:
    body = os.urandom(3000)
    req, auth, wire = put(body)
    assert req.headers["x-amz-trailer"] == "x-amz-checksum-crc32"
    data, payload, sizes = read(wire, auth, req.headers, "1")
    assert data == body and payload.checksums == {"CRC32": digest_b64("CRC32", body)}
    assert sizes == [3000]  # one-byte input is not re-yielded one byte at a time


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_boto3_plain_http_header_checksum_and_signed_payload(algorithm: str) -> None:
    body = os.urandom(10_000)
    req, auth, wire = put(body, https=False, ChecksumAlgorithm=algorithm)
    assert auth.content_sha256 == hashlib.sha256(body).hexdigest()
    data, payload, _ = read(wire, auth, req.headers, "random")
    assert data == body and payload.checksums == {algorithm: digest_b64(algorithm, body)}
    assert payload.decoded_length == len(body)


def test_boto3_upload_part() -> None:
    body = os.urandom(9000)
    req, wire = capture("upload_part", Bucket="b", Key="k", UploadId="u", PartNumber=2, Body=io.BytesIO(body))
    data, payload, _ = read(wire, authed(req), req.headers, "7")
    assert data == body and "CRC32" in payload.checksums


def test_boto3_trailer_mismatch_is_bad_digest() -> None:
    body = os.urandom(20_000)
    req, auth, wire = put(body, ChecksumAlgorithm="CRC32C")
    good = digest_b64("CRC32C", body).encode()
    bad = wire.replace(good, digest_b64("CRC32C", b"other").encode())
    err = failure(bad, auth, req.headers)
    assert err.code == "BadDigest" and err.message == "The CRC32C you specified did not match the calculated checksum."
    assert failure(wire.replace(good, b"!!!!"), auth, req.headers).code == "InvalidRequest"
    assert failure(wire.replace(good, b"AAAAAAAAAAA="), auth, req.headers).code == "InvalidRequest"  # wrong length


def test_boto3_header_checksum_mismatch() -> None:
    body = os.urandom(500)
    req, auth, wire = put(body, https=False, ChecksumAlgorithm="SHA1")
    headers = {**req.headers, "x-amz-checksum-sha1": digest_b64("SHA1", b"nope")}
    err = failure(wire, auth, headers)
    assert err.code == "BadDigest" and "SHA1" in err.message
    assert failure(wire, auth, {**req.headers, "x-amz-checksum-sha1": "xyz"}).code == "InvalidRequest"
    two = {**req.headers, "x-amz-checksum-crc32": digest_b64("CRC32", body)}
    assert failure(wire, auth, two).code == "InvalidRequest"


def test_every_truncation_fails() -> None:
    body = os.urandom(9000)
    req, auth, wire = put(body)
    for cut in range(len(wire) - 2):
        if cut < 60 or cut > len(wire) - 60 or cut % 97 == 0:
            assert failure(wire[:cut], auth, req.headers).code == "IncompleteBody", cut
    assert failure(wire[:-1], auth, req.headers).code == "IncompleteBody"
    # Only the final empty line missing: every byte and the trailer arrived (tolerated).
    assert read(wire[:-2], auth, req.headers)[0] == body


def test_decoded_length_must_match() -> None:
    body = os.urandom(1000)
    req, auth, wire = put(body)
    for declared in ("999", "1001", "0"):
        err = failure(wire, auth, {**req.headers, "x-amz-decoded-content-length": declared})
        assert err.code == "IncompleteBody" and err.extra["NumberBytesExpected"] == declared
    assert failure(wire, auth, {**req.headers, "x-amz-decoded-content-length": "ten"}).code == "InvalidArgument"


def test_trailer_header_rules() -> None:
    body = os.urandom(100)
    req, auth, wire = put(body)
    err = failure(wire, auth, {**req.headers, "x-amz-trailer": "x-amz-checksum-md5"})
    assert err.code == "InvalidRequest" and "x-amz-trailer" in err.message
    err = failure(wire, auth, {**req.headers, "x-amz-trailer": "x-amz-checksum-sha256"})
    assert err.code == "InvalidRequest"  # the body carries crc32, sha256 was announced
    no_trailer = wire.replace(b"x-amz-checksum-crc32:" + digest_b64("CRC32", body).encode() + b"\r\n", b"")
    assert failure(no_trailer, auth, req.headers).code == "IncompleteBody"
    err = failure(wire, auth, {**req.headers, "x-amz-sdk-checksum-algorithm": "SHA1"})
    assert err.code == "InvalidRequest"


# -- plain bodies ---------------------------------------------------------------


def test_unsigned_payload_passes_through() -> None:
    req, auth, _ = put(b"", https=False)
    unsigned = AuthResult(auth.access_key, "UNSIGNED-PAYLOAD", auth.context, True)
    body = os.urandom(5 * BATCH + 123)
    data, payload, sizes = read(body, unsigned, {"content-length": str(len(body))}, "random")
    assert data == body and payload.checksums == {} and payload.decoded_length == len(body)
    assert all(size >= BATCH for size in sizes[:-1])


def test_sdk_algorithm_alone_verifies_nothing() -> None:
    req, auth, _ = put(b"", https=False)
    unsigned = AuthResult(auth.access_key, "UNSIGNED-PAYLOAD", auth.context, True)
    data, payload, _ = read(b"abc", unsigned, {"x-amz-sdk-checksum-algorithm": "CRC64NVME"})
    assert data == b"abc" and payload.checksums == {}


def test_unsigned_payload_with_aws_chunked_encoding_is_decoded() -> None:
    body = os.urandom(10_000)
    req, auth, wire = put(body)
    unsigned = AuthResult(auth.access_key, "UNSIGNED-PAYLOAD", auth.context, False)
    data, payload, _ = read(wire, unsigned, req.headers)
    assert data == body and payload.checksums == {"CRC32": digest_b64("CRC32", body)}


def test_content_sha256_mismatch_raises_before_the_end() -> None:
    body = os.urandom(3 * BATCH)
    req, auth, wire = put(body, https=False)
    tampered = wire[:-1] + bytes([wire[-1] ^ 1])
    payload = Payload(pieces(tampered, "random"), auth, req.headers)

    async def consume() -> tuple[int, BaseException | None]:
        total = 0
        try:
            async for piece in payload:
                total += len(piece)
        except S3Error as exc:
            return total, exc
        return total, None

    total, exc = asyncio.run(consume())
    assert isinstance(exc, S3Error) and exc.code == "XAmzContentSHA256Mismatch"
    assert exc.extra["S3ComputedContentSHA256"] == hashlib.sha256(tampered).hexdigest()
    assert total < len(body)  # the last piece was never handed over


def test_unknown_content_sha256_mode() -> None:
    req, auth, _ = put(b"", https=False)
    odd = AuthResult(auth.access_key, "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", auth.context, False)
    with pytest.raises(S3Error) as err:
        Payload(pieces(b"", "whole"), odd, {})
    assert err.value.code == "InvalidArgument"


# -- signed chunk streams -----------------------------------------------------------


def signed_stream(body: bytes, trailer: str | None, chunk: int = 64 * 1024) -> tuple[AuthRequest, bytes]:
    """A STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] request, signed with botocore's
    SigV4 signer for the headers and the AWS spec for chunks and trailer."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
    headers = {"X-Amz-Content-SHA256": mode, "Content-Encoding": "aws-chunked",
               "X-Amz-Decoded-Content-Length": str(len(body))}
    if trailer:
        headers["X-Amz-Trailer"] = f"x-amz-checksum-{trailer.lower()}"
    request = AWSRequest(method="PUT", url="http://localhost:9000/b/k", headers=headers)
    SigV4Auth(Credentials(KEY, SECRET), "s3", REGION).add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    hdrs = {k.lower(): v for k, v in prepared.headers.items()} | {"host": parts.netloc}
    req = AuthRequest("PUT", parts.path, parts.query, hdrs)
    ctx = authed(req).context
    empty = hashlib.sha256(b"").hexdigest()
    wire, previous = bytearray(), ctx.seed_signature
    for start in [*range(0, len(body), chunk), len(body)]:
        data = body[start : start + chunk] if start < len(body) else b""
        to_sign = f"AWS4-HMAC-SHA256-PAYLOAD\n{ctx.amz_date}\n{ctx.scope}\n{previous}\n{empty}\n{hashlib.sha256(data).hexdigest()}"
        previous = hmac.new(ctx.signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
        wire += b"%x;chunk-signature=%s\r\n" % (len(data), previous.encode()) + (data + b"\r\n" if data else b"")
        if not data:
            break
    if trailer:
        line = f"x-amz-checksum-{trailer.lower()}:{digest_b64(trailer, body)}\n"
        to_sign = f"AWS4-HMAC-SHA256-TRAILER\n{ctx.amz_date}\n{ctx.scope}\n{previous}\n{hashlib.sha256(line.encode()).hexdigest()}"
        signature = hmac.new(ctx.signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
        wire += line.replace("\n", "\r\n").encode() + f"x-amz-trailer-signature:{signature}\r\n".encode()
    return req, bytes(wire + b"\r\n")


@pytest.mark.parametrize("trailer", [None, "CRC64NVME", "SHA256"])
@pytest.mark.parametrize("how", ["whole", "7", "random"])
def test_signed_streaming(trailer: str | None, how: str) -> None:
    body = os.urandom(200_000)
    req, wire = signed_stream(body, trailer)
    data, payload, _ = read(wire, authed(req), req.headers, how)
    assert data == body
    assert payload.checksums == ({trailer: digest_b64(trailer, body)} if trailer else {})


def test_signed_streaming_rejects_a_changed_byte() -> None:
    body = os.urandom(100_000)
    req, wire = signed_stream(body, "CRC32")
    auth = authed(req)
    i = wire.index(b"\r\n") + 5000
    tampered = wire[:i] + bytes([wire[i] ^ 0x55]) + wire[i + 1 :]
    assert failure(tampered, auth, req.headers).code == "SignatureDoesNotMatch"
    small = signed_stream(body, None, chunk=4096)
    assert failure(small[1], authed(small[0]), small[0].headers).code == "InvalidChunkSizeError"


def test_signed_trailer_must_be_signed() -> None:
    body = os.urandom(10_000)
    req, wire = signed_stream(body, "CRC32")
    start = wire.index(b"x-amz-trailer-signature:")
    assert failure(wire[:start] + b"\r\n", authed(req), req.headers).code == "SignatureDoesNotMatch"


def raw_of(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        for c in chunks:
            yield c
    return gen()


def test_raw_errors_propagate() -> None:
    req, auth, wire = put(b"x" * 10)

    async def broken() -> AsyncIterator[bytes]:
        yield wire[:5]
        raise S3Error("IncompleteBody")

    payload = Payload(broken(), auth, req.headers)

    async def consume() -> None:
        async for _ in payload:
            pass

    with pytest.raises(S3Error) as err:
        asyncio.run(consume())
    assert err.value.code == "IncompleteBody"


def test_checksums_are_complete_when_the_last_piece_arrives() -> None:
    body = os.urandom(3 * BATCH + 5)
    req, auth, wire = put(body, ChecksumAlgorithm="SHA256")
    payload = Payload(pieces(wire, "random"), auth, req.headers)

    async def consume() -> list[dict[str, str]]:
        return [dict(payload.checksums) async for _ in payload]

    seen = asyncio.run(consume())
    assert seen[0] == {} and seen[-1] == {"SHA256": digest_b64("SHA256", body)}


def test_raw_pieces_may_be_bytearray_or_memoryview() -> None:
    body = os.urandom(20_000)
    req, auth, wire = put(body)
    mixed = [bytearray(wire[:100]), memoryview(wire)[100:5000], wire[5000:]]
    payload = Payload(raw_of(mixed), auth, req.headers)  # type: ignore[arg-type]

    async def consume() -> bytes:
        return b"".join([piece async for piece in payload])

    assert asyncio.run(consume()) == body


# -- digests taken over by the consumer (the engine's hashing pass) -----------


def read_taken(body: bytes, auth: AuthResult, headers: Mapping[str, str], how: str = "random") -> tuple[list[bytes], bytes, Payload]:
    """Read the payload as the engine does: take the digests, feed them, verify."""
    raw = [body[i : i + 9_000] for i in range(0, len(body), 9_000)] if how == "random" else [body]
    payload = Payload(raw_of(raw), auth, headers)
    digests = payload.take_digests()

    async def consume() -> list[bytes]:
        out = [piece async for piece in payload]
        for piece in out:
            for digest in digests:
                digest.update(memoryview(piece))
        return out

    pieces = asyncio.run(consume())
    payload.verify()
    return raw, b"".join(pieces), payload


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_taken_digests_plain_body_passes_pieces_through(algorithm: str) -> None:
    body = os.urandom(50_000)
    req, auth, wire = put(body, https=False, ChecksumAlgorithm=algorithm)
    payload = Payload(raw_of([wire[:9_000], wire[9_000:]]), auth, req.headers)
    digests = payload.take_digests()
    assert len(digests) == 2  # the signed SHA-256 and the header checksum

    async def consume() -> list[bytes]:
        return [piece async for piece in payload]

    pieces = asyncio.run(consume())
    assert pieces == [wire[:9_000], wire[9_000:]] and payload.checksums == {}  # nothing hashed yet
    for digest in digests:
        digest.update(memoryview(body))
    payload.verify()
    assert payload.checksums == {algorithm: digest_b64(algorithm, body)}


def test_taken_digests_mismatch_is_raised_by_verify() -> None:
    body = os.urandom(3 * BATCH)
    req, auth, wire = put(body, https=False)
    tampered = wire[:-1] + bytes([wire[-1] ^ 1])
    with pytest.raises(S3Error) as err:
        read_taken(tampered, auth, req.headers)
    assert err.value.code == "XAmzContentSHA256Mismatch"
    assert err.value.extra["S3ComputedContentSHA256"] == hashlib.sha256(tampered).hexdigest()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_taken_digests_chunked_body_with_trailer(algorithm: str) -> None:
    body = os.urandom(70_000)
    req, auth, wire = put(body, ChecksumAlgorithm=algorithm)
    _, data, payload = read_taken(wire, auth, req.headers)
    assert data == body and payload.checksums == {algorithm: digest_b64(algorithm, body)}
    bad = put(os.urandom(70_000), ChecksumAlgorithm=algorithm)[2]
    trailer = bad[bad.rindex(b"x-amz-checksum-"):]
    with pytest.raises(S3Error) as err:
        read_taken(wire[: wire.rindex(b"x-amz-checksum-")] + trailer, auth, req.headers)
    assert err.value.code == "BadDigest"


def test_taken_digests_length_is_still_checked_while_reading() -> None:
    body = os.urandom(10_000)
    req, auth, wire = put(body, https=False)
    with pytest.raises(S3Error) as err:
        read_taken(wire[:-1], auth, req.headers)
    assert err.value.code == "IncompleteBody"
