"""The ``fragstore`` command (also ``python -m server``).

    fragstore serve [--config FILE] [--data DIR] [--host H] [--port P] ...   every setting: docs/CONFIG.md
                    [--index postgresql://...] [--workers N]      server/admin/workers.py
    fragstore stats [--data DIR] [--exact]
    fragstore gc    [--data DIR] [--dry-run] [--grace SECONDS]
    fragstore check [--data DIR] [--repair]
    fragstore lifecycle [--data DIR] [--lifecycle-day-seconds S]   carry out the buckets' lifecycle rules once
    fragstore rotate-root-key [--data DIR]
    fragstore migrate [--data DIR] [--index URL]     create or upgrade the index's schema (or the data format)
    fragstore user add|list|remove|rotate-key [--data DIR] ...        server/admin/users_cli.py
    fragstore key rotate --new-master-key-file FILE [--data DIR]      server/admin/keys_cli.py

``serve`` is server/admin/serve.py. The maintenance commands open the data directory
themselves when no process holds it; when one does (its lock is taken) they
ask the server named in ``<data>/server.json`` over its authenticated admin
endpoints (server/admin/client.py), so they work the same with the server up
or down, and every flag means the same both ways. On their own, ``stats``,
``check`` and ``gc --dry-run`` only read (dedup/readonly.py: not a byte of the
directory changes); ``gc`` and ``check --repair`` open it to write, which
recovers it first as a server start does; so does ``lifecycle``, which runs
the buckets' rules once (with its own lifecycle day if given one; through a
running server, the server's). ``rotate-root-key`` replaces the
root key pair kept in the data directory (server/auth/credentials.py); it
needs the server stopped. Exit status: 0 done, 1 the work failed (or check
found problems), 2 bad usage or nothing to work on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from dedup.errors import (
    DataDirLocked,
    EncryptionKeyError,
    NotADataDir,
    PackStoreUnavailable,
    ReadOnlyRefused,
    WrongPackStore,
)
from dedup.readonly import ReadOnlyStore
from dedup.types import CheckReport, GcReport, LifecycleReport, StoreStats
from server.admin import client as adminclient
from server.admin import keys_cli, report, users_cli
from server.admin.config import ServerConfig
from server.admin.masterkey import find_master_key
from server.admin.settings import (
    Resolved,
    SettingsError,
    add_flags,
    positive_seconds_flag,
    resolve,
    seconds_flag,
)
from server.auth.credentials import CredentialsError
from server.auth.kms import KmsKeysError, load_kms_keys

# Flags the maintenance commands once took, or that a reader may expect: refused with the reason.
REFUSED_FLAGS = {
    "--gc-grace": "--gc-grace is the server's setting; give this run's grace period with --grace SECONDS",
    "--compression": "--compression applies to what a server writes; {command} stores nothing new "
                     "(gc moves fragments as they are stored)",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fragstore", description="S3-compatible object store that stores every byte once.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the S3 server (settings: docs/CONFIG.md)")
    add_flags(serve)
    stats = commands.add_parser("stats", help="logical vs stored bytes, ratios, buckets")
    gc = commands.add_parser("gc", help="free the fragments of deleted object versions, compact packs")
    check = commands.add_parser("check", help="verify fragments and refcounts")
    rotate = commands.add_parser(
        "rotate-root-key", help="change the root key pair kept in the data directory (server stopped)",
        description="Make FRAGSTORE_ACCESS_KEY/FRAGSTORE_SECRET_KEY the root key pair of the data directory "
                    "(<data>/root-credentials); with both unset, keep the access key and generate a new "
                    "secret, printed once. A new access key is taken only while the current one owns no "
                    "bucket (a bucket belongs to the access key that created it). The server must be "
                    "stopped: it keeps the pair it started with.")
    lifecycle = commands.add_parser("lifecycle", help="carry out the buckets' lifecycle rules now")
    migrate = commands.add_parser("migrate", help="create or upgrade the index's schema (--index) or the data format")
    users_cli.add_parser(commands, add_flags)
    keys_cli.add_parser(commands, add_flags)
    for sub in (stats, gc, check, lifecycle, rotate, migrate):
        add_flags(sub, maintenance_only=True)
    lifecycle.add_argument("--lifecycle-day-seconds", dest="day_seconds", type=positive_seconds_flag, default=None,
                           metavar="SECONDS", help="seconds in a lifecycle day for this run (default: the "
                           "lifecycle_day_seconds setting; through a running server, the server's)")
    for sub in (stats, gc, check):
        for flag, why in REFUSED_FLAGS.items():
            sub.add_argument(flag, action=_Refused, why=why.format(command=sub.prog), help=argparse.SUPPRESS)
    stats.add_argument("--exact", action="store_true",
                       help="also each bucket's distinct fragment bytes and dedup ratio (reads every manifest)")
    gc.add_argument("--dry-run", action="store_true", help="report what would be freed; change nothing")
    gc.add_argument("--grace", type=seconds_flag, default=None, metavar="SECONDS",
                    help="free deleted object versions older than this (default: the gc_grace setting of "
                         "whoever runs it: this command's, or the running server's)")
    check.add_argument("--repair", action="store_true", help="fix refcounts and the index")
    return parser


class _Refused(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, why: str, **kw: object) -> None:
        super().__init__(option_strings, dest, nargs="?", **kw)  # type: ignore[arg-type]
        self.why = why

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        parser.error(self.why)


def serve(config: ServerConfig, argv: Sequence[str]) -> int:
    from server.admin import workers
    from server.admin.serve import run
    from server.auth.credentials import parse_users, resolve_root

    try:  # what can be told before the store opens; the credentials are taken once it is held
        resolve_root(config.data_dir, os.environ)
        if config.users_file:
            parse_users(config.users_file.read_text(), str(config.users_file.name))
    except (CredentialsError, OSError) as exc:
        print(f"fragstore: {exc}", file=sys.stderr)
        return 2
    if config.workers > 1 and not workers.is_worker():
        return workers.supervise(config, argv)
    return run(config)


def _reads_only(args: argparse.Namespace) -> bool:
    return args.command == "stats" or (args.command == "gc" and args.dry_run) or (
        args.command == "check" and not args.repair)


async def _direct(args: argparse.Namespace, config: ServerConfig) -> int | None:
    """Do the work on the directory; None when another process holds it."""
    try:
        return await (_read(args, config) if _reads_only(args) else _write(args, config))
    except DataDirLocked:
        return None


async def _read(args: argparse.Namespace, config: ServerConfig) -> int:
    if config.index:
        return await _read_cluster(args, config)
    reader = await ReadOnlyStore.open(config.data_dir, config.store_config())
    try:
        if args.command == "stats":
            return _show_stats(await reader.stats(exact=args.exact, dead=True))
        if args.command == "gc":
            return _show_gc(await reader.plan_garbage_collection(), config.gc_grace)
        return _show_check(await reader.check(master_key=find_master_key(config.data_dir, config.master_key_file),
                                              kms_keys=load_kms_keys(config.kms_keys_file).materials()))
    finally:
        await reader.close()


async def _read_cluster(args: argparse.Namespace, config: ServerConfig) -> int:
    """The read-only commands on an index in PostgreSQL: dedup/readonly.py is
    LMDB's; the store is opened (its reads are snapshots) and nothing is changed."""
    from dedup.store import Store

    store = await Store.open(config.data_dir, config.store_config(), create=False)
    try:
        if args.command == "stats":
            return _show_stats(await store.stats(exact=args.exact, dead=True))
        if args.command == "gc":
            return _show_gc(await store.collect_garbage(dry_run=True), config.gc_grace)
        return _show_check(await store.check())
    finally:
        await store.close()


def _migrate(config: ServerConfig) -> int:
    """Create or upgrade the index's schema (a PostgreSQL index), or the data
    directory's format (LMDB: the upgrade a server start would run)."""
    from dedup.index import TABLES
    from dedup.kv_postgres import SCHEMA_VERSION, PostgresKV

    if not config.index:
        from dedup.store import Store

        async def upgrade() -> None:
            await (await Store.open(config.data_dir, config.store_config(), create=False)).close()

        try:
            asyncio.run(upgrade())
        except DataDirLocked:
            print(f"fragstore: a process holds {config.data_dir}; it upgraded the format when it opened it",
                  file=sys.stderr)
            return 2
        print(f"fragstore: {config.data_dir} is at the current data format")
        return 0
    kv = PostgresKV(config.index, TABLES)  # creates or upgrades the schema
    kv.close()
    found = kv.found
    print(f"fragstore: index schema at version {SCHEMA_VERSION} in {kv.describe()}"
          + (f" (was {found})" if found != SCHEMA_VERSION else ""))
    return 0


async def _write(args: argparse.Namespace, config: ServerConfig) -> int:
    from dedup.store import Store

    store = await Store.open(config.data_dir, config.store_config(), create=False,
                             master_key=find_master_key(config.data_dir, config.master_key_file),
                             kms_keys=load_kms_keys(config.kms_keys_file).materials())
    try:
        if args.command == "gc":
            return _show_gc(await store.collect_garbage(), config.gc_grace)
        if args.command == "lifecycle":
            return _show_lifecycle(await store.run_lifecycle())
        return _show_check(await store.check(repair=True))
    finally:
        await store.close()


def _remote(args: argparse.Namespace, resolved: Resolved) -> int:
    config = resolved.server_config()
    try:
        client = adminclient.owner(config.data_dir)
    except CredentialsError as exc:
        print(f"fragstore: {exc}", file=sys.stderr)
        return 2
    if client is None:
        return 2
    try:
        if args.command == "stats":
            return _show_stats(adminclient.stats(client, args.exact))
        if args.command == "gc":
            # a grace period this command was given (flag, variable, config file) applies; else the server's own
            grace = config.gc_grace if resolved.sources["gc_grace"] != "default" else None
            return _show_gc(*adminclient.collect_garbage(client, args.dry_run, grace))
        if args.command == "lifecycle":
            if resolved.sources["lifecycle_day_seconds"] != "default":
                print(f"fragstore: a server owns {config.data_dir}, and it runs the lifecycle rules with its own "
                      "lifecycle_day_seconds: drop the one given here, or stop the server", file=sys.stderr)
                return 2
            return _show_lifecycle(adminclient.run_lifecycle(client))
        return _show_check(adminclient.check(client, args.repair))
    except adminclient.AdminError as exc:
        print(f"fragstore: {exc}", file=sys.stderr)
        return 1


def _rotate(config: ServerConfig) -> int:
    """Replace the root pair while holding the data directory (so no server runs
    on it), knowing which buckets the old access key owns."""
    return asyncio.run(_rotate_held(config))


async def _rotate_held(config: ServerConfig) -> int:
    from dedup.fsutil import lock_data_dir
    from server.auth.credentials import ROOT_FILE, rotate_root

    reader: ReadOnlyStore | None = None
    lock: int | None = None
    try:
        try:
            reader = await ReadOnlyStore.open(config.data_dir, config.store_config())
            owners = [(b.name, b.owner) for b in await reader.list_buckets()]
        except NotADataDir:  # nothing stored yet, so nothing owned
            lock, owners = lock_data_dir(config.data_dir), []
        old, new = rotate_root(config.data_dir, owned=lambda key: [name for name, owner in owners if owner == key])
    except DataDirLocked:
        print(f"fragstore: a process holds {config.data_dir}: stop the server first (a running server keeps "
              "the root key pair it started with), then run this again", file=sys.stderr)
        return 2
    except (CredentialsError, ReadOnlyRefused, OSError) as exc:
        print(f"fragstore: {exc}", file=sys.stderr)
        return 2
    finally:
        if reader is not None:
            await reader.close()
        if lock is not None:
            os.close(lock)
    if old == new:
        what = f"root access key {new} of {config.data_dir} has a new secret"
    else:
        what = f"root key of {config.data_dir} is now access key {new} ({f'was {old}' if old else 'there was none'})"
    print(f"{what}, kept in {config.data_dir / ROOT_FILE}; start the server with {_env_note()}")
    return 0


def _env_note() -> str:
    from server.auth.credentials import ENV_ACCESS_KEY, ENV_SECRET_KEY

    if os.environ.get(ENV_ACCESS_KEY):
        return f"{ENV_ACCESS_KEY}/{ENV_SECRET_KEY} set to this pair, or unset"
    return f"{ENV_ACCESS_KEY}/{ENV_SECRET_KEY} unset"


def _show_stats(stats: StoreStats) -> int:
    print(report.stats_text(stats))
    return 0


def _show_gc(result: GcReport, grace: float | None) -> int:
    print(report.gc_text(result, grace))
    return 0


def _show_lifecycle(result: LifecycleReport) -> int:
    print(report.lifecycle_text(result))
    return 0


def _show_check(result: CheckReport) -> int:
    print(report.check_text(result))
    return 0 if result.ok or result.repaired else 1


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        resolved: Resolved = resolve(vars(args), os.environ)
    except SettingsError as exc:
        print(f"fragstore: {exc}", file=sys.stderr)
        return 2
    if args.command == "gc" and args.grace is not None:  # this run's grace period, opening included
        resolved = resolved.with_value("gc_grace", args.grace, "flag")
    if args.command == "lifecycle" and args.day_seconds is not None:
        resolved = resolved.with_value("lifecycle_day_seconds", args.day_seconds, "flag")
    config = resolved.server_config()
    if args.command == "serve":
        return serve(config, argv)
    if args.command == "migrate" and config.index:
        return _migrate(config)
    if not config.data_dir.is_dir():
        print(f"fragstore: no data directory {config.data_dir}", file=sys.stderr)
        return 2
    if args.command == "rotate-root-key":
        return _rotate(config)
    if args.command == "user":
        return users_cli.run(args, config)
    if args.command == "migrate":
        return _migrate(config)
    if args.command == "key":
        return keys_cli.run(args, config)
    try:
        done = asyncio.run(_direct(args, config))
    except (NotADataDir, ReadOnlyRefused, WrongPackStore, PackStoreUnavailable, EncryptionKeyError,
            KmsKeysError) as exc:
        print(f"fragstore: {exc}", file=sys.stderr)
        return 2
    return _remote(args, resolved) if done is None else done

