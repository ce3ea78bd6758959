"""A caller authenticated by a console session instead of a request signature.

The web console (server/console/) logs a user in with an access key and its
secret once, then keeps a server-side session (server/console/sessions.py).
Every S3 action the console takes for that user is an *internal* request that
goes through dispatch's own path after authentication (route error ->
handler exists -> unsupported headers -> authorize -> handler;
``server.s3.dispatch.dispatch_as_session``), with a :class:`SessionCaller` in
place of a verified signature. Nothing in an HTTP request can produce one:
only the console builds it, from a session it has checked, and the one
dispatch entry point that takes it is never reached by ``dispatch()``.

Its :class:`AuthResult` reads the internal request's body as sent
(``UNSIGNED-PAYLOAD``: the console streams what the browser uploads; declared
checksums and Content-MD5 are still verified) and records ``session`` so that
logs, and an authorization function that cares, can tell the two ways in apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.auth.sigv4 import UNSIGNED_PAYLOAD, AuthResult


@dataclass(frozen=True)
class SessionCaller:
    """Access key ``access_key``, logged in to the console as session ``session_tag``
    (a short, non-secret name of the session for logs, never the session id)."""

    access_key: str
    session_tag: str

    def auth_result(self) -> AuthResult:
        return AuthResult(self.access_key, UNSIGNED_PAYLOAD, None, False, session=self.session_tag)
