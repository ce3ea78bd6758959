"""S3's additional checksums: CRC32, CRC32C, CRC64NVME, SHA1, SHA256.

Every algorithm is a :class:`Hasher` (``update`` then ``digest``), and S3 sends
and stores the raw digest base64-encoded. CRC32 is ISA-L's (``isal``: 0.033
ns/B with the CPU's carry-less multiply, against 0.145 for the system zlib's
and 0.29 for awscrt's, and botocore sends one with every PUT by default);
CRC32C and CRC64NVME come from ``awscrt``, the library botocore itself uses.
All of them release the GIL on large buffers, so callers may hash in worker
threads.

Multipart objects carry one of two kinds of checksum:

- COMPOSITE: ``base64(H(raw part digest 1 || ... || raw part digest n)) + "-n"``
  (:func:`composite`), for every algorithm;
- FULL_OBJECT: the CRC of the whole object, combined from the parts' CRCs and
  lengths without re-reading any byte (:func:`full_object`), CRCs only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Sequence
from typing import Final, Protocol

from awscrt import checksums as crt
from isal import isal_zlib

from server.s3.errors import S3Error

ALGORITHMS: tuple[str, ...] = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")

_DIGEST_SIZE: Final[dict[str, int]] = {
    "CRC32": 4,
    "CRC32C": 4,
    "CRC64NVME": 8,
    "SHA1": 20,
    "SHA256": 32,
}


class Hasher(Protocol):
    """A running checksum."""

    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    """A CRC as a :class:`Hasher`: ``step(data, previous) -> int``, big-endian digest."""

    __slots__ = ("_step", "_size", "_value")

    def __init__(self, step: Callable[[bytes | bytearray | memoryview, int], int], size: int) -> None:
        self._step = step
        self._size = size
        self._value = 0

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        self._value = self._step(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._size, "big")


def _isal_crc32(data: bytes | bytearray | memoryview, previous: int) -> int:
    return isal_zlib.crc32(data, previous)


def _crt_crc32c(data: bytes | bytearray | memoryview, previous: int) -> int:
    return crt.crc32c(data, previous)


def _crt_crc64nvme(data: bytes | bytearray | memoryview, previous: int) -> int:
    return crt.crc64nvme(data, previous)


def new_hasher(algorithm: str) -> Hasher:
    """A fresh hasher for one of :data:`ALGORITHMS` (upper case)."""
    if algorithm == "CRC32":
        return _Crc(_isal_crc32, 4)
    if algorithm == "CRC32C":
        return _Crc(_crt_crc32c, 4)
    if algorithm == "CRC64NVME":
        return _Crc(_crt_crc64nvme, 8)
    if algorithm == "SHA1":
        return hashlib.sha1(usedforsecurity=False)
    if algorithm == "SHA256":
        return hashlib.sha256()
    raise ValueError(f"unknown checksum algorithm {algorithm!r}")


def b64(digest: bytes) -> str:
    """The digest as S3 writes it: standard base64 with padding."""
    return base64.b64encode(digest).decode("ascii")


def header_name(algorithm: str) -> str:
    """``x-amz-checksum-crc32`` and so on: the header (or trailer) carrying a value."""
    return "x-amz-checksum-" + algorithm.lower()


def algorithm_of_header(name: str) -> str | None:
    """The algorithm a ``x-amz-checksum-*`` header name stands for, or None."""
    lowered = name.strip().lower()
    if not lowered.startswith("x-amz-checksum-"):
        return None
    algorithm = lowered[len("x-amz-checksum-") :].upper()
    return algorithm if algorithm in _DIGEST_SIZE else None


def decode_value(algorithm: str, value: str) -> bytes | None:
    """The raw digest in a base64 checksum value, or None when it is not one
    (bad base64, or the wrong length for the algorithm)."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == _DIGEST_SIZE[algorithm] else None


def composite(algorithm: str, part_checksums_b64: Sequence[str]) -> str:
    """S3's COMPOSITE multipart checksum of the parts' base64 checksums, in part order."""
    hasher = new_hasher(algorithm)
    for value in part_checksums_b64:
        raw = decode_value(algorithm, value)
        if raw is None:
            raise S3Error("InvalidRequest", f"Value for {header_name(algorithm)} is invalid.")
        hasher.update(raw)
    return f"{b64(hasher.digest())}-{len(part_checksums_b64)}"


_COMBINE: Final[dict[str, Callable[[int, int, int], int]]] = {
    "CRC32": crt.combine_crc32,
    "CRC32C": crt.combine_crc32c,
    "CRC64NVME": crt.combine_crc64nvme,
}


def full_object(algorithm: str, parts: Sequence[tuple[str, int]]) -> str:
    """S3's FULL_OBJECT multipart checksum from ``(base64 CRC, byte length)`` per part,
    in part order: the CRC of the concatenated parts. CRC algorithms only."""
    combine = _COMBINE.get(algorithm)
    if combine is None:
        raise S3Error("InvalidRequest", f"The FULL_OBJECT checksum type does not support {algorithm}.")
    size = _DIGEST_SIZE[algorithm]
    value = 0
    for part_b64, length in parts:
        raw = decode_value(algorithm, part_b64)
        if raw is None:
            raise S3Error("InvalidRequest", f"Value for {header_name(algorithm)} is invalid.")
        value = combine(value, int.from_bytes(raw, "big"), length)
    return b64(value.to_bytes(size, "big"))
