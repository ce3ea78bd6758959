"""SSE-KMS with a local keyring: named keys and who may use them.

``--kms-keys FILE`` (env ``FRAGSTORE_KMS_KEYS``, or ``kms_keys`` in the
settings file) is JSON, read at start::

    {"default": "models",
     "keys": {"models": {"material": "<64 hex digits>",
                         "GenerateDataKey": ["AKIA...", "*"],
                         "Decrypt": ["AKIA..."]}}}

A key's ``material`` wraps the data keys of its encryption domain
(dedup/encryption.py): objects under one KMS key dedup with each other and
with nothing else, and removing a key from the file makes its objects
unreadable. ``GenerateDataKey`` lists the access keys that may write new
objects under the key, ``Decrypt`` those that may read them (and copy from
them): kms:GenerateDataKey and kms:Decrypt of a KMS key policy, by principal,
``"*"`` for any authenticated caller. The root key may use every key, as it
may do everything. A request may name a key by its name, ``alias/NAME`` or
an ARN ending in ``key/NAME`` or ``alias/NAME``; ``default`` is the key of a
request that asks for ``aws:kms`` without naming one (AWS's ``aws/s3``).

Checked by server/s3/sse.py once the key an operation uses is known (for a
read, from the version's metadata): a departure from "one authorization
function", which decides before the object is read (docs/DESIGN.md).
An unknown key answers 400 KMS.NotFoundException, a key the caller may not
use 403 AccessDenied, as S3 does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

GENERATE = "GenerateDataKey"
DECRYPT = "Decrypt"
ANYONE = "*"


class KmsKeysError(ValueError):
    """A KMS keyring file that cannot be used."""


@dataclass(frozen=True)
class KmsKey:
    name: str
    material: bytes = field(repr=False)
    users: Mapping[str, frozenset[str]]  # action -> access keys (or "*")


@dataclass(frozen=True)
class KmsKeys:
    keys: Mapping[str, KmsKey] = field(default_factory=dict)
    default: str | None = None

    def materials(self) -> dict[str, bytes]:
        return {name: key.material for name, key in self.keys.items()}

    def resolve(self, key_id: str | None) -> str | None:
        """The name of the key ``key_id`` names (None: the default), or None if there is no such key."""
        if not key_id:
            return self.default if self.default in self.keys else None
        name = key_id.strip()
        for marker in ("key/", "alias/"):
            if marker in name:
                name = name.rsplit(marker, 1)[1]
        return name if name in self.keys else None

    def may(self, name: str, action: str, caller: str, root: str) -> bool:
        if caller and caller == root:
            return True
        users = self.keys[name].users.get(action, frozenset())
        return (ANYONE in users and bool(caller)) or caller in users


def load_kms_keys(path: Path | None) -> KmsKeys:
    if path is None:
        return KmsKeys()
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KmsKeysError(f"{path}: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), dict):
        raise KmsKeysError(f"{path}: a JSON object with \"keys\" is expected")
    keys = {}
    for name, spec in doc["keys"].items():
        try:
            material = bytes.fromhex(str(spec["material"]))
        except (KeyError, TypeError, ValueError):
            material = b""
        if len(material) != 32:
            raise KmsKeysError(f"{path}: key {name!r}: \"material\" must be 64 hex digits")
        users = {action: frozenset(str(u) for u in spec.get(action, [])) for action in (GENERATE, DECRYPT)}
        keys[str(name)] = KmsKey(str(name), material, users)
    default = doc.get("default")
    if default is not None and default not in keys:
        raise KmsKeysError(f"{path}: default key {default!r} is not in \"keys\"")
    return KmsKeys(keys, default)
