"""``<data>/server.json``: where the server that owns a data directory listens.

The serving process writes it once the store is open (so it holds the data
directory's lock) and removes it on shutdown. ``fragstore stats|gc|check``
read it when the lock is taken, to send their request to that server
(server/admin/client.py). It holds no secret: scheme, host, port, region, the
process id and the TLS certificate's path (to pin the server's certificate).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from server.admin.config import ServerConfig

NAME = "server.json"


@dataclass(frozen=True)
class RunInfo:
    scheme: str
    host: str
    port: int
    region: str
    pid: int
    tls_cert: str | None = None

    @property
    def url(self) -> str:
        """Where a local client reaches it (a wildcard address means loopback)."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}.get(self.host, self.host)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}"


def write(config: ServerConfig) -> Path:
    info = RunInfo(config.scheme, config.host, config.port, config.region, os.getpid(),
                   str(config.tls_cert.resolve()) if config.tls_cert else None)
    path = config.data_dir / NAME
    temp = path.with_name(f".{NAME}.{os.getpid()}")
    temp.write_text(json.dumps(asdict(info), indent=2) + "\n")
    os.replace(temp, path)
    return path


def remove(config: ServerConfig) -> None:
    path = config.data_dir / NAME
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def read(data_dir: Path) -> RunInfo | None:
    """The running server's address, or None when there is no readable file."""
    try:
        doc = json.loads((data_dir / NAME).read_text())
        return RunInfo(str(doc["scheme"]), str(doc["host"]), int(doc["port"]), str(doc["region"]),
                       int(doc["pid"]), doc.get("tls_cert"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
