"""Server settings, filled from the command line (server/cli.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 9000
    region: str = DEFAULT_REGION
    domain: str | None = None  # root domain for virtual-hosted-style addressing
    tls_cert: Path | None = None
    tls_key: Path | None = None
    users_file: Path | None = None

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None
