"""Encryption at rest: encryption domains, sealed fragment records, customer keys.

A fragment is *sealed* after dedup and compression: its stored bytes become ::

    key id(4)  nonce(12)  AES-256-GCM(stored bytes) with its 16-byte tag

with the record's codec byte marked :data:`SEALED` and the fragment's name and
codec as associated data (a record cannot be swapped for another one).

Every sealed fragment belongs to an *encryption domain* (:class:`Domain`): SSE-S3
(one domain for the whole store), one SSE-KMS key, or one customer key (SSE-C). A domain has
two keys derived from its secret: one encrypts, the other names. A fragment's
name inside a domain is the keyed BLAKE3 of its plaintext under the domain's
name key (the plain BLAKE3 outside any domain), so

- dedup inside a domain is exactly dedup without encryption (one name per
  plaintext, the same cut points);
- the same plaintext has different names in different domains: a plaintext
  fragment and an encrypted one never share a record, and two customer keys
  never learn whether the other stored the same bytes;
- the index and the pack headers hold only keyed names, which say nothing
  about the plaintext to whoever lacks the domain's secret.

The secrets of the SSE-S3 and SSE-KMS domains are random *data keys* kept
wrapped in ``<data>/keyring`` (dedup/keyring.py). A customer key is never
stored: its domain is derived from it on each request (HKDF-SHA256), and
objects keep only a salted verifier (HMAC-SHA256) that tells a wrong key from
the right one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass

import blake3
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dedup.errors import UndecryptableFragment

SEALED = 0x80  # codec-byte flag of a sealed record; the low bits are the codec
CODEC_MASK = 0x7F
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_ID = struct.Struct(">I")
OVERHEAD = KEY_ID.size + NONCE_BYTES + TAG_BYTES  # 32 bytes a sealed record adds
CUSTOMER_KEY_ID = 0  # sealed under a customer key (SSE-C): nothing to look up


def derive(secret: bytes, purpose: str) -> bytes:
    return HKDF(hashes.SHA256(), KEY_BYTES, salt=None, info=f"fragstore {purpose}".encode()).derive(secret)


@dataclass(frozen=True, eq=False)
class Domain:
    """An encryption domain: how its fragments are named, sealed and opened.

    A domain may hold several data keys (``aeads``, by key id): new records
    are sealed with the newest (``key_id``), each record is opened with the
    one its key id names, and the names never change (they come from the
    domain's first secret), so a new data key costs dedup nothing."""

    key_id: int
    name_key: bytes
    aeads: Mapping[int, AESGCM]
    etag_key: bytes = b""  # SSE-C: ETags are keyed too (a plain MD5 would reveal the bytes)

    @classmethod
    def from_secret(cls, key_id: int, secret: bytes, keyed_etag: bool = False) -> Domain:
        return cls(key_id, derive(secret, "fragment names"), {key_id: AESGCM(derive(secret, "fragment data"))},
                   derive(secret, "etags") if keyed_etag else b"")

    def with_key(self, key_id: int, secret: bytes) -> Domain:
        """This domain with one more data key, which seals new records from now on."""
        aeads = {**self.aeads, key_id: AESGCM(derive(secret, "fragment data"))}
        return Domain(key_id, self.name_key, aeads, self.etag_key)

    def name(self, data: bytes | memoryview) -> bytes:
        """The fragment's name in this domain: keyed BLAKE3 of its plaintext."""
        return blake3.blake3(data, key=self.name_key).digest()

    def seal(self, data: bytes | memoryview, name: bytes, codec: int) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        head = KEY_ID.pack(self.key_id) + nonce
        return head + self.aeads[self.key_id].encrypt(nonce, bytes(data), name + bytes([codec | SEALED]))

    def open(self, stored: bytes | memoryview, name: bytes, codec: int) -> bytes:
        """The plaintext (still encoded by ``codec``) of a sealed record."""
        aead = self.aeads.get(record_key_id(stored))
        if aead is None:
            raise UndecryptableFragment(f"fragment {name.hex()} names data key {record_key_id(stored)}, "
                                        "not one of its domain's")
        nonce = bytes(stored[KEY_ID.size : KEY_ID.size + NONCE_BYTES])
        try:
            return aead.decrypt(nonce, bytes(stored[KEY_ID.size + NONCE_BYTES :]), name + bytes([codec | SEALED]))
        except InvalidTag:
            raise UndecryptableFragment(f"fragment {name.hex()} fails authentication") from None

    def etag(self, md5: bytes) -> str:
        """The ETag of a body whose MD5 is ``md5`` (keyed in an SSE-C domain)."""
        if not self.etag_key:
            return md5.hex()
        return hmac.new(self.etag_key, md5, hashlib.md5).hexdigest()


def record_key_id(stored: bytes | memoryview) -> int:
    return int(KEY_ID.unpack_from(stored)[0])


# -- customer keys (SSE-C) -------------------------------------------------------
def customer_domain(customer_key: bytes) -> Domain:
    return Domain.from_secret(CUSTOMER_KEY_ID, customer_key, keyed_etag=True)


def customer_key_check(customer_key: bytes, salt: bytes | None = None) -> str:
    """A salted verifier of a customer key (stored with the object; never the key)."""
    salt = os.urandom(16) if salt is None else salt
    mac = hmac.new(derive(customer_key, "key check"), salt, hashlib.sha256).digest()
    return base64.b64encode(salt).decode() + ":" + base64.b64encode(mac).decode()


def customer_key_matches(customer_key: bytes, check: str) -> bool:
    salt_b64, _, _ = check.partition(":")
    try:
        salt = base64.b64decode(salt_b64)
    except ValueError:
        return False
    return hmac.compare_digest(customer_key_check(customer_key, salt), check)


def same_domain(a: Domain | None, b: Domain | None) -> bool:
    """Whether two bodies' fragments may be shared (a copy without re-writing)."""
    if a is None or b is None:
        return a is b
    return a.name_key == b.name_key
