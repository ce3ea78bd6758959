"""The ``fragstore`` command (also ``python -m server``).

    fragstore serve [--config FILE] [--data DIR] [--host H] [--port P] ...   every setting: docs/CONFIG.md
    fragstore stats [--data DIR] [--exact]
    fragstore gc    [--data DIR] [--dry-run] [--grace SECONDS]
    fragstore check [--data DIR] [--repair]
    fragstore lifecycle [--data DIR]                 carry out the buckets' lifecycle rules once

``serve`` is server/admin/serve.py. The maintenance commands open the data directory
themselves when no process holds it; when one does (its lock is taken) they
ask the server named in ``<data>/server.json`` over its authenticated admin
endpoints (server/admin/client.py), so they work the same with the server up
or down. Exit status: 0 done, 1 the work failed (or check found problems),
2 bad usage or nothing to work on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from dedup.errors import DataDirLocked
from dedup.types import CheckReport, GcReport, LifecycleReport, StoreStats
from server.admin import client as adminclient
from server.admin import report, runfile
from server.admin.config import ServerConfig
from server.admin.settings import Resolved, SettingsError, add_flags, resolve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fragstore", description="S3-compatible object store that stores every byte once.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the S3 server (settings: docs/CONFIG.md)")
    add_flags(serve)
    stats = commands.add_parser("stats", help="logical vs stored bytes, ratios, top buckets")
    gc = commands.add_parser("gc", help="free unreferenced fragments, compact packs")
    check = commands.add_parser("check", help="verify fragments and refcounts")
    lifecycle = commands.add_parser("lifecycle", help="carry out the buckets' lifecycle rules now")
    for sub in (stats, gc, check, lifecycle):
        add_flags(sub, maintenance_only=True)
    stats.add_argument("--exact", action="store_true", help="compute exact per-bucket unique bytes")
    gc.add_argument("--dry-run", action="store_true", help="report what would be freed")
    gc.add_argument("--grace", type=float, default=None, help="grace period in seconds (default: gc_grace)")
    check.add_argument("--repair", action="store_true", help="fix refcounts and index")
    return parser


def serve(config: ServerConfig) -> int:
    from server.admin.serve import run
    from server.auth.credentials import CredentialsError, load_credentials

    try:
        credentials = load_credentials(config.data_dir, config.users_file)
    except (CredentialsError, OSError) as exc:
        print(f"fragstore: {exc}", file=sys.stderr)
        return 2
    return run(config, credentials)


async def _direct(args: argparse.Namespace, config: ServerConfig) -> int | None:
    """Do the work on the directory; None when another process holds it."""
    from dedup.store import Store

    try:
        store = await Store.open(config.data_dir, config.store_config())
    except DataDirLocked:
        return None
    try:
        if args.command == "stats":
            return _show_stats(await store.stats(exact=args.exact))
        if args.command == "gc":
            return _show_gc(await store.collect_garbage(dry_run=args.dry_run, grace_seconds=args.grace))
        if args.command == "lifecycle":
            return _show_lifecycle(await store.run_lifecycle())
        return _show_check(await store.check(args.repair))
    finally:
        await store.close()


def _remote(args: argparse.Namespace, config: ServerConfig) -> int:
    info = runfile.read(config.data_dir)
    if info is None:
        print(f"fragstore: the data directory {config.data_dir} is in use by another process, "
              "and no server says it owns it", file=sys.stderr)
        return 2
    print(f"fragstore: a server owns {config.data_dir}; asking it at {info.url}", file=sys.stderr)
    try:
        client = adminclient.AdminClient(info, *adminclient.root_credentials(config.data_dir))
        if args.command == "stats":
            return _show_stats(adminclient.stats(client, args.exact))
        if args.command == "gc":
            return _show_gc(adminclient.collect_garbage(client, args.dry_run, args.grace))
        if args.command == "lifecycle":
            return _show_lifecycle(adminclient.run_lifecycle(client))
        return _show_check(adminclient.check(client, args.repair))
    except adminclient.AdminError as exc:
        print(f"fragstore: {exc}", file=sys.stderr)
        return 1


def _show_stats(stats: StoreStats) -> int:
    print(report.stats_text(stats))
    return 0


def _show_gc(result: GcReport) -> int:
    print(report.gc_text(result))
    return 0


def _show_lifecycle(result: LifecycleReport) -> int:
    print(report.lifecycle_text(result))
    return 0


def _show_check(result: CheckReport) -> int:
    print(report.check_text(result))
    return 0 if result.ok or result.repaired else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        resolved: Resolved = resolve(vars(args), os.environ)
    except SettingsError as exc:
        print(f"fragstore: {exc}", file=sys.stderr)
        return 2
    config = resolved.server_config()
    if args.command == "serve":
        return serve(config)
    if not config.data_dir.is_dir():
        print(f"fragstore: no data directory {config.data_dir}", file=sys.stderr)
        return 2
    done = asyncio.run(_direct(args, config))
    return _remote(args, config) if done is None else done
