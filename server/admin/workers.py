"""``fragstore serve --workers N``: N server processes on one port and one data
directory, so that a many-core machine uses its cores.

Each worker is a whole ``fragstore serve`` (its own event loop, writer thread
and store) and a gateway of the shared index (dedup/gateways.py): the same
mechanism as many machines, on one. The workers listen on the same address
with SO_REUSEPORT and the kernel spreads new connections over them. This
process only supervises: it saves the root key pair first (so that the
workers do not each generate one), starts the workers, starts a new one when
one dies (a dead worker is a dead gateway: the others go on serving, and what
it left is reaped), and on SIGTERM or SIGINT passes the signal on and waits
for them. With the index in LMDB there is one process: ``--workers`` above 1
needs ``--index``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from server.admin.config import ServerConfig
from server.auth.credentials import CredentialsError, root_pair

log = logging.getLogger("fragstore.workers")
ENV_WORKER = "FRAGSTORE_WORKER_OF"  # set in a worker: bind with SO_REUSEPORT, never supervise
RESTART_LIMIT = 5  # workers that die within FAST_DEATH_S of their start, in a row, before giving up
FAST_DEATH_S = 5.0


def is_worker() -> bool:
    return bool(os.environ.get(ENV_WORKER))


def supervise(config: ServerConfig, argv: Sequence[str]) -> int:
    """Run ``config.workers`` copies of this ``fragstore serve`` until a signal; the exit status."""
    if not config.index:
        print("fragstore: --workers above 1 needs --index (a PostgreSQL index): LMDB is one process's",
              file=sys.stderr)
        return 2
    logging.basicConfig(level=config.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    config.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        root_pair(config.data_dir)
    except (CredentialsError, OSError) as exc:
        print(f"fragstore: {exc}", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "server", *argv]
    env = {**os.environ, ENV_WORKER: str(os.getpid())}
    stopping: list[int] = []

    def stop(sig: int, frame: object) -> None:
        stopping.append(sig)
        for child in children:
            if child.poll() is None:
                child.send_signal(sig)

    children: list[subprocess.Popen[bytes]] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    started = [time.monotonic()] * config.workers
    children.extend(subprocess.Popen(command, env=env) for _ in range(config.workers))
    log.info("%d workers on %s:%d (pids %s)", config.workers, config.host, config.port,
             " ".join(str(c.pid) for c in children))
    fast_deaths, gave_up = 0, False
    while not stopping:
        time.sleep(0.2)
        for n, child in enumerate(children):
            code = child.poll()
            if code is None or stopping:
                continue
            fast_deaths = fast_deaths + 1 if time.monotonic() - started[n] < FAST_DEATH_S else 0
            if fast_deaths >= RESTART_LIMIT:
                log.error("workers keep dying at start (last exit %s): stopping", code)
                gave_up = True
                stop(signal.SIGTERM, None)
                break
            log.warning("worker %d exited with %s; starting another", child.pid, code)
            children[n] = subprocess.Popen(command, env=env)
            started[n] = time.monotonic()
    codes = [child.wait() for child in children]
    return 0 if not gave_up and all(c in (0, -signal.SIGTERM, -signal.SIGINT) for c in codes) else 1
