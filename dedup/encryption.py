"""Encryption at rest: encryption domains, sealed fragment records, the keyring.

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

The SSE-S3 domain's secret is a random *data key* kept in ``<data>/keyring``
wrapped (AES-256-GCM) by the *master key*, which lives outside the index (a
file, mode 0600; see docs/OPERATIONS.md). Rotating the master key re-wraps the
data keys: no pack is rewritten. The data key of an SSE-KMS key's domain is
wrapped by that key's material instead (a local keyring of named keys). A customer key is never stored: its domain is
derived from it on each request (HKDF-SHA256), and objects keep only a salted
verifier (HMAC-SHA256) that tells a wrong key from the right one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import blake3
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dedup.errors import EncryptionKeyError, MasterKeyMissing, UndecryptableFragment, WrongMasterKey
from dedup.fsutil import publish_file

SEALED = 0x80  # codec-byte flag of a sealed record; the low bits are the codec
CODEC_MASK = 0x7F
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_ID = struct.Struct(">I")
OVERHEAD = KEY_ID.size + NONCE_BYTES + TAG_BYTES  # 32 bytes a sealed record adds
CUSTOMER_KEY_ID = 0  # sealed under a customer key (SSE-C): nothing to look up
KEYRING_FILE = "keyring"
SSE_S3 = "sse-s3"
KMS_PREFIX = "kms:"  # domain of an SSE-KMS key: "kms:<key name>"


def _derive(secret: bytes, purpose: str) -> bytes:
    return HKDF(hashes.SHA256(), KEY_BYTES, salt=None, info=f"fragstore {purpose}".encode()).derive(secret)


@dataclass(frozen=True, eq=False)
class Domain:
    """An encryption domain: how its fragments are named, sealed and opened."""

    key_id: int
    name_key: bytes
    aead: AESGCM
    etag_key: bytes = b""  # SSE-C: ETags are keyed too (a plain MD5 would reveal the bytes)

    @classmethod
    def from_secret(cls, key_id: int, secret: bytes, keyed_etag: bool = False) -> Domain:
        return cls(key_id, _derive(secret, "fragment names"), AESGCM(_derive(secret, "fragment data")),
                   _derive(secret, "etags") if keyed_etag else b"")

    def name(self, data: bytes | memoryview) -> bytes:
        """The fragment's name in this domain: keyed BLAKE3 of its plaintext."""
        return blake3.blake3(data, key=self.name_key).digest()

    def seal(self, data: bytes | memoryview, name: bytes, codec: int) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        head = KEY_ID.pack(self.key_id) + nonce
        return head + self.aead.encrypt(nonce, bytes(data), name + bytes([codec | SEALED]))

    def open(self, stored: bytes | memoryview, name: bytes, codec: int) -> bytes:
        """The plaintext (still encoded by ``codec``) of a sealed record."""
        nonce = bytes(stored[KEY_ID.size : KEY_ID.size + NONCE_BYTES])
        try:
            return self.aead.decrypt(nonce, bytes(stored[KEY_ID.size + NONCE_BYTES :]), name + bytes([codec | SEALED]))
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
    mac = hmac.new(_derive(customer_key, "key check"), salt, hashlib.sha256).digest()
    return base64.b64encode(salt).decode() + ":" + base64.b64encode(mac).decode()


def customer_key_matches(customer_key: bytes, check: str) -> bool:
    salt_b64, _, _ = check.partition(":")
    try:
        salt = base64.b64decode(salt_b64)
    except ValueError:
        return False
    return hmac.compare_digest(customer_key_check(customer_key, salt), check)


# -- the master key and the keyring ---------------------------------------------------
def read_master_key(path: Path) -> bytes:
    """A master key file: 64 hex digits (32 bytes), whitespace around ignored."""
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise EncryptionKeyError(f"{path}: a master key file holds 64 hex digits") from None
    if len(key) != KEY_BYTES:
        raise EncryptionKeyError(f"{path}: a master key file holds 64 hex digits")
    return key


def create_master_key(path: Path) -> bytes:
    """A new random master key written to ``path`` (mode 0600; never overwritten)."""
    key = os.urandom(KEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (key.hex() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


def master_fingerprint(master: bytes) -> str:
    """Names a master key in the keyring without revealing it."""
    return _derive(master, "master key fingerprint")[:8].hex()


def _wrap(master: bytes, key: bytes, key_id: int) -> str:
    nonce = os.urandom(NONCE_BYTES)
    return base64.b64encode(nonce + AESGCM(master).encrypt(nonce, key, KEY_ID.pack(key_id))).decode()


def _unwrap(master: bytes, wrapped: str, key_id: int) -> bytes:
    raw = base64.b64decode(wrapped)
    try:
        return AESGCM(master).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], KEY_ID.pack(key_id))
    except InvalidTag:
        raise WrongMasterKey("the keyring's data keys do not open with this master key") from None


class Keyring:
    """``<data>/keyring``: the data keys, wrapped by the master key. JSON::

        {"master": fingerprint, "keys": [{"id": 1, "domain": "sse-s3", "wrapped": b64}]}

    Published whole (temp, fsync, rename) before any record sealed under a new
    key can be written, so a record never names a key the keyring lacks."""

    def __init__(self, data_dir: Path, master: bytes | None,
                 kms_keys: Mapping[str, bytes] | None = None) -> None:
        """``kms_keys``: the material of SSE-KMS keys by name; a domain of a KMS
        key is wrapped by that key, not by the master key (removing the key
        from the KMS keyring makes its objects unreadable)."""
        self.path = data_dir / KEYRING_FILE
        self.master = master
        self.kms_keys = dict(kms_keys or {})
        self._domains: dict[int, Domain] = {}
        self._by_name: dict[str, int] = {}
        doc = self._read()
        mastered = [e for e in doc["keys"] if not e.get("kms")]
        if mastered and master is not None and doc["master"] != master_fingerprint(master):
            raise WrongMasterKey(f"{self.path} was wrapped with master key {doc['master']}, "
                                 f"not with the one configured ({master_fingerprint(master)})")
        for entry in doc["keys"]:
            key_id = int(entry["id"])
            self._by_name[entry["domain"]] = key_id
            wrapping = self.kms_keys.get(entry["kms"]) if entry.get("kms") else master
            if wrapping is not None:
                self._domains[key_id] = Domain.from_secret(key_id, _unwrap(wrapping, entry["wrapped"], key_id))

    def _read(self) -> dict:
        if not self.path.exists():
            return {"master": "", "keys": []}
        return json.loads(self.path.read_text())  # type: ignore[no-any-return]

    def _require_master(self) -> bytes:
        if self.master is None:
            raise MasterKeyMissing("encrypted data needs the master key, and none is configured")
        return self.master

    def domain(self, name: str) -> Domain:
        """The domain ``name`` (e.g. :data:`SSE_S3`), its data key made on first use."""
        key_id = self._by_name.get(name)
        if key_id is not None:
            return self.by_id(key_id)
        master = self._require_master()
        doc = self._read()
        key_id = max((int(e["id"]) for e in doc["keys"]), default=0) + 1
        secret = os.urandom(KEY_BYTES)
        doc["master"] = master_fingerprint(master)
        doc["keys"].append({"id": key_id, "domain": name, "wrapped": _wrap(master, secret, key_id)})
        return self._publish(doc, name, key_id, secret)

    def kms_domain(self, kms_key: str) -> Domain:
        """The domain of SSE-KMS key ``kms_key``, its data key made on first use
        and wrapped by that key's material."""
        name = kms_domain_name(kms_key)
        key_id = self._by_name.get(name)
        if key_id is not None:
            return self.by_id(key_id)
        material = self.kms_keys.get(kms_key)
        if material is None:
            raise EncryptionKeyError(f"KMS key {kms_key} is not in the KMS keyring")
        doc = self._read()
        key_id = max((int(e["id"]) for e in doc["keys"]), default=0) + 1
        secret = os.urandom(KEY_BYTES)
        doc["keys"].append({"id": key_id, "domain": name, "kms": kms_key, "wrapped": _wrap(material, secret, key_id)})
        return self._publish(doc, name, key_id, secret)

    def _publish(self, doc: dict, name: str, key_id: int, secret: bytes) -> Domain:
        publish_file(self.path, (json.dumps(doc, indent=2) + "\n").encode(), mode=0o600)
        self._domains[key_id] = Domain.from_secret(key_id, secret)
        self._by_name[name] = key_id
        return self._domains[key_id]

    def find(self, name: str) -> Domain:
        """The existing domain ``name`` (for reading: never makes a key)."""
        key_id = self._by_name.get(name)
        if key_id is None:
            self._require_master()
            raise EncryptionKeyError(f"no data key for {name} in the keyring")
        return self.by_id(key_id)

    def by_id(self, key_id: int) -> Domain:
        domain = self._domains.get(key_id)
        if domain is None:
            kms = next((n[len(KMS_PREFIX):] for n, i in self._by_name.items() if i == key_id
                        and n.startswith(KMS_PREFIX)), None)
            if kms is not None:
                raise EncryptionKeyError(f"data key {key_id} is wrapped by KMS key {kms}, not in the KMS keyring")
            self._require_master()
            raise EncryptionKeyError(f"data key {key_id} is not in the keyring")
        return domain


def kms_domain_name(kms_key: str) -> str:
    return KMS_PREFIX + kms_key


def rotate_master_key(data_dir: Path, old: bytes, new: bytes) -> int:
    """Re-wrap every data key of ``data_dir``'s keyring under ``new``; returns how
    many. Packs are untouched: the data keys themselves do not change."""
    path = data_dir / KEYRING_FILE
    if not path.exists():
        return 0
    doc = json.loads(path.read_text())
    if any(not e.get("kms") for e in doc["keys"]) and doc["master"] != master_fingerprint(old):
        raise WrongMasterKey(f"{path} was wrapped with master key {doc['master']}, not with the old key given")
    mastered = [e for e in doc["keys"] if not e.get("kms")]  # KMS keys wrap their own
    for entry in mastered:
        secret = _unwrap(old, entry["wrapped"], int(entry["id"]))
        entry["wrapped"] = _wrap(new, secret, int(entry["id"]))
    doc["master"] = master_fingerprint(new)
    publish_file(path, (json.dumps(doc, indent=2) + "\n").encode(), mode=0o600)
    return len(mastered)
