"""Every server setting in one table, and where each value comes from.

A value is taken from the first of: the command-line flag, the environment
variable (``FRAGSTORE_*``; an empty value counts as unset), the config file
(TOML, ``--config FILE`` or ``FRAGSTORE_CONFIG``; flat ``name = value`` lines
with the names of the table), the default. Paths in a config file are relative
to the file's directory. docs/CONFIG.md is generated from :data:`SETTINGS`
(``python -m server.admin.settings``) and a test keeps the two equal.
"""

from __future__ import annotations

import argparse
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dedup.delta import MAX_DEPTH
from dedup.types import StoreConfig
from server.admin.config import DEFAULT_REGION, ServerConfig

CONFIG_ENV = "FRAGSTORE_CONFIG"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


class SettingsError(ValueError):
    """A setting with a value that cannot be used, or a bad config file."""


def _text(value: str) -> str:
    if not value:
        raise SettingsError("must not be empty")
    return value


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise SettingsError(f"{value!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise SettingsError(f"{port} is not a port number (1-65535)")
    return port


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise SettingsError(f"{value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise SettingsError(f"{value!r} is not a number of seconds (0 or more)")
    return seconds


def _positive_seconds(value: str) -> float:
    seconds = _seconds(value)
    if seconds <= 0:
        raise SettingsError(f"{value!r} is not a number of seconds (more than 0)")
    return seconds


def _index(value: str) -> str:
    if not value.startswith(("postgresql://", "postgres://")):
        raise SettingsError("must be a postgresql:// URL (unset keeps the index in LMDB in the data directory)")
    return value


def _workers(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise SettingsError(f"{value!r} is not a number of processes") from None
    if not 1 <= n <= 256:
        raise SettingsError(f"{n} is not a number of processes (1-256)")
    return n


def _packs(value: str) -> str:
    scheme, sep, rest = value.partition("://")
    if scheme not in ("s3", "rados") or not sep or not rest or rest.startswith("/"):
        raise SettingsError(f"{value!r} is not s3://BUCKET/PREFIX or rados://POOL/PREFIX")
    return value


def _bytes(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise SettingsError(f"{value!r} is not a number of bytes") from None
    if n < 0:
        raise SettingsError(f"{value!r} is not a number of bytes (0 or more)")
    return n


def _depth(value: str) -> int:
    try:
        depth = int(value)
    except ValueError:
        raise SettingsError(f"{value!r} is not a chain depth") from None
    if not 0 <= depth <= MAX_DEPTH:
        raise SettingsError(f"{depth} is not a chain depth (0-{MAX_DEPTH})")
    return depth


def _choice(*options: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value.lower() not in options:
            raise SettingsError(f"{value!r} is not one of {', '.join(options)}")
        return value.lower()

    return parse


@dataclass(frozen=True)
class Setting:
    name: str  # config-file key
    field: str  # ServerConfig field
    parse: Callable[[str], object]
    default: object
    help: str
    path: bool = False  # resolved against the config file's directory
    secret: bool = False  # never printed
    maintenance: bool = False  # also a flag of stats / gc / check / rotate-root-key
    metavar: str = "VALUE"

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "FRAGSTORE_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("data", "data_dir", Path, Path("data"), "data directory", path=True, maintenance=True, metavar="DIR"),
    Setting("index", "index", _index, None,
            "where the index lives: unset, in LMDB in the data directory (one process); a postgresql:// URL, "
            "in that PostgreSQL database, shared by every gateway given the same URL (cluster mode: "
            "docs/DESIGN.md)", secret=True, maintenance=True, metavar="URL"),
    Setting("workers", "workers", _workers, 1,
            "server processes on this port and data directory, each a gateway of the index (more than 1 needs "
            "index: LMDB is one process's)", metavar="N"),
    Setting("host", "host", _text, "127.0.0.1", "address to listen on", metavar="ADDRESS"),
    Setting("port", "port", _port, 9000, "port to listen on", metavar="PORT"),
    Setting("region", "region", _text, DEFAULT_REGION, "region clients sign for", metavar="REGION"),
    Setting("domain", "domain", _text, None, "root domain for virtual-hosted-style requests (bucket.DOMAIN)", metavar="DOMAIN"),
    Setting("tls_cert", "tls_cert", Path, None, "PEM certificate: serve HTTPS (with tls_key)", path=True, metavar="FILE"),
    Setting("tls_key", "tls_key", Path, None, "PEM private key of tls_cert", path=True, metavar="FILE"),
    Setting("users", "users_file", Path, None, "read-only file of access_key:secret lines: more users (fragstore user add keeps its own in <data>/user-credentials)", path=True, metavar="FILE"),
    Setting("master_key_file", "master_key_file", Path, None,
            "file of the master key (64 hex digits) that wraps the data keys of encrypted objects; unset: "
            "<data>/master-key, made on first start (keep a copy off the data disk)", path=True, maintenance=True,
            metavar="FILE"),
    Setting("kms_keys", "kms_keys_file", Path, None,
            "JSON file of named SSE-KMS keys and who may use them (docs/OPERATIONS.md); unset: SSE-KMS "
            "requests answer KMS.NotFoundException", path=True, maintenance=True, metavar="FILE"),
    Setting("log_level", "log_level", _choice(*LOG_LEVELS), "info", "least severe level logged: " + ", ".join(LOG_LEVELS), metavar="LEVEL"),
    Setting("log_format", "log_format", _choice("text", "json"), "text", "log lines as text or as JSON objects (one a line)", metavar="text|json"),
    Setting("metrics_token", "metrics_token", _text, None,
            "bearer token that GET /_fragstore/metrics requires (unset: metrics are open)", secret=True,
            metavar="TOKEN"),
    Setting("gc_interval", "gc_interval", _seconds, 3600.0, "seconds between background GC runs; 0 turns them off",
            metavar="SECONDS"),
    Setting("gc_grace", "gc_grace", _seconds, 300.0,
            "seconds a deleted or overwritten object version is kept before GC may free it (also on a "
            "start, which frees what a GC run would)", metavar="SECONDS"),
    Setting("compression", "compression", _choice("off", "fast", "max"), "fast",
            "fragment compression policy: off, fast, max",
            metavar="off|fast|max"),
    Setting("delta_depth", "delta_depth", _depth, StoreConfig.delta_depth,
            "longest chain of delta fragments (a checkpoint's fragments stored as differences from an "
            "earlier checkpoint's; a GET decodes at most this many more records per fragment); 0 turns "
            "deltas off", metavar="N"),
    Setting("idle_timeout", "idle_timeout", _seconds, 20.0,
            "seconds a client may send nothing in the middle of a request (head or body) before it is "
            "answered RequestTimeout and disconnected; 0 turns the limit off", metavar="SECONDS"),
    Setting("lifecycle_interval", "lifecycle_interval", _seconds, 3600.0,
            "seconds between background runs of the buckets' lifecycle rules; 0 turns them off", metavar="SECONDS"),
    Setting("lifecycle_day_seconds", "lifecycle_day_seconds", _positive_seconds, 86400.0,
            "seconds in a lifecycle day (the unit of Days in lifecycle rules; AWS's 86400, rounded to midnight "
            "UTC; shorter, for tests, not rounded)", metavar="SECONDS"),
    Setting("console", "console", _choice("on", "off"), "on",
            "the web console at /_fragstore/console/ (docs/CONSOLE.md): on or off", metavar="on|off"),
    Setting("console_session_seconds", "console_session_seconds", _positive_seconds, 28800.0,
            "seconds a console login lasts (then the user logs in again)", metavar="SECONDS"),
    Setting("history_interval", "history_interval", _seconds, 3600.0,
            "seconds between samples of the savings history (<data>/stats-history.jsonl, one line a day, "
            "the console's savings dashboard); 0 turns sampling off", metavar="SECONDS"),
    Setting("packs", "packs", _packs, None,
            "keep packs in an S3 bucket, s3://BUCKET/PREFIX, or a Ceph pool, rados://POOL/PREFIX (the cluster "
            "of CEPH_CONF; unset: pack files under <data>/packs); a data directory keeps the packs it was "
            "created with", maintenance=True, metavar="URL"),
    Setting("packs_endpoint", "packs_endpoint", _text, None,
            "URL of the S3 service of packs (unset: AWS)", maintenance=True, metavar="URL"),
    Setting("packs_access_key", "packs_access_key", _text, None, "access key for the packs bucket",
            secret=True, maintenance=True, metavar="KEY"),
    Setting("packs_secret_key", "packs_secret_key", _text, None, "secret key for the packs bucket",
            secret=True, maintenance=True, metavar="SECRET"),
    Setting("packs_region", "packs_region", _text, DEFAULT_REGION, "region the packs bucket is signed for",
            maintenance=True, metavar="REGION"),
    Setting("packs_cache", "packs_cache", _bytes, 1 << 30,
            "bytes of S3 pack data cached under <data>/cache (least recently used dropped first); 0 turns the "
            "cache off", metavar="BYTES"),
)
BY_NAME = {s.name: s for s in SETTINGS}


def add_flags(parser: argparse.ArgumentParser, *, maintenance_only: bool = False) -> None:
    """A flag per setting (``--config`` too); unset flags stay None."""
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help=f"TOML config file (env {CONFIG_ENV})")
    for setting in SETTINGS:
        if maintenance_only and not setting.maintenance:
            continue
        parser.add_argument(setting.flag, dest=setting.name, type=_argparse_type(setting), default=None,
                            metavar=setting.metavar,
                            help=f"{setting.help} (env {setting.env}; default {_shown(setting.default)})")


def positive_seconds_flag(value: str) -> float:
    """argparse type of a flag that takes seconds (more than 0)."""
    try:
        return _positive_seconds(value)
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def seconds_flag(value: str) -> float:
    """argparse type of a flag that takes seconds (0 or more)."""
    try:
        return _seconds(value)
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _argparse_type(setting: Setting) -> Callable[[str], object]:
    def parse(value: str) -> object:
        try:
            return setting.parse(value)
        except SettingsError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = setting.name
    return parse


@dataclass(frozen=True)
class Resolved:
    values: dict[str, object]  # setting name -> value
    sources: dict[str, str]  # setting name -> "flag", "env NAME", "file PATH" or "default"

    def server_config(self) -> ServerConfig:
        return ServerConfig(**{s.field: self.values[s.name] for s in SETTINGS})  # type: ignore[arg-type]

    def with_value(self, name: str, value: object, source: str) -> Resolved:
        """These settings with ``name`` set to ``value`` (a command's own flag for it)."""
        return Resolved({**self.values, name: value}, {**self.sources, name: source})


def resolve(flags: Mapping[str, object], env: Mapping[str, str]) -> Resolved:
    """Each setting from flag, environment, config file or default, in that order.
    ``flags`` maps setting names (and ``config``) to parsed values or None."""
    config_path = flags.get("config") or (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None)
    file_values = read_config_file(Path(str(config_path))) if config_path else {}
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        if flags.get(setting.name) is not None:
            values[setting.name], sources[setting.name] = flags[setting.name], "flag"
        elif env.get(setting.env):
            values[setting.name] = _parse(setting, env[setting.env], setting.env)
            sources[setting.name] = f"env {setting.env}"
        elif setting.name in file_values:
            values[setting.name], sources[setting.name] = file_values[setting.name], f"file {config_path}"
        else:
            values[setting.name], sources[setting.name] = setting.default, "default"
    if (values["tls_cert"] is None) != (values["tls_key"] is None):
        raise SettingsError("tls_cert and tls_key go together (--tls-cert and --tls-key)")
    return Resolved(values, sources)


def _parse(setting: Setting, text: str, where: str) -> object:
    try:
        return setting.parse(text)
    except SettingsError as exc:
        raise SettingsError(f"{where}: {exc}") from None


def read_config_file(path: Path) -> dict[str, object]:
    """Setting name -> parsed value from a TOML file; unknown names are refused."""
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"config file {path}: {exc}") from None
    values: dict[str, object] = {}
    for name, raw in document.items():
        setting = BY_NAME.get(name)
        if setting is None:
            raise SettingsError(f"config file {path}: unknown setting {name!r}")
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise SettingsError(f"config file {path}: {name} must be a string or a number")
        value = _parse(setting, str(raw), f"config file {path}: {name}")
        if setting.path and isinstance(value, Path) and not value.is_absolute():
            value = path.parent / value
        values[name] = value
    return values


def _shown(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "unset" if value is None else str(value)


def markdown() -> str:
    """docs/CONFIG.md: every setting with its flag, variable and default."""
    rows = "\n".join(
        f"| `{s.name}` | `{s.flag}` | `{s.env}` | {'unset' if s.default is None else f'`{_shown(s.default)}`'} | {s.help} |"
        for s in SETTINGS
    )
    return _DOC.format(rows=rows, config_env=CONFIG_ENV)


_DOC = """# Configuration

<!-- Generated by `python -m server.admin.settings` from server/admin/settings.py: edit there. -->

`fragstore serve` takes each setting from the first of:

1. its command-line flag,
2. its environment variable (an empty value counts as unset),
3. the config file: TOML, named by `--config FILE` or `{config_env}`,
4. the default.

| setting (config file) | flag | environment variable | default | meaning |
| --- | --- | --- | --- | --- |
{rows}
| — | `--config` | `{config_env}` | unset | the TOML config file |
| — | — | `FRAGSTORE_ACCESS_KEY`, `FRAGSTORE_SECRET_KEY` | unset | the root key pair on the first start, saved into `<data>/root-credentials` (mode 0600; unset: a generated pair); later they may repeat that pair but not differ from it (`fragstore rotate-root-key` changes it). Access key: 3-128 letters and digits; secret: 20 characters or more, no placeholder |

`fragstore stats`, `fragstore gc`, `fragstore check`, `fragstore lifecycle` and
`fragstore rotate-root-key` read the settings the same way; of the flags they
take `--data`, `--config` and the `--packs*` flags of S3 packs. `fragstore gc` frees deleted object versions
older than `--grace SECONDS`, else older than the `gc_grace` it was given
(variable or config file), else, through a running server, the server's own
`gc_grace`. `fragstore lifecycle` takes `--lifecycle-day-seconds` (or the
setting) on a stopped directory; through a running server the server's own
applies. A flag that cannot apply to a command is refused, never ignored.

The config file holds `name = value` lines with the names of the first column;
unknown names are refused. Relative paths in it are relative to the file's own
directory. Example:

```toml
data = "/srv/fragstore"
host = "0.0.0.0"
port = 9000
log_format = "json"
gc_interval = 900
```

The root credentials are not read from the config file: the data directory
keeps them (`<data>/root-credentials`), and the server and the maintenance
commands both take them from there. Pass a pair of your own in the
environment on the first start, or later to `fragstore rotate-root-key` with
the server stopped; a start whose variables name another pair than the file's
is refused with both named.
"""


if __name__ == "__main__":
    print(markdown(), end="")
