"""What the store must hold: every acknowledged write and delete, per key.

A key's state is a set of candidates. An acknowledged PUT, copy, completed
multipart upload or delete makes it one value; a write that was sent but never
acknowledged (the server was killed, the connection broke) adds its value to
the candidates, since it may or may not have been committed. Checking a key
after a restart collapses it to what the store holds (a durable fact from then
on). Each key is written by one client at a time, so the order of a key's
operations is the order they were sent.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tests.robustness.blobs import Blob, md5_of


@dataclass(frozen=True)
class Version:
    """One object value: its parts' contents and the ETag S3 gives it."""

    parts: tuple[Blob, ...]
    etag: str

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)

    @classmethod
    def simple(cls, blob: Blob) -> Version:
        return cls((blob,), md5_of(blob))


ABSENT: Version | None = None
State = frozenset[Version | None]


class Ledger:
    """Per key, the values the store may hold; thread-safe."""

    def __init__(self) -> None:
        self._states: dict[str, State] = {}
        self._lock = threading.Lock()
        self.acked_writes = 0
        self.acked_deletes = 0
        self.unacknowledged = 0

    def state(self, key: str) -> State:
        with self._lock:
            return self._states.get(key, frozenset({ABSENT}))

    def definite(self, key: str) -> Version | None:
        """The key's one possible present value, or None (absent or uncertain)."""
        state = self.state(key)
        if len(state) == 1:
            (value,) = state
            return value
        return None

    def ack(self, key: str, value: Version | None) -> None:
        with self._lock:
            self._states[key] = frozenset({value})
            if value is ABSENT:
                self.acked_deletes += 1
            else:
                self.acked_writes += 1

    def unsure(self, key: str, value: Version | None) -> None:
        """Sent, never acknowledged: the store may hold ``value`` or what it had."""
        with self._lock:
            self._states[key] = self._states.get(key, frozenset({ABSENT})) | {value}
            self.unacknowledged += 1

    def settle(self, key: str, value: Version | None) -> None:
        """What a check after a restart found (one of the candidates)."""
        with self._lock:
            self._states[key] = frozenset({value})

    def keys(self) -> list[str]:
        with self._lock:
            return sorted(self._states)

    def present(self) -> dict[str, Version]:
        """The keys that hold one definite value."""
        with self._lock:
            out = {}
            for key, state in self._states.items():
                if len(state) == 1:
                    (value,) = state
                    if value is not None:
                        out[key] = value
            return out
