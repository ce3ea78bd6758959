"""Where the master key of encryption at rest comes from (dedup/keyring.py).

``--master-key-file`` (env ``FRAGSTORE_MASTER_KEY_FILE``, or ``master_key_file``
in the settings file) names it; unset, it is ``<data>/master-key``, beside the
root credentials, made (mode 0600) on the first start that finds neither it
nor a keyring that needs another key, and the log says where. The README and
docs/OPERATIONS.md say to move it off the data disk in production: whoever
has the data directory and that file has the plaintext.
"""

from __future__ import annotations

import json
from pathlib import Path

from dedup.errors import MasterKeyMissing
from dedup.keyring import KEYRING_FILE, create_master_key, read_master_key

DEFAULT_NAME = "master-key"


def default_path(data_dir: Path) -> Path:
    return data_dir / DEFAULT_NAME


def _keyring_in_use(data_dir: Path) -> bool:
    path = data_dir / KEYRING_FILE
    return path.exists() and bool(json.loads(path.read_text()).get("keys"))


def load_master_key(data_dir: Path, configured: Path | None, create: bool = True) -> tuple[bytes, str]:
    """(the master key, where it came from). ``create``: make ``<data>/master-key``
    if nothing is configured, none is there, and no keyring needs an older one."""
    if configured is not None:
        return read_master_key(configured), f"read from {configured}"
    path = default_path(data_dir)
    if path.exists():
        return read_master_key(path), f"read from {path}"
    if _keyring_in_use(data_dir):
        raise MasterKeyMissing(f"no master key: {path} is missing and no --master-key-file is given, "
                               "but the data directory holds encrypted data")
    if not create:
        raise MasterKeyMissing(f"no master key: {path} is missing and no --master-key-file is given")
    data_dir.mkdir(parents=True, exist_ok=True)
    return create_master_key(path), f"created in {path} (mode 0600): keep a copy off the data disk"


def find_master_key(data_dir: Path, configured: Path | None) -> bytes | None:
    """The master key for a maintenance command, or None where there is none yet."""
    try:
        return load_master_key(data_dir, configured, create=False)[0]
    except MasterKeyMissing:
        return None
