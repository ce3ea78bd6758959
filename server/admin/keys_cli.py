"""``fragstore key rotate``: a new master key for encryption at rest.

    fragstore key rotate --new-master-key-file NEW [--master-key-file OLD] [--data DIR]

Re-wraps every data key of ``<data>/keyring`` under the new master key
(dedup/keyring.py ``rotate_master_key``): no pack is rewritten, since the
data keys themselves do not change, so it takes milliseconds whatever the
size of the store. NEW is read if it exists, else made (64 hex digits, mode
0600). The old key is the configured one (``--master-key-file``, env or
settings file), else ``<data>/master-key``, which then receives the new key
too. The server must be stopped: it holds the data keys it unwrapped at start
and would wrap a new one under the old key. Once it is done, the old key opens
nothing (keep it only with the backups made under it: docs/OPERATIONS.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from dedup.errors import DataDirLocked, EngineError
from dedup.fsutil import lock_data_dir, publish_file
from dedup.keyring import (
    create_master_key,
    master_fingerprint,
    read_master_key,
    rotate_master_key,
)
from server.admin.config import ServerConfig
from server.admin.masterkey import default_path, load_master_key


def add_parser(commands: argparse._SubParsersAction, add_flags: Callable[..., None]) -> None:  # type: ignore[type-arg]
    key = commands.add_parser("key", help="manage the master key of encryption at rest (server stopped)")
    actions = key.add_subparsers(dest="key_command", required=True)
    rotate = actions.add_parser(
        "rotate", help="re-wrap the data keys under a new master key (no pack is rewritten)",
        description="Re-wrap the data keys of <data>/keyring under the key in --new-master-key-file (made, "
                    "mode 0600, if the file does not exist). The server must be stopped.")
    rotate.add_argument("--new-master-key-file", dest="new_key_file", type=Path, required=True, metavar="FILE",
                        help="the new master key (64 hex digits); made if missing")
    add_flags(rotate, maintenance_only=True)


def run(args: argparse.Namespace, config: ServerConfig) -> int:
    try:
        lock = lock_data_dir(config.data_dir)
    except DataDirLocked:
        print(f"fragstore: a process holds {config.data_dir}: stop the server first (it keeps the data keys "
              "it unwrapped at start), then run this again", file=sys.stderr)
        return 2
    try:
        return _rotate(config, args.new_key_file)
    except (EngineError, OSError) as exc:
        print(f"fragstore: {exc}", file=sys.stderr)
        return 1
    finally:
        os.close(lock)


def _rotate(config: ServerConfig, new_file: Path) -> int:
    old, source = load_master_key(config.data_dir, config.master_key_file, create=False)
    new = read_master_key(new_file) if new_file.exists() else create_master_key(new_file)
    if new == old:
        print("fragstore: the new master key is the current one", file=sys.stderr)
        return 2
    count = rotate_master_key(config.data_dir, old, new)
    where = f"start the server with --master-key-file {new_file}"
    if config.master_key_file is None:  # the default file follows the key
        publish_file(default_path(config.data_dir), (new.hex() + "\n").encode(), mode=0o600)
        where = f"{default_path(config.data_dir)} holds it now too"
    print(f"{count} data key{'s' if count != 1 else ''} re-wrapped under master key {master_fingerprint(new)} "
          f"(the old one was {source}); {where}")
    return 0
