"""Server settings as the app sees them: one frozen value, filled by
server/admin/settings.py from flags, environment variables, a config file and defaults
(docs/CONFIG.md is the table of every setting)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dedup.types import StoreConfig

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    index: str | None = field(default=None, repr=False)  # None: LMDB in data_dir; else a postgresql:// URL
    workers: int = 1  # server processes on one port (each a gateway of a shared index)
    host: str = "127.0.0.1"
    port: int = 9000
    region: str = DEFAULT_REGION
    domain: str | None = None  # root domain for virtual-hosted-style addressing
    tls_cert: Path | None = None
    tls_key: Path | None = None
    users_file: Path | None = None
    master_key_file: Path | None = None  # encryption at rest (server/admin/masterkey.py); unset: <data>/master-key
    kms_keys_file: Path | None = None  # SSE-KMS's local keyring (server/auth/kms.py); unset: SSE-KMS refused
    log_level: str = "info"
    log_format: str = "text"  # text | json
    metrics_token: str | None = field(default=None, repr=False)  # bearer token for /_fragstore/metrics
    gc_interval: float = 3600.0  # seconds between background GC runs; 0 disables them
    gc_grace: float = 300.0  # seconds a dropped object version waits before GC may reclaim it
    compression: str = "fast"  # off | fast | max
    delta_depth: int = StoreConfig.delta_depth  # longest chain of delta fragments; 0: no deltas
    idle_timeout: float = 20.0  # seconds a silent client may hold a request open (RequestTimeout); 0: no limit
    lifecycle_interval: float = 3600.0  # seconds between background lifecycle runs; 0 disables them
    lifecycle_day_seconds: float = 86400.0  # the length of a lifecycle "day" (tests shorten it)
    console: str = "on"  # on | off: the web console (server/console/)
    console_session_seconds: float = 28800.0  # how long a console login lasts
    history_interval: float = 3600.0  # seconds between savings-history samples; 0 disables them
    packs: str | None = None  # s3://BUCKET/PREFIX: packs in S3 (dedup/s3packs.py); None: <data>/packs
    packs_endpoint: str | None = None
    packs_access_key: str | None = field(default=None, repr=False)
    packs_secret_key: str | None = field(default=None, repr=False)
    packs_region: str = DEFAULT_REGION
    packs_cache: int = 1 << 30  # bytes of the local cache of S3 pack data

    @property
    def console_enabled(self) -> bool:
        return self.console == "on"

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def store_config(self) -> StoreConfig:
        """The engine settings these server settings imply."""
        return StoreConfig(manifest_grace_seconds=self.gc_grace, compression=self.compression,
                           delta_depth=self.delta_depth, lifecycle_day_seconds=self.lifecycle_day_seconds,
                           index=self.index or "",
                           packs=self.packs or "",
                           packs_endpoint=self.packs_endpoint, packs_access_key=self.packs_access_key,
                           packs_secret_key=self.packs_secret_key, packs_region=self.packs_region,
                           packs_cache_bytes=self.packs_cache)
