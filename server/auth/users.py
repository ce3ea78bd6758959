"""The users who may sign requests besides the root key.

Two sources:

- ``<data>/user-credentials``: the users ``fragstore user add|remove|rotate-key`` manage,
  through the running server's admin API or on a stopped data directory.
  One ``access_key:secret`` line per user, and ``-access_key`` for a removed
  one (its access key is never given out again: grants and policies that
  named it must not pass to a newcomer). Mode 0600, replaced whole through
  the one publish helper (dedup/fsutil.py publish_file: temp file, fsync,
  rename, fsync the directory), like the root key's file.
- ``--users FILE``: read-only; its users exist while the file lists them
  (edit the file and restart to change them). An access key may be in one
  source only.

Secrets are stored as they are: SigV4 and SigV2 sign with the secret itself
(the server must compute the same HMAC), so a hash would not do. The file is
as safe as ``<data>/root-credentials``: readable by the server's user alone.
A user who still owns buckets cannot be removed (delete or hand over the
buckets first), as AWS refuses to delete an account or user that still has
resources.
"""

from __future__ import annotations

import secrets
import string
import threading
from pathlib import Path

from dedup.fsutil import publish_file
from server.auth.credentials import CredentialsError, check_access_key, check_secret, parse_pair

USERS_FILE = "user-credentials"
RUNTIME, FILE = "runtime", "users file"


def generate_pair() -> tuple[str, str]:
    alphabet = string.ascii_uppercase + string.digits
    return "FU" + "".join(secrets.choice(alphabet) for _ in range(18)), secrets.token_urlsafe(30)


def read_users_file(path: Path) -> tuple[dict[str, str], set[str]]:
    """(users, removed access keys) kept in ``<data>/user-credentials``; empty when there is none."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}, set()
    users: dict[str, str] = {}
    removed: set[str] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            removed.add(check_access_key(line[1:], f"{path} line {number}"))
            continue
        key, secret = parse_pair(line, f"{path} line {number}")
        users[key] = secret
    return users, removed


class Users:
    """The users of a data directory (and of --users FILE), changed in place."""

    def __init__(self, data_dir: Path, fixed: dict[str, str] | None = None, root_access_key: str = "") -> None:
        self.path = data_dir / USERS_FILE
        self.fixed = dict(fixed or {})
        self.root_access_key = root_access_key
        self.stored, self.removed = read_users_file(self.path)
        self._seen = self._stamp()
        self._lock = threading.Lock()
        both = sorted(set(self.stored) & set(self.fixed))
        if both:
            raise CredentialsError(f"access key {both[0]} is both in {self.path} and in the users file: keep one")
        if root_access_key in self.stored or root_access_key in self.fixed:
            raise CredentialsError(f"a user has the root access key {root_access_key}")

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def _fresh(self) -> None:
        """Read the file again if another process replaced it (many gateways on one
        data directory: a user added through one signs through the others at once)."""
        stamp = self._stamp()
        if stamp != self._seen:
            self.stored, self.removed = read_users_file(self.path)
            self._seen = stamp

    def secret_for(self, access_key: str) -> str | None:
        self._fresh()
        return self.stored.get(access_key) or self.fixed.get(access_key)

    def listing(self) -> list[tuple[str, str]]:
        """(access key, source) of every user, by access key."""
        self._fresh()
        found = [(k, RUNTIME) for k in self.stored] + [(k, FILE) for k in self.fixed]
        return sorted(found)

    def _save(self) -> None:
        lines = ["# fragstore users (fragstore user add|remove|rotate-key): access_key:secret"]
        lines += [f"{k}:{v}" for k, v in sorted(self.stored.items())]
        lines += [f"-{k}" for k in sorted(self.removed)]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        publish_file(self.path, ("\n".join(lines) + "\n").encode(), mode=0o600)
        self._seen = self._stamp()

    def add(self, access_key: str | None = None) -> tuple[str, str]:
        """A new user (a generated access key unless one is given) with a new secret."""
        with self._lock:
            self._fresh()
            key, secret = generate_pair()
            key = check_access_key(access_key, "access key") if access_key else key
            if key == self.root_access_key or key in self.stored or key in self.fixed:
                raise CredentialsError(f"access key {key} is already in use")
            if key in self.removed:
                raise CredentialsError(f"access key {key} belonged to a removed user and is not given out again "
                                       "(grants and policies may still name it)")
            self.stored[key] = check_secret(secret, "secret", key)
            self._save()
            return key, secret

    def _runtime(self, access_key: str) -> None:
        if access_key in self.fixed:
            raise CredentialsError(f"user {access_key} comes from the users file (--users): edit that file")
        if access_key not in self.stored:
            raise CredentialsError(f"no user {access_key}")

    def remove(self, access_key: str, owned: list[str]) -> None:
        """Remove a user; refused while it owns buckets (``owned``)."""
        with self._lock:
            self._fresh()
            self._runtime(access_key)
            if owned:
                shown = ", ".join(owned[:3]) + (f" and {len(owned) - 3} more" if len(owned) > 3 else "")
                raise CredentialsError(f"user {access_key} owns {len(owned)} bucket{'s' if len(owned) > 1 else ''} "
                                       f"({shown}): delete them first")
            del self.stored[access_key]
            self.removed.add(access_key)
            self._save()

    def rotate(self, access_key: str) -> str:
        """A new secret for a user (its access key, and so its buckets and grants, stay)."""
        with self._lock:
            self._fresh()
            self._runtime(access_key)
            secret = generate_pair()[1]
            self.stored[access_key] = secret
            self._save()
            return secret
