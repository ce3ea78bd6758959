"""server.http.checksums against published check values and botocore's own checksums."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib

import pytest
from botocore import httpchecksum
from hypothesis import given
from hypothesis import strategies as st

from server.http.checksums import (
    ALGORITHMS,
    algorithm_of_header,
    b64,
    composite,
    decode_value,
    full_object,
    header_name,
    new_hasher,
)
from server.s3.errors import S3Error

# The "check" value of each CRC over b"123456789" (CRC catalogue; NVMe spec for CRC64).
CHECK = {
    "CRC32": 0xCBF43926,
    "CRC32C": 0xE3069283,
    "CRC64NVME": 0xAE8B14860A799888,
}
BOTOCORE = {
    "CRC32": httpchecksum.Crc32Checksum,
    "CRC32C": httpchecksum.CrtCrc32cChecksum,
    "CRC64NVME": httpchecksum.CrtCrc64NvmeChecksum,
    "SHA1": httpchecksum.Sha1Checksum,
    "SHA256": httpchecksum.Sha256Checksum,
}


def digest(algorithm: str, data: bytes) -> bytes:
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return hasher.digest()


@pytest.mark.parametrize("algorithm", sorted(CHECK))
def test_crc_check_values(algorithm: str) -> None:
    size = 8 if algorithm == "CRC64NVME" else 4
    assert digest(algorithm, b"123456789") == CHECK[algorithm].to_bytes(size, "big")


def test_sha_vectors() -> None:
    assert digest("SHA1", b"abc").hex() == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert digest("SHA256", b"abc").hex() == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_empty_input() -> None:
    assert b64(digest("CRC32", b"")) == "AAAAAA=="
    assert b64(digest("CRC64NVME", b"")) == "AAAAAAAAAAA="
    assert digest("SHA256", b"") == hashlib.sha256().digest()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("size", [0, 1, 7, 4096, 1 << 20])
def test_matches_botocore(algorithm: str, size: int) -> None:
    data = os.urandom(size)
    oracle = BOTOCORE[algorithm]()
    oracle.update(data)
    assert b64(digest(algorithm, data)) == oracle.b64digest()


@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000), max_size=6))
def test_incremental_equals_one_shot(data: bytes, cuts: list[int]) -> None:
    points = sorted({min(c, len(data)) for c in cuts})
    for algorithm in ALGORITHMS:
        hasher = new_hasher(algorithm)
        start = 0
        for point in [*points, len(data)]:
            hasher.update(memoryview(data)[start:point])
            start = point
        assert hasher.digest() == digest(algorithm, data)


def test_crc32_is_zlib_big_endian() -> None:
    data = b"fragstore" * 1000
    assert digest("CRC32", data) == zlib.crc32(data).to_bytes(4, "big")


def test_header_names() -> None:
    assert header_name("CRC64NVME") == "x-amz-checksum-crc64nvme"
    assert [algorithm_of_header(header_name(a)) for a in ALGORITHMS] == list(ALGORITHMS)
    assert algorithm_of_header("X-Amz-Checksum-Sha256") == "SHA256"
    assert algorithm_of_header("x-amz-checksum-type") is None
    assert algorithm_of_header("x-amz-checksum-algorithm") is None
    assert algorithm_of_header("x-amz-meta-crc32") is None


def test_decode_value_checks_base64_and_length() -> None:
    assert decode_value("CRC32", "AAAAAA==") == b"\0\0\0\0"
    assert decode_value("CRC32", "AAAAAAAAAAA=") is None  # 8 bytes: a CRC64 value
    assert decode_value("CRC32", "not base64!") is None
    assert decode_value("SHA256", b64(b"x" * 31)) is None


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_composite(algorithm: str) -> None:
    parts = [os.urandom(1000), os.urandom(5), b""]
    raw = [digest(algorithm, p) for p in parts]
    expected = BOTOCORE[algorithm]()
    expected.update(b"".join(raw))
    assert composite(algorithm, [b64(r) for r in raw]) == f"{expected.b64digest()}-3"


def test_composite_known_sha256() -> None:
    part = hashlib.sha256(b"part").digest()
    whole = hashlib.sha256(part + part).digest()
    assert composite("SHA256", [b64(part), b64(part)]) == base64.b64encode(whole).decode() + "-2"


def test_composite_rejects_bad_part_value() -> None:
    with pytest.raises(S3Error) as err:
        composite("CRC32", ["AAAAAA==", "bad"])
    assert err.value.code == "InvalidRequest"


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_full_object_is_crc_of_concatenation(algorithm: str) -> None:
    parts = [os.urandom(n) for n in (5 << 10, 1, 0, 777)]
    values = [(b64(digest(algorithm, p)), len(p)) for p in parts]
    assert full_object(algorithm, values) == b64(digest(algorithm, b"".join(parts)))


def test_full_object_refuses_sha() -> None:
    with pytest.raises(S3Error) as err:
        full_object("SHA256", [(b64(hashlib.sha256(b"").digest()), 0)])
    assert err.value.code == "InvalidRequest"


def test_unknown_algorithm() -> None:
    with pytest.raises(ValueError):
        new_hasher("MD5")
