"""``fragstore user add|list|remove|rotate-key``: the users who may sign
requests besides the root key (server/auth/users.py).

    fragstore user add [--access-key KEY]   a new user; its secret is printed once
    fragstore user list                     access key, where it is defined, buckets owned
    fragstore user remove KEY               refused while KEY owns buckets
    fragstore user rotate-key KEY           a new secret for KEY, printed once

Like the other maintenance commands, they ask the running server that holds
the data directory (its admin API, signed as root: server/admin/users_api.py),
so a new user can sign at once, without a restart; on a stopped directory
they change ``<data>/user-credentials`` themselves, holding the directory so that no
server starts meanwhile. Users of ``--users FILE`` are listed and cannot be
changed here (edit the file).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import Counter
from collections.abc import Callable

from dedup.errors import DataDirLocked, NotADataDir
from dedup.readonly import ReadOnlyStore
from server.admin import client as adminclient
from server.admin.config import ServerConfig
from server.auth.credentials import CredentialsError, parse_users, read_root_file
from server.auth.users import Users


def add_parser(commands: argparse._SubParsersAction, add_flags: Callable[..., None]) -> None:  # type: ignore[type-arg]
    user = commands.add_parser("user", help="add, list, remove users or give one a new secret")
    actions = user.add_subparsers(dest="user_command", required=True)
    add = actions.add_parser("add", help="add a user (prints its access key and secret once)")
    add.add_argument("--access-key", default=None, help="the new user's access key (default: generated)")
    actions.add_parser("list", help="list the users")
    remove = actions.add_parser("remove", help="remove a user that owns no bucket")
    remove.add_argument("access_key")
    rotate = actions.add_parser("rotate-key", help="give a user a new secret (prints it once)")
    rotate.add_argument("access_key")
    for sub in actions.choices.values():
        add_flags(sub, maintenance_only=True)


def _show(result: dict[str, object]) -> int:
    command = result["command"]
    if command == "list":
        users = result["users"]
        assert isinstance(users, list)
        if not users:
            print("no users besides the root key")
        for u in users:
            print(f"{u['access_key']:<24} {u['source']:<12} {u['buckets']} bucket{'s' if u['buckets'] != 1 else ''}")
        return 0
    key = result["access_key"]
    if command == "remove":
        print(f"user {key} removed")
        return 0
    what = "added" if command == "add" else "has a new secret"
    print(f"user {key} {what} (the secret is shown once: keep it)\n  access key: {key}\n  secret key: {result['secret']}")
    return 0


def _apply(users: Users, args: argparse.Namespace, owners: list[tuple[str, str]]) -> dict[str, object]:
    """Do the command on ``users``; ``owners``: (bucket, owner) of every bucket."""
    if args.user_command == "list":
        owned = Counter(owner for _, owner in owners)
        return {"command": "list", "users": [{"access_key": k, "source": s, "buckets": owned.get(k, 0)}
                                             for k, s in users.listing()]}
    if args.user_command == "add":
        key, secret = users.add(args.access_key)
        return {"command": "add", "access_key": key, "secret": secret}
    if args.user_command == "remove":
        users.remove(args.access_key, sorted(name for name, owner in owners if owner == args.access_key))
        return {"command": "remove", "access_key": args.access_key}
    return {"command": "rotate", "access_key": args.access_key, "secret": users.rotate(args.access_key)}


async def _direct(args: argparse.Namespace, config: ServerConfig) -> int | None:
    """On a stopped directory; None when a process holds it."""
    from dedup.fsutil import lock_data_dir

    reader: ReadOnlyStore | None = None
    lock: int | None = None
    try:
        try:
            reader = await ReadOnlyStore.open(config.data_dir, config.store_config())
            owners = [(b.name, b.owner) for b in await reader.list_buckets()]
        except NotADataDir:
            lock, owners = lock_data_dir(config.data_dir), []
        root = read_root_file(config.data_dir)
        fixed = parse_users(config.users_file.read_text(), str(config.users_file.name)) if config.users_file else {}
        users = Users(config.data_dir, fixed, root[0] if root else "")
        return _show(_apply(users, args, owners))
    except DataDirLocked:
        return None
    finally:
        if reader is not None:
            await reader.close()
        if lock is not None:
            os.close(lock)


def _remote(args: argparse.Namespace, config: ServerConfig) -> int:
    client = adminclient.owner(config.data_dir)
    if client is None:
        return 2
    command = args.user_command
    if command == "list":
        doc = client.call("GET", "/_fragstore/users", {})
    elif command == "add":
        doc = client.call("POST", "/_fragstore/users", {"access-key": args.access_key} if args.access_key else {})
    elif command == "remove":
        doc = client.call("DELETE", f"/_fragstore/users/{args.access_key}", {})
    else:
        doc = client.call("POST", f"/_fragstore/users/{args.access_key}", {})
    assert isinstance(doc, dict)
    return _show({"command": "rotate" if command == "rotate-key" else command, **doc})


def run(args: argparse.Namespace, config: ServerConfig) -> int:
    try:
        done = asyncio.run(_direct(args, config))
        return _remote(args, config) if done is None else done
    except (CredentialsError, OSError) as exc:
        print(f"fragstore: {exc}", file=sys.stderr)
        return 2
    except adminclient.AdminError as exc:
        print(f"fragstore: {exc}", file=sys.stderr)
        return 1
