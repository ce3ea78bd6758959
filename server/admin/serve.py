"""``fragstore serve``: open the store, take the root credentials, run uvicorn,
close the store.

The store is opened before uvicorn starts, in the loop that then serves, so a
data directory that another process holds is refused with one clear line
(exit 2) instead of an application-startup traceback. The root credentials
are taken once the store (and so the data directory's lock) is held: on a
first start they are saved into the data directory then
(server/auth/credentials.py), and the log says where they came from. uvicorn runs with the
httptools parser (never h11) and uvloop when installed; its own access log is
off (server/admin/observe.py writes ours).

SIGTERM or SIGINT: uvicorn stops accepting connections and lets the requests
in flight finish; the lifespan stops GC and removes server.json; then the
store is closed (index closed, lock released) and the process exits 0.
uvicorn raises the signal again once it is done; a handler installed here
takes it, so that the store is closed before the process exits.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import signal
import socket
import sys
from collections.abc import Callable

from dedup.errors import (
    DataDirLocked,
    EncryptionKeyError,
    EngineError,
    PackStoreUnavailable,
    WrongPackStore,
)
from dedup.store import Store
from server.admin import logs, memory, workers
from server.admin.config import ServerConfig
from server.admin.masterkey import load_master_key
from server.auth.credentials import CredentialsError, load_credentials
from server.auth.kms import KmsKeysError, load_kms_keys

log = logging.getLogger("fragstore.server")


def run(config: ServerConfig) -> int:
    """Serve until a signal; the process exit status."""
    memory.limit_arenas()  # before the store and uvicorn start their threads
    logs.setup(config.log_level, config.log_format)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _note_signal)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(_serve(config))


def _note_signal(sig: int, frame: object) -> None:
    log.debug("signal %d after shutdown", sig)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    if importlib.util.find_spec("uvloop") is None:
        return None
    import uvloop

    return uvloop.new_event_loop  # type: ignore[no-any-return]


def _shared_socket(config: ServerConfig) -> socket.socket:
    """A worker's listening socket (server/admin/workers.py): SO_REUSEPORT, so
    that every worker binds the same address and the kernel spreads connections."""
    family, kind, proto, _, address = socket.getaddrinfo(config.host, config.port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


# SIGTERM: in-flight requests get this long to finish, then connections are cut
GRACEFUL_SHUTDOWN_S = 15


async def _serve(config: ServerConfig) -> int:
    import uvicorn

    from server.app import create_app
    from server.http.limits import LimitedHttpToolsProtocol

    try:
        master_key, master_source = load_master_key(config.data_dir, config.master_key_file)
        kms = load_kms_keys(config.kms_keys_file)
    except (EngineError, OSError, KmsKeysError) as exc:
        print(f"fragstore: {exc}", file=sys.stderr)
        return 2
    try:
        store = await Store.open(config.data_dir, config.store_config(), master_key=master_key,
                                 kms_keys=kms.materials())
    except EncryptionKeyError as exc:
        print(f"fragstore: {exc}", file=sys.stderr)
        return 2
    except DataDirLocked:
        print(f"fragstore: the data directory {config.data_dir} is in use by another process "
              "(one fragstore server per data directory)", file=sys.stderr)
        return 2
    except (WrongPackStore, PackStoreUnavailable) as exc:  # the packs are elsewhere, or cannot be reached
        print(f"fragstore: {exc}", file=sys.stderr)
        return 2
    try:
        try:
            credentials = load_credentials(config.data_dir, config.users_file)
        except (CredentialsError, OSError) as exc:
            print(f"fragstore: {exc}", file=sys.stderr)
            return 2
        log.info("root access key %s, %s", credentials.root_access_key, credentials.root_source)
        log.info("master key of encryption at rest %s", master_source)
        server = uvicorn.Server(uvicorn.Config(
            create_app(config, credentials, store), host=config.host, port=config.port,
            http=LimitedHttpToolsProtocol, lifespan="on", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            log_config=None, log_level=config.log_level,
            access_log=False, server_header=False,
            ssl_certfile=str(config.tls_cert) if config.tls_cert else None,
            ssl_keyfile=str(config.tls_key) if config.tls_key else None,
        ))
        await server.serve(sockets=[_shared_socket(config)] if workers.is_worker() else None)
        return 0 if server.started else 1
    finally:
        await store.close()
        log.info("store closed")
