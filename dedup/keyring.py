"""The keyring: the data keys of the SSE-S3 and SSE-KMS encryption domains,
wrapped, in ``<data>/keyring``; the master key that wraps them; and which
domain a body is written or read in (dedup/encryption.py has the domains).

The SSE-S3 domain's secret is a random *data key* wrapped (AES-256-GCM, the
key id as associated data) by the *master key*, which lives outside the index
(a file, mode 0600; see docs/OPERATIONS.md). Rotating the master key re-wraps
the data keys: no pack is rewritten. The data key of an SSE-KMS key's domain
is wrapped by that key's material instead (a local keyring of named keys).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dedup import errors
from dedup.encryption import (
    KEY_BYTES,
    KEY_ID,
    NONCE_BYTES,
    Domain,
    customer_domain,
    customer_key_check,
    customer_key_matches,
    derive,
)
from dedup.errors import EncryptionKeyError, MasterKeyMissing, WrongMasterKey
from dedup.fsutil import publish_file
from dedup.types import SSE_C, SSE_KMS, SSE_S3, Encryption, ObjectMeta

KEYRING_FILE = "keyring"
SSE_S3_DOMAIN = "sse-s3"
KMS_PREFIX = "kms:"  # domain of an SSE-KMS key: "kms:<key name>"


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
    return derive(master, "master key fingerprint")[:8].hex()


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
        self._domains: dict[int, Domain] = {}  # every key id -> its domain (with all its keys)
        self._ids: dict[str, list[int]] = {}  # domain name -> its key ids, oldest first
        self._lock = threading.RLock()
        self._seen: tuple[int, int, int] | None = None  # the keyring file as last read (inode, mtime, size)
        self._load(self._read())

    @contextmanager
    def _making(self) -> Iterator[None]:
        """Making a key: ``<data>/keyring.lock`` (flock) held, for processes
        sharing the data directory (gateways on one index, --workers), so that
        a new key is made by one process at a time, after reading the others'.
        Reads need no lock: the file is only ever replaced whole (rename)."""
        with self._lock:
            fd = os.open(self.path.with_name(KEYRING_FILE + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock

    def _load(self, doc: dict) -> None:
        """Take the keys of ``doc`` this keyring does not hold yet."""
        mastered = [e for e in doc["keys"] if not e.get("kms")]
        if mastered and self.master is not None and doc["master"] != master_fingerprint(self.master):
            raise WrongMasterKey(f"{self.path} was wrapped with master key {doc['master']}, "
                                 f"not with the one configured ({master_fingerprint(self.master)})")
        for entry in sorted(doc["keys"], key=lambda e: int(e["id"])):
            key_id = int(entry["id"])
            if key_id in self._ids.get(entry["domain"], ()):
                continue
            wrapping = self.kms_keys.get(entry["kms"]) if entry.get("kms") else self.master
            if wrapping is None:
                self._ids.setdefault(entry["domain"], []).append(key_id)
                continue
            self._add(entry["domain"], key_id, _unwrap(wrapping, entry["wrapped"], key_id))

    def _refresh(self) -> None:
        """Read keys another process added since (a name or key id not known here)."""
        with self._lock:
            self._load(self._read())

    def _add(self, name: str, key_id: int, secret: bytes) -> Domain:
        """Take data key ``key_id`` into domain ``name`` (its first key: the domain's names)."""
        ids = self._ids.setdefault(name, [])
        current = self._domains.get(ids[0]) if ids else None
        domain = Domain.from_secret(key_id, secret) if current is None else current.with_key(key_id, secret)
        ids.append(key_id)
        for i in ids:
            self._domains[i] = domain
        return domain

    def _read(self) -> dict:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return {"master": "", "keys": []}
        self._seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        return json.loads(self.path.read_text())  # type: ignore[no-any-return]

    def _changed(self) -> bool:
        """Whether another process replaced the keyring file since it was read."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        return (st.st_ino, st.st_mtime_ns, st.st_size) != self._seen

    def _require_master(self) -> bytes:
        if self.master is None:
            raise MasterKeyMissing("encrypted data needs the master key, and none is configured")
        return self.master

    def domain(self, name: str) -> Domain:
        """The domain ``name`` (e.g. :data:`SSE_S3_DOMAIN`), its data key made on first use."""
        if name in self._ids:
            return self.find(name)
        return self._new_key(name, None, first=True)

    def kms_domain(self, kms_key: str) -> Domain:
        """The domain of SSE-KMS key ``kms_key``, its data key made on first use
        and wrapped by that key's material."""
        name = kms_domain_name(kms_key)
        if name in self._ids:
            return self.find(name)
        return self._new_key(name, kms_key, first=True)

    def roll(self, domain: Domain) -> Domain:
        """``domain`` with a new data key that seals its new records from now on
        (before random nonces under the current one near their bound); names,
        and so dedup, are unchanged, and older records keep opening."""
        name = next(n for n, ids in self._ids.items() if domain.key_id in ids)
        kms = name[len(KMS_PREFIX):] if name.startswith(KMS_PREFIX) else None
        return self._new_key(name, kms)

    def _new_key(self, name: str, kms_key: str | None, first: bool = False) -> Domain:
        """A new random data key for domain ``name``, wrapped by the master key
        (or by KMS key ``kms_key``), published before any record is sealed with it.
        ``first``: only if the domain has no key yet, in this process or, read
        under the lock, in another one sharing the directory (else its keys are
        taken: two processes never give one domain two different names)."""
        if kms_key is None:
            wrapping = self._require_master()
        else:
            material = self.kms_keys.get(kms_key)
            if material is None:
                raise EncryptionKeyError(f"KMS key {kms_key} is not in the KMS keyring")
            wrapping = material
        with self._making():
            doc = self._read()
            self._load(doc)
            if first and self._ids.get(name) and self._ids[name][-1] in self._domains:
                return self._domains[self._ids[name][-1]]
            key_id = max((int(e["id"]) for e in doc["keys"]), default=0) + 1
            secret = os.urandom(KEY_BYTES)
            entry = {"id": key_id, "domain": name, "wrapped": _wrap(wrapping, secret, key_id)}
            if kms_key is None:
                doc["master"] = master_fingerprint(wrapping)
            else:
                entry["kms"] = kms_key
            doc["keys"].append(entry)
            publish_file(self.path, (json.dumps(doc, indent=2) + "\n").encode(), mode=0o600)
            return self._add(name, key_id, secret)

    def for_write(self, encryption: Encryption | None, meta: ObjectMeta) -> tuple[Domain | None, ObjectMeta]:
        """The domain a new body is written in, and its metadata saying so."""
        if encryption is None:
            return None, replace(meta, encryption="", key_check="", kms_key="")
        if encryption.mode == SSE_S3:
            return self.domain(SSE_S3_DOMAIN), replace(meta, encryption=SSE_S3, key_check="", kms_key="")
        if encryption.mode == SSE_KMS:
            return (self.kms_domain(encryption.kms_key),
                    replace(meta, encryption=SSE_KMS, key_check="", kms_key=encryption.kms_key))
        if encryption.mode == SSE_C:
            check = customer_key_check(encryption.customer_key)
            return customer_domain(encryption.customer_key), replace(meta, encryption=SSE_C, key_check=check,
                                                                     kms_key="")
        raise ValueError(f"unknown encryption mode {encryption.mode!r}")

    def for_read(self, meta: ObjectMeta, customer_key: bytes | None = None) -> Domain | None:
        """The domain a version (or an upload) with ``meta`` is read in; for an
        SSE-C one, ``customer_key`` must be its key (checked against its verifier)."""
        if meta.encryption == SSE_C:
            if customer_key is None:
                raise errors.CustomerKeyRequired()
            if not customer_key_matches(customer_key, meta.key_check):
                raise errors.CustomerKeyMismatch()
            return customer_domain(customer_key)
        if customer_key is not None:
            raise errors.CustomerKeyNotApplicable()
        if meta.encryption == SSE_S3:
            return self.find(SSE_S3_DOMAIN)
        if meta.encryption == SSE_KMS:
            return self.find(kms_domain_name(meta.kms_key))
        return None

    def find(self, name: str) -> Domain:
        """The existing domain ``name`` (for reading: never makes a key)."""
        if name not in self._ids or self._changed():  # one stat: a key another process added
            self._refresh()
        ids = self._ids.get(name)
        if not ids:
            self._require_master()
            raise EncryptionKeyError(f"no data key for {name} in the keyring")
        return self.by_id(ids[-1])

    def by_id(self, key_id: int) -> Domain:
        domain = self._domains.get(key_id)
        if domain is None:
            self._refresh()
            domain = self._domains.get(key_id)
        if domain is None:
            kms = next((n[len(KMS_PREFIX):] for n, ids in self._ids.items() if key_id in ids
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
