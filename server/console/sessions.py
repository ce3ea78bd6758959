"""Console logins: server-side sessions, their cookie, CSRF tokens, and the login rate limit.

A login checks an access key and its secret against the server's credentials
(server/auth/credentials.py) and creates a :class:`Session` kept in this
process's memory; the browser holds only the session's random id, in a cookie
that is HttpOnly, SameSite=Strict, scoped to ``/_fragstore/console/``, and
Secure when the server speaks HTTPS. The secret is never sent back, never
stored in the browser, and not kept in the session either: the session keeps
an HMAC of it under a key of this process, so a rotated or removed key ends
its sessions at their next request.

- Fixation: a login always makes a new id (any id the browser sent is
  dropped), and ids are only ever read from the cookie.
- Expiry: a session lasts ``console_session_seconds`` from its login; logout
  deletes it; a restart of the server ends every session.
- CSRF: each session has a random token; every state-changing console request
  carries it (a form field, or the ``X-CSRF-Token`` header of the upload
  script) and is refused without it. The login form, before any session,
  carries a token that must equal a short-lived cookie's (double submit), so
  another site cannot log a browser in under its own key.
- Rate limit: failed logins are counted per client address and per access
  key in a sliding window; past the limit, logins from that address or for
  that key are answered 429 until the window has room again, whether the
  secret is right or not.

Bounded memory: at most :data:`MAX_SESSIONS` sessions (the oldest go first)
and :data:`MAX_TRACKED` rate-limit entries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

COOKIE = "fragstore_console"
LOGIN_COOKIE = "fragstore_console_login"
COOKIE_PATH = "/_fragstore/console/"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOGIN_TOKEN_SECONDS = 3600
MAX_SESSIONS = 10_000
MAX_TRACKED = 10_000
FAILURES_PER_ADDRESS = 20
FAILURES_PER_KEY = 5
FAILURE_WINDOW_SECONDS = 300.0


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Session:
    access_key: str
    created: float
    expires: float
    csrf_token: str
    tag: str  # a non-secret name for logs
    secret_mac: bytes
    flashes: list[tuple[str, str]] = field(default_factory=list)  # (kind, text) shown on the next page

    def flash(self, text: str, kind: str = "info") -> None:
        self.flashes.append((kind, text))
        del self.flashes[:-10]

    def take_flashes(self) -> list[tuple[str, str]]:
        taken, self.flashes = self.flashes, []
        return taken

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf_token.encode())


class Sessions:
    """The console's sessions, keyed by the SHA-256 of their ids."""

    def __init__(self, lifetime_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.lifetime = lifetime_seconds
        self.clock = clock
        self._mac_key = secrets.token_bytes(32)
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def secret_mac(self, secret: str) -> bytes:
        return hmac.new(self._mac_key, secret.encode(), hashlib.sha256).digest()

    def create(self, access_key: str, secret: str) -> tuple[str, Session]:
        """A new session for a caller whose secret was just checked: (its id, it)."""
        self._prune()
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(access_key, now, now + self.lifetime, secrets.token_urlsafe(32),
                          secrets.token_hex(4), self.secret_mac(secret))
        self._sessions[_digest(session_id)] = session
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session_id, session

    def get(self, session_id: str | None, secret_for: Callable[[str], str | None]) -> Session | None:
        """The live session of ``session_id``; None (and the session is gone) when it
        expired or its key's secret is no longer the one it logged in with."""
        if not session_id:
            return None
        key = _digest(session_id)
        session = self._sessions.get(key)
        if session is None:
            return None
        secret = secret_for(session.access_key)
        if self.clock() >= session.expires or secret is None or \
                not hmac.compare_digest(self.secret_mac(secret), session.secret_mac):
            del self._sessions[key]
            return None
        return session

    def delete(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(_digest(session_id), None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _prune(self) -> None:
        now = self.clock()
        for key in [k for k, s in self._sessions.items() if now >= s.expires]:
            del self._sessions[key]


def cookie_header(name: str, value: str, *, secure: bool, max_age: float | None) -> str:
    """A ``Set-Cookie`` value: HttpOnly, SameSite=Strict, the console's path; Secure
    over HTTPS; ``max_age`` 0 deletes it."""
    parts = [f"{name}={value}", f"Path={COOKIE_PATH}", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def check_login_token(form_token: str | None, cookie_token: str | None) -> bool:
    """The login form's token equals the login cookie's (double submit)."""
    return bool(form_token and cookie_token) and hmac.compare_digest(
        str(form_token).encode(), str(cookie_token).encode())


class LoginLimiter:
    """Failed logins in a sliding window, per client address and per access key."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, window: float = FAILURE_WINDOW_SECONDS,
                 per_address: int = FAILURES_PER_ADDRESS, per_key: int = FAILURES_PER_KEY) -> None:
        self.clock = clock
        self.window = window
        self.limits = {"address": per_address, "key": per_key}
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def retry_after(self, address: str, access_key: str) -> float:
        """Seconds before a login from ``address`` for ``access_key`` may be tried; 0: now."""
        now = self.clock()
        wait = 0.0
        for entry in (("address", address), ("key", access_key)):
            times = self._recent(entry, now)
            if len(times) >= self.limits[entry[0]]:
                wait = max(wait, times[0] + self.window - now)
        return wait

    def failed(self, address: str, access_key: str) -> None:
        now = self.clock()
        for entry in (("address", address), ("key", access_key)):
            times = self._recent(entry, now)
            times.append(now)
            self._failures[entry] = times
            self._failures.move_to_end(entry)
        while len(self._failures) > MAX_TRACKED:
            self._failures.popitem(last=False)

    def _recent(self, entry: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(entry, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times
