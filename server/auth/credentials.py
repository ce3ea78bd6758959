"""Who may sign requests: the root key pair and the users of ``--users FILE``.

Root: FRAGSTORE_ACCESS_KEY / FRAGSTORE_SECRET_KEY when both are set; otherwise
the pair kept in ``<data>/root-credentials`` (mode 0600), generated and printed
once on the first start. Users file: one ``access_key:secret`` per line; blank
lines and lines starting with ``#`` are ignored; the secret is everything after
the first colon. Access keys are 3-128 letters and digits.
"""

from __future__ import annotations

import os
import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT_FILE = "root-credentials"
ENV_ACCESS_KEY = "FRAGSTORE_ACCESS_KEY"
ENV_SECRET_KEY = "FRAGSTORE_SECRET_KEY"
_ACCESS_KEY = re.compile(r"^[A-Za-z0-9]{3,128}$")


class CredentialsError(ValueError):
    """A credentials file or variable that cannot be used."""


@dataclass(frozen=True)
class Credentials:
    root_access_key: str
    secrets: dict[str, str]

    def secret_for(self, access_key: str) -> str | None:
        return self.secrets.get(access_key)


def parse_pair(line: str, where: str) -> tuple[str, str]:
    access_key, sep, secret = line.partition(":")
    access_key = access_key.strip()
    secret = secret.strip()
    if not sep or not _ACCESS_KEY.match(access_key) or not secret:
        raise CredentialsError(f"{where}: expected access_key:secret")
    return access_key, secret


def parse_users(text: str, where: str = "users file") -> dict[str, str]:
    users: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        access_key, secret = parse_pair(line, f"{where} line {number}")
        if access_key in users:
            raise CredentialsError(f"{where} line {number}: duplicate access key {access_key}")
        users[access_key] = secret
    return users


def _generate() -> tuple[str, str]:
    alphabet = string.ascii_uppercase + string.digits
    access_key = "FS" + "".join(secrets.choice(alphabet) for _ in range(18))
    return access_key, secrets.token_urlsafe(30)


def _announce(text: str) -> None:
    print(text, flush=True)


def root_pair(data_dir: Path, announce: Callable[[str], None] = _announce) -> tuple[str, str]:
    """The root pair from the environment, the data directory, or a new one."""
    env_key, env_secret = os.environ.get(ENV_ACCESS_KEY), os.environ.get(ENV_SECRET_KEY)
    if env_key and env_secret:
        return parse_pair(f"{env_key}:{env_secret}", ENV_ACCESS_KEY)
    path = data_dir / ROOT_FILE
    if path.exists():
        return parse_pair(path.read_text().strip(), str(path.name))
    access_key, secret = _generate()
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{access_key}:{secret}\n")
    announce(
        "fragstore: generated root credentials (kept in the data directory, mode 0600):\n"
        f"  access key: {access_key}\n  secret key: {secret}"
    )
    return access_key, secret


def load_credentials(data_dir: Path, users_file: Path | None) -> Credentials:
    access_key, secret = root_pair(data_dir)
    users = parse_users(users_file.read_text(), str(users_file.name)) if users_file else {}
    if users.get(access_key, secret) != secret:
        raise CredentialsError(f"users file redefines the root access key {access_key}")
    users[access_key] = secret
    return Credentials(root_access_key=access_key, secrets=users)
