"""Who may sign requests: the root key pair, and the users (server/auth/users.py:
``<data>/user-credentials``, managed at runtime, and ``--users FILE``).

The root identity of a data directory is the pair in ``<data>/root-credentials``
(one ``access_key:secret`` line, mode 0600): the server serves with it, and
``fragstore stats|gc|check`` sign with it, so the two never disagree.

- First start (no file yet): the pair in FRAGSTORE_ACCESS_KEY /
  FRAGSTORE_SECRET_KEY is saved into the file; without them a pair is
  generated, saved and printed once.
- Later: the file's pair. The variables may still be set to that same pair;
  a different pair is refused, naming both sources, rather than one of them
  winning without a word (clients and the CLI would then sign with different
  keys). ``fragstore rotate-root-key`` replaces the file's pair on purpose
  (a new secret; a new access key only while the old one owns no bucket, as
  buckets belong to the access key that created them).

Values: an access key is 3-128 letters and digits; a secret at least 20
characters (AWS's are 40) and no placeholder (``replace-me...``, ``changeme``,
``...example...``); both variables or neither. Users file: one
``access_key:secret`` per line, the same rules; blank lines and lines starting
with ``#`` are ignored; the secret is everything after the first colon.
"""

from __future__ import annotations

import os
import re
import secrets
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

ROOT_FILE = "root-credentials"
ENV_ACCESS_KEY = "FRAGSTORE_ACCESS_KEY"
ENV_SECRET_KEY = "FRAGSTORE_SECRET_KEY"
ENV_PAIR = f"{ENV_ACCESS_KEY}/{ENV_SECRET_KEY}"
ACCESS_KEY_RULE = "3 to 128 letters and digits (A-Z, a-z, 0-9)"
_ACCESS_KEY = re.compile(r"^[A-Za-z0-9]{3,128}$")
MIN_SECRET = 20
# Words of example files and documentation (found in the secret's letters and digits, lower
# case) -> how a message names them.
PLACEHOLDERS = {"replaceme": "replace me", "changeme": "change me", "example": "example",
                "placeholder": "placeholder", "yoursecret": "your secret", "secrethere": "secret here",
                "xxxxxx": "xxxxxx"}
GENERATE_HINT = "python3 -c 'import secrets; print(secrets.token_urlsafe(30))'"
ROTATE_COMMAND = "fragstore rotate-root-key"


class CredentialsError(ValueError):
    """A credentials file or variable that cannot be used."""


class UserSource(Protocol):
    def secret_for(self, access_key: str) -> str | None: ...


@dataclass(frozen=True)
class Credentials:
    root_access_key: str
    root_secret: str = field(repr=False)
    users: UserSource | None = None
    root_source: str = ""  # where the root pair came from, said in the start-up log

    def secret_for(self, access_key: str) -> str | None:
        if access_key == self.root_access_key:
            return self.root_secret
        return self.users.secret_for(access_key) if self.users is not None else None


def check_access_key(access_key: str, where: str) -> str:
    if _ACCESS_KEY.match(access_key):
        return access_key
    if not access_key:
        raise CredentialsError(f"{where}: the access key is empty; an access key is {ACCESS_KEY_RULE}")
    bad = sorted({c for c in access_key if not (c.isascii() and c.isalnum())})
    if bad:
        shown = " ".join(repr(c) for c in bad[:5])
        raise CredentialsError(f"{where}: the access key contains {shown}; an access key is {ACCESS_KEY_RULE}")
    raise CredentialsError(f"{where}: the access key has {_characters(len(access_key))}; "
                           f"an access key is {ACCESS_KEY_RULE}")


def _characters(n: int) -> str:
    return "1 character" if n == 1 else f"{n} characters"


def check_secret(secret: str, where: str, access_key: str = "") -> str:
    """``secret`` when it will do; else what is wrong with it (never the secret itself)."""
    if len(secret) < MIN_SECRET:
        raise CredentialsError(
            f"{where}: the secret key has {_characters(len(secret))}; it needs at least {MIN_SECRET} "
            f"(make one: {GENERATE_HINT})")
    folded = "".join(c for c in secret.lower() if c.isalnum())
    word = next((shown for w, shown in PLACEHOLDERS.items() if w in folded), None)
    if word is not None or len(set(secret)) == 1 or secret == access_key:
        why = f"it says {word!r}" if word else "it is one character repeated" if len(set(secret)) == 1 \
            else "it is the access key"
        raise CredentialsError(
            f"{where}: the secret key looks like a placeholder ({why}): set a random one (make one: {GENERATE_HINT})")
    return secret


def parse_pair(line: str, where: str) -> tuple[str, str]:
    access_key, sep, secret = line.partition(":")
    if not sep:
        raise CredentialsError(f"{where}: expected access_key:secret, found no ':'")
    access_key = check_access_key(access_key.strip(), where)
    return access_key, check_secret(secret.strip(), where, access_key)


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


def env_pair(env: Mapping[str, str]) -> tuple[str, str] | None:
    """The pair FRAGSTORE_ACCESS_KEY / FRAGSTORE_SECRET_KEY give, checked; None
    when both are unset (or empty). One without the other is refused."""
    access_key, secret = env.get(ENV_ACCESS_KEY, ""), env.get(ENV_SECRET_KEY, "")
    if not access_key and not secret:
        return None
    if not secret:
        raise CredentialsError(f"{ENV_ACCESS_KEY} is set but {ENV_SECRET_KEY} is not: set both, or neither "
                               f"to use the pair kept in the data directory's {ROOT_FILE}")
    if not access_key:
        raise CredentialsError(f"{ENV_SECRET_KEY} is set but {ENV_ACCESS_KEY} is not: set both, or neither "
                               f"to use the pair kept in the data directory's {ROOT_FILE}")
    check_access_key(access_key, ENV_ACCESS_KEY)
    return access_key, check_secret(secret, ENV_SECRET_KEY, access_key)


def read_root_file(data_dir: Path) -> tuple[str, str] | None:
    """The pair kept in ``<data>/root-credentials``; None when there is no file."""
    path = data_dir / ROOT_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CredentialsError(f"cannot read {path}: {exc.strerror} (run as the user the server runs as)") from None
    return parse_pair(text.strip(), str(path))


def _differ(data_dir: Path, env: tuple[str, str], kept: tuple[str, str]) -> CredentialsError:
    path = data_dir / ROOT_FILE
    what = f"access key {env[0]}" if env[0] != kept[0] else f"access key {env[0]} with another secret"
    return CredentialsError(
        f"{ENV_PAIR} ({what}) are not the root key pair of {data_dir}: {path} holds access key {kept[0]}.\n"
        f"  That file is the data directory's root identity: the server serves with it and\n"
        f"  `fragstore stats|gc|check` sign with it. Either unset {ENV_ACCESS_KEY} and {ENV_SECRET_KEY}\n"
        f"  (or set them to the file's pair), or make the variables' pair the root key on purpose:\n"
        f"  stop the server and run `{ROTATE_COMMAND} --data {data_dir}` with them set.")


def resolve_root(data_dir: Path, env: Mapping[str, str]) -> tuple[tuple[str, str], str] | None:
    """The root pair and a line saying where it comes from, without writing
    anything; None when the data directory has no pair yet and the
    environment gives none. Raises CredentialsError when the two differ."""
    given = env_pair(env)
    kept = read_root_file(data_dir)
    path = data_dir / ROOT_FILE
    if kept is None:
        return None if given is None else (given, f"from {ENV_PAIR} ({path} does not exist)")
    if given is None:
        return kept, f"from {path} ({ENV_PAIR} unset)"
    if given != kept:
        raise _differ(data_dir, given, kept)
    return kept, f"from {path} ({ENV_PAIR} set to the same pair)"


def _generate() -> tuple[str, str]:
    alphabet = string.ascii_uppercase + string.digits
    access_key = "FS" + "".join(secrets.choice(alphabet) for _ in range(18))
    return access_key, secrets.token_urlsafe(30)


def _announce(text: str) -> None:
    print(text, flush=True)


def _write_root_file(data_dir: Path, pair: tuple[str, str]) -> None:
    """Replace ``<data>/root-credentials`` at once (temp file, fsync, rename), mode 0600."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / ROOT_FILE
    temp = path.with_name(f".{ROOT_FILE}.{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, f"{pair[0]}:{pair[1]}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)


def root_pair(data_dir: Path, env: Mapping[str, str] | None = None,
              announce: Callable[[str], None] = _announce) -> tuple[tuple[str, str], str]:
    """The server's root pair and where it came from: the data directory's
    file; on the first start, the environment's pair or a new one, saved."""
    env = os.environ if env is None else env
    found = resolve_root(data_dir, env)
    if found is not None and (data_dir / ROOT_FILE).exists():
        return found
    path = data_dir / ROOT_FILE
    if found is not None:
        _write_root_file(data_dir, found[0])
        return found[0], f"from {ENV_PAIR}, saved to {path} (first start)"
    pair = _generate()
    _write_root_file(data_dir, pair)
    announce(
        "fragstore: generated root credentials (kept in the data directory, mode 0600):\n"
        f"  access key: {pair[0]}\n  secret key: {pair[1]}"
    )
    return pair, f"generated on the first start, saved to {path}"


def rotate_root(data_dir: Path, env: Mapping[str, str] | None = None,
                announce: Callable[[str], None] = _announce,
                owned: Callable[[str], Sequence[str]] = lambda access_key: ()) -> tuple[str | None, str]:
    """Make the environment's pair (without one: the same access key with a new
    generated secret, printed once) the root pair of ``data_dir``; (the old
    access key or None, the new one). ``owned`` names the buckets an access
    key owns: a bucket belongs to the key that created it, so a new access key
    is refused while the old one owns any. The caller keeps the server out
    (the data directory's lock): a running server keeps the pair it started with."""
    env = os.environ if env is None else env
    given = env_pair(env)
    try:
        old = read_root_file(data_dir)
    except CredentialsError:
        old = None  # an unusable file is what this replaces
    pair = given or ((old[0] if old else _generate()[0]), _generate()[1])
    if old and pair[0] != old[0]:
        names = list(owned(old[0]))
        if names:
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            raise CredentialsError(
                f"access key {old[0]} owns {len(names)} bucket{'s' if len(names) > 1 else ''} ({shown}), and a "
                f"bucket belongs to the access key that created it: root access key {pair[0]} would own none of "
                f"them. Keep the access key and change the secret: set {ENV_ACCESS_KEY}={old[0]} with the new "
                f"{ENV_SECRET_KEY} (or leave both unset for a generated secret)")
    _write_root_file(data_dir, pair)
    if given is None:
        announce(
            "fragstore: generated a new root secret (kept in the data directory, mode 0600):\n"
            f"  access key: {pair[0]}\n  secret key: {pair[1]}"
        )
    return (old[0] if old else None), pair[0]


def load_credentials(data_dir: Path, users_file: Path | None, env: Mapping[str, str] | None = None,
                     announce: Callable[[str], None] = _announce) -> Credentials:
    from server.auth.users import Users

    (access_key, secret), source = root_pair(data_dir, env, announce)
    fixed = parse_users(users_file.read_text(), str(users_file.name)) if users_file else {}
    if fixed.get(access_key, secret) != secret:
        raise CredentialsError(f"users file redefines the root access key {access_key}")
    fixed.pop(access_key, None)
    users = Users(data_dir, fixed, access_key)
    return Credentials(root_access_key=access_key, root_secret=secret, users=users, root_source=source)
