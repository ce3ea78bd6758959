"""server.auth.chunked: the aws-chunked decoder, fed in pieces of every size, against AWS's
published example, botocore's AwsChunkedWrapper, and corrupted bodies."""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import random
from collections.abc import Callable, Iterator

import pytest
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum
from hypothesis import given, settings
from hypothesis import strategies as st

from server.auth.chunked import MAX_LINE, AwsChunkedDecoder
from server.auth.sigv4 import SigningContext
from server.auth.sigv4_canonical import signing_key
from server.s3.errors import S3Error

EMPTY = hashlib.sha256(b"").hexdigest()

# AWS's example (S3 API reference, "Transferring payload in multiple chunks").
AWS_CONTEXT = SigningContext(
    signing_key("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1"),
    "20130524T000000Z",
    "20130524/us-east-1/s3/aws4_request",
    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
)
AWS_BODY = (
    b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"
    + b"a" * 65536
    + b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n"
    + b"a" * 1024
    + b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"
)

CONTEXT = SigningContext(os.urandom(32), "20240101T000000Z", "20240101/us-east-1/s3/aws4_request", "ab" * 32)


def hmac_hex(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def signed_body(
    data: bytes, chunk: int = 8192, ctx: SigningContext = CONTEXT, trailers: dict[str, str] | None = None
) -> bytes:
    """aws-chunked with chained chunk signatures, written from the AWS spec."""
    out, previous = bytearray(), ctx.seed_signature
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)] + [b""]
    for piece in pieces:
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", ctx.amz_date, ctx.scope, previous, EMPTY,
                             hashlib.sha256(piece).hexdigest()])
        previous = hmac_hex(ctx.signing_key, to_sign)
        out += b"%x;chunk-signature=%s\r\n" % (len(piece), previous.encode())
        if piece:
            out += piece + b"\r\n"
    if trailers is not None:
        canonical = "".join(f"{k}:{v}\n" for k, v in sorted(trailers.items()))
        to_sign = "\n".join(["AWS4-HMAC-SHA256-TRAILER", ctx.amz_date, ctx.scope, previous,
                             hashlib.sha256(canonical.encode()).hexdigest()])
        out += canonical.replace("\n", "\r\n").encode()
        out += b"x-amz-trailer-signature:%s\r\n" % hmac_hex(ctx.signing_key, to_sign).encode()
    return bytes(out + b"\r\n")


def botocore_body(data: bytes, chunk: int = 8192) -> bytes:
    """What botocore sends for STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer."""
    wrapper = AwsChunkedWrapper(io.BytesIO(data), checksum_cls=Crc32Checksum,
                                checksum_name="x-amz-checksum-crc32", chunk_size=chunk)
    return bytes(wrapper.read())


def crc32_b64(data: bytes) -> str:
    checksum = Crc32Checksum()
    checksum.update(data)
    return str(checksum.b64digest())


def splits(body: bytes, how: str) -> Iterator[bytes]:
    if how == "whole":
        yield body
        return
    rng = random.Random(len(body))
    pos = 0
    while pos < len(body):
        step = {"1": 1, "7": 7}.get(how) or rng.randint(1, 20000)
        yield body[pos : pos + step]
        pos += step


def decode(body: bytes, how: str = "whole", **kwargs: object) -> tuple[bytes, dict[str, str]]:
    decoder = AwsChunkedDecoder(**kwargs)  # type: ignore[arg-type]
    out = bytearray()
    for piece in splits(body, how):
        for view in decoder.feed(piece):
            out += view
    return bytes(out), decoder.close()


def code_of(action: Callable[[], object]) -> str:
    with pytest.raises(S3Error) as err:
        action()
    return err.value.code


SPLITS = ["whole", "1", "7", "random"]


@pytest.mark.parametrize("how", SPLITS)
def test_aws_published_example(how: str) -> None:
    data, trailers = decode(AWS_BODY, how, context=AWS_CONTEXT)
    assert data == b"a" * 66560 and trailers == {}


@pytest.mark.parametrize("how", SPLITS)
@pytest.mark.parametrize("size", [0, 1, 8192, 8193, 100_000])
def test_botocore_unsigned_trailer(how: str, size: int) -> None:
    payload = os.urandom(size)
    data, trailers = decode(botocore_body(payload), how)
    assert data == payload
    assert trailers == {"x-amz-checksum-crc32": crc32_b64(payload)}


@pytest.mark.parametrize("how", SPLITS)
def test_signed_chunks_with_signed_trailer(how: str) -> None:
    payload = os.urandom(50_000)
    body = signed_body(payload, trailers={"x-amz-checksum-crc32": crc32_b64(payload)})
    data, trailers = decode(body, how, context=CONTEXT, signed_trailer=True)
    assert data == payload and trailers == {"x-amz-checksum-crc32": crc32_b64(payload)}


def test_signature_chain_is_verified() -> None:
    payload = os.urandom(30_000)
    body = signed_body(payload)
    flipped = bytearray(body)
    flipped[body.index(b"\r\n") + 100] ^= 1  # a data byte of the first chunk
    assert code_of(lambda: decode(bytes(flipped), context=CONTEXT)) == "SignatureDoesNotMatch"
    other_seed = SigningContext(CONTEXT.signing_key, CONTEXT.amz_date, CONTEXT.scope, "cd" * 32)
    assert code_of(lambda: decode(body, context=other_seed)) == "SignatureDoesNotMatch"
    last_sig = body.rindex(b"chunk-signature=") + len(b"chunk-signature=")
    bad_final = body[:last_sig] + (b"0" if body[last_sig:last_sig + 1] != b"0" else b"1") + body[last_sig + 1 :]
    assert code_of(lambda: decode(bad_final, context=CONTEXT)) == "SignatureDoesNotMatch"
    unsigned = body.replace(b";chunk-signature=", b";x=", 1)
    assert code_of(lambda: decode(unsigned, context=CONTEXT)) == "IncompleteBody"


def test_trailer_signature_is_verified() -> None:
    payload = os.urandom(9000)
    body = signed_body(payload, trailers={"x-amz-checksum-crc32": crc32_b64(payload)})
    swapped = body.replace(crc32_b64(payload).encode(), b"AAAAAA==")
    assert code_of(lambda: decode(swapped, context=CONTEXT, signed_trailer=True)) == "SignatureDoesNotMatch"
    start = body.index(b"x-amz-trailer-signature:")
    missing = body[:start] + b"\r\n"
    assert code_of(lambda: decode(missing, context=CONTEXT, signed_trailer=True)) == "SignatureDoesNotMatch"
    assert code_of(lambda: decode(body[:start], context=CONTEXT, signed_trailer=True)) == "IncompleteBody"


def test_small_chunk_before_another_is_refused() -> None:
    body = b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    with pytest.raises(S3Error) as err:
        decode(body)
    assert err.value.code == "InvalidChunkSizeError"
    assert err.value.extra == {"Chunk": "2", "BadChunkSize": "3"}
    assert decode(b"2000\r\n" + b"x" * 8192 + b"\r\n3\r\nabc\r\n0\r\n\r\n")[0] == b"x" * 8192 + b"abc"


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nab\r\n0\r\n\r\n",            # not hex
        b"0x2\r\nab\r\n0\r\n\r\n",           # int() would take it
        b"_2\r\nab\r\n0\r\n\r\n",
        b"-2\r\nab\r\n0\r\n\r\n",
        b"\r\nab\r\n0\r\n\r\n",              # empty size
        b"2\nab\r\n0\r\n\r\n",               # LF only
        b"2\r\nabXY0\r\n\r\n",               # no CRLF after data
        b"2\r\nab\r0\r\n\r\n",
        b"3\r\nab\r\n0\r\n\r\n",             # size larger than data: CRLF eaten
        b"11111111111111111\r\n",            # 17 hex digits
        b"2\r\nab\r\n0\r\nbad trailer\r\n\r\n",
        b"2\r\nab\r\n0\r\nx:1\r\nx:2\r\n\r\n",
        b"2\r\nab\r\n0\r\n\r\nextra",        # data after the end
    ],
)
def test_malformed_framing(body: bytes) -> None:
    for how in ("whole", "1"):
        assert code_of(lambda how=how: decode(body, how)) == "IncompleteBody"  # type: ignore[misc]


def test_every_truncation_fails_or_only_drops_trailer_lines() -> None:
    payload = os.urandom(20_000)
    body = botocore_body(payload)
    trailer_start = body.rindex(b"0\r\n") + 3
    for cut in range(len(body)):
        decoder = AwsChunkedDecoder()
        decoder.feed(body[:cut])
        at_line_boundary = cut >= trailer_start and body[cut - 2 : cut] == b"\r\n"
        if at_line_boundary:
            decoder.close()  # the caller sees the trailer is missing
        else:
            assert code_of(decoder.close) == "IncompleteBody", cut


def test_line_length_is_bounded() -> None:
    decoder = AwsChunkedDecoder()
    with pytest.raises(S3Error) as err:
        for _ in range(1000):
            decoder.feed(b"1" * 1000)  # a size line that never ends
    assert err.value.code == "IncompleteBody"
    assert len(decoder._line) < MAX_LINE
    long_extension = b"2;" + b"e" * MAX_LINE + b"\r\nab\r\n0\r\n\r\n"
    assert code_of(lambda: decode(long_extension)) == "IncompleteBody"


def test_upper_case_hex_and_extensions() -> None:
    body = b"2000;ext=1\r\n" + b"y" * 8192 + b"\r\nA;x\r\n0123456789\r\n0\r\n\r\n"
    assert decode(body, "7")[0] == b"y" * 8192 + b"0123456789"


def test_final_empty_line_may_be_missing() -> None:
    assert decode(b"2\r\nab\r\n0\r\n") == (b"ab", {})
    assert decode(b"2\r\nab\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n")[1] == {"x-amz-checksum-crc32": "AAAAAA=="}


def test_output_is_views_of_input_not_copies() -> None:
    decoder = AwsChunkedDecoder()
    piece = b"2000\r\n" + b"z" * 8192
    views = decoder.feed(piece)
    assert len(views) == 1 and views[0].obj is piece


@settings(max_examples=300, deadline=None)
@given(
    payload=st.binary(max_size=20_000),
    position=st.integers(min_value=0),
    byte=st.integers(0, 255),
    cuts=st.lists(st.integers(1, 5000), max_size=10),
)
def test_fuzz_corruption_never_leaks_python_errors(payload: bytes, position: int, byte: int, cuts: list[int]) -> None:
    body = bytearray(signed_body(payload, trailers={"x-amz-checksum-crc32": crc32_b64(payload)}))
    body[position % len(body)] = byte
    decoder = AwsChunkedDecoder(CONTEXT, signed_trailer=True)
    pos = 0
    try:
        out = bytearray()
        for step in [*cuts, len(body)]:
            for view in decoder.feed(bytes(body[pos : pos + step])):
                out += view
            pos += step
        decoder.close()
    except S3Error:
        return
    assert bytes(out) == payload  # an accepted body is the signed one
