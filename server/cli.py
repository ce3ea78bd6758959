"""The ``fragstore`` command (also ``python -m server``).

    fragstore serve [--data DIR] [--host H] [--port P] [--region R] [--domain D]
                    [--tls-cert FILE --tls-key FILE] [--users FILE]
    fragstore stats [--data DIR] [--exact]
    fragstore gc    [--data DIR] [--dry-run] [--grace SECONDS]
    fragstore check [--data DIR] [--repair]

``serve`` runs uvicorn with the httptools HTTP parser (never h11) and uvloop
when installed. The maintenance commands open the store directly: run them
while the server is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from server.config import DEFAULT_REGION, ServerConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fragstore", description="S3-compatible object store that stores every byte once.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the S3 server")
    stats = commands.add_parser("stats", help="logical vs stored bytes, per bucket")
    gc = commands.add_parser("gc", help="free unreferenced fragments, compact packs")
    check = commands.add_parser("check", help="verify fragments and refcounts")
    for sub in (serve, stats, gc, check):
        sub.add_argument("--data", type=Path, default=Path("data"), help="data directory (default ./data)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=9000)
    serve.add_argument("--region", default=DEFAULT_REGION, help="region clients sign for (default us-east-1)")
    serve.add_argument("--domain", help="root domain for virtual-hosted-style requests (bucket.DOMAIN)")
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate: serve HTTPS (with --tls-key)")
    serve.add_argument("--tls-key", type=Path, help="PEM private key")
    serve.add_argument("--users", type=Path, help="file of access_key:secret lines (more users)")
    serve.add_argument("--log-level", default="info")
    stats.add_argument("--exact", action="store_true", help="compute exact per-bucket unique bytes")
    gc.add_argument("--dry-run", action="store_true", help="report what would be freed")
    gc.add_argument("--grace", type=float, default=None, help="grace period in seconds")
    check.add_argument("--repair", action="store_true", help="fix refcounts and index")
    return parser


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app
    from server.credentials import CredentialsError, load_credentials

    if (args.tls_cert is None) != (args.tls_key is None):
        print("fragstore: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    config = ServerConfig(args.data, args.host, args.port, args.region, args.domain,
                          args.tls_cert, args.tls_key, args.users)
    try:
        credentials = load_credentials(config.data_dir, config.users_file)
    except (CredentialsError, OSError) as exc:
        print(f"fragstore: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    uvicorn.run(
        create_app(config, credentials), host=config.host, port=config.port, http="httptools",
        loop=loop, log_level=args.log_level, access_log=False, server_header=False,
        ssl_certfile=str(config.tls_cert) if config.tls_cert else None,
        ssl_keyfile=str(config.tls_key) if config.tls_key else None,
    )
    return 0


async def _maintain(args: argparse.Namespace) -> int:
    from dedup.store import Store
    from server import report

    store = await Store.open(args.data)
    try:
        if args.command == "stats":
            print(report.stats_text(await store.stats(exact=args.exact)))
            return 0
        if args.command == "gc":
            print(report.gc_text(await store.collect_garbage(dry_run=args.dry_run, grace_seconds=args.grace)))
            return 0
        result = await store.check(args.repair)
        print(report.check_text(result))
        return 0 if result.ok or result.repaired else 1
    finally:
        await store.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if not args.data.is_dir():
        print(f"fragstore: no data directory {args.data}", file=sys.stderr)
        return 2
    return asyncio.run(_maintain(args))
