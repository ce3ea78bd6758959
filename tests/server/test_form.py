"""server.http.form: the streaming multipart/form-data reader, fed bodies cut
into pieces anywhere (hypothesis), as uvicorn hands them over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.http.form import MAX_PRE_DATA, Form, boundary_of, read_form
from server.s3.errors import S3Error
from tests.server.postform import form_body


async def pieces(data: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    start = 0
    for cut in sorted(set(c % (len(data) + 1) for c in cuts)):
        if cut > start:
            yield data[start:cut]
            start = cut
    if start < len(data):
        yield data[start:]


async def parse(data: bytes, boundary: str, cuts: list[int] | None = None) -> tuple[Form, bytes | None]:
    form = await read_form(pieces(data, cuts or []), boundary.encode())
    if form.file is None:
        return form, None
    return form, b"".join([piece async for piece in form.file.data])


def run(data: bytes, boundary: str, cuts: list[int] | None = None) -> tuple[Form, bytes | None]:
    return asyncio.run(parse(data, boundary, cuts))


def raw(body_fields: list[tuple[str, str]], file: bytes | None, **kw: object) -> tuple[bytes, str]:
    body = form_body(body_fields, file, **kw)  # type: ignore[arg-type]
    return b"".join(body.chunks()), body.boundary


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    values=st.lists(st.text(max_size=40), max_size=5),
    file=st.binary(max_size=3000) | st.sampled_from([b"\r\n--", b"\r\n-", b"\r", b"--", b"\r\n\r\n"]),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_any_cut_gives_the_same_form(values: list[str], file: bytes, cuts: list[int]) -> None:
    fields = [(f"x-amz-meta-f{i}", v.replace("\r", "")) for i, v in enumerate(values)]
    data, boundary = raw(fields, file, after=[("submit", "Upload")])
    form, got = run(data, boundary, cuts)
    assert form.fields == fields and got == file
    assert form.file is not None and form.file.filename == "upload.bin"
    assert form.file.content_type == "application/octet-stream"


def test_file_holding_near_delimiters() -> None:
    data, boundary = raw([("key", "k")], b"")
    tricky = b"\r\n--" + boundary.encode()[:-1] + b"X\r\n" + b"\r\n-" * 50
    data, boundary2 = raw([("key", "k")], tricky)
    for size in (1, 2, 3, 7, 64, 1000):
        assert run(data, boundary2, list(range(0, len(data), size)))[1] == tricky


def test_preamble_padding_and_no_file() -> None:
    data, boundary = raw([("a", "1"), ("b", "two words")], None)
    form, got = run(b"preamble text\r\n" + data.replace(b"\r\n", b"  \r\n", 1), boundary)
    assert form.fields == [("a", "1"), ("b", "two words")] and form.file is None and got is None


def test_file_field_name_is_case_insensitive_and_fields_after_are_ignored() -> None:
    data, boundary = raw([("key", "k")], b"bytes", file_field="File", after=[("policy", "late")])
    form, got = run(data, boundary)
    assert form.fields == [("key", "k")] and got == b"bytes"


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "multipart/form-data", "multipart/mixed; boundary=x", "multipart/form-data; boundary="],
)
def test_bad_content_type(content_type: str | None) -> None:
    with pytest.raises(S3Error) as err:
        boundary_of(content_type)
    assert err.value.code == "MalformedPOSTRequest"


def test_boundary_forms() -> None:
    assert boundary_of('multipart/form-data; charset=utf-8; boundary="a b:c"') == b"a b:c"
    assert boundary_of("Multipart/Form-Data;boundary=----WebKit123") == b"----WebKit123"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d[: d.index(b"\r\n\r\n")],                      # cut inside the first part's headers
        lambda d: d[: len(d) - 12],                               # no closing delimiter after the file
        lambda d: d.replace(b"Content-Disposition: form-data", b"Content-Disposition: attachment", 1),
        lambda d: d.replace(b"Content-Disposition: form-data; name=\"key\"", b"Content-Disposition: form-data", 1),
        lambda d: d.replace(b"Content-Disposition", b"Content-Disposition-", 1).replace(b": form", b"form", 1),
        lambda d: d.replace(b"\r\n", b"xx", 1),                   # garbage after the first delimiter
        lambda d: b"no delimiter at all",
        lambda d: d.replace(b"value", b"\xff\xfe", 1),            # a field that is not UTF-8
    ],
)
def test_malformed(mangle: object) -> None:
    data, boundary = raw([("key", "value")], b"file bytes")
    with pytest.raises(S3Error) as err:
        run(mangle(data), boundary)  # type: ignore[operator]
    assert err.value.code == "MalformedPOSTRequest"


def test_fields_before_the_file_are_limited() -> None:
    near = [("x-amz-meta-a", "v" * (MAX_PRE_DATA - 500))]
    data, boundary = raw(near, b"f" * 100_000)
    assert run(data, boundary, list(range(0, len(data), 4096)))[1] == b"f" * 100_000
    for fields, file in (([("x-amz-meta-a", "v" * MAX_PRE_DATA)], b"f"), ([("a", "v" * 50_000)], None)):
        data, boundary = raw(fields, file)
        for cuts in ([], list(range(0, len(data), 1000))):
            with pytest.raises(S3Error) as err:
                run(data, boundary, cuts)
            assert err.value.code == "MaxPostPreDataLengthExceededError"
