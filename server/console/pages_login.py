"""Logging in and out, the start page, and the console's static files."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
from pathlib import Path

from starlette.responses import Response

from server.console.sessions import (
    COOKIE,
    LOGIN_COOKIE,
    LOGIN_TOKEN_SECONDS,
    check_login_token,
    cookie_header,
)
from server.console.visit import Visit, console_url, page_response

log = logging.getLogger("fragstore.console")
STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}


def static_version(name: str) -> str:
    """A short hash of a static file's bytes, for cache-busting URLs."""
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]


async def index(v: Visit) -> Response:
    return v.redirect(console_url("/buckets"))


async def login_form(v: Visit, *, error: str | None = None, status: int = 200, access_key: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    response = v.render("login.html", status=status, login_token=token, error=error, access_key=access_key)
    response.headers.append("Set-Cookie", cookie_header(LOGIN_COOKIE, token, secure=v.console.secure,
                                                        max_age=LOGIN_TOKEN_SECONDS))
    return response


async def login(v: Visit) -> Response:
    form = await v.form()
    access_key, secret = form.get("access_key", "").strip(), form.get("secret_key", "")
    if not check_login_token(form.get("login_token"), v.request.cookies.get(LOGIN_COOKIE)):
        return await login_form(v, error="This login form has expired. Please try again.", status=403,
                                access_key=access_key)
    address = v.request.client.host if v.request.client else "unknown"
    limiter = v.console.limiter
    wait = limiter.retry_after(address, access_key)
    if wait > 0:
        response = await login_form(v, status=429, access_key=access_key,
                                    error=f"Too many failed logins. Try again in {math.ceil(wait)} seconds.")
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    expected = v.state.credentials.secret_for(access_key)
    if expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
        limiter.failed(address, access_key)
        log.warning("console login refused for access key %r from %s", access_key[:128], address)
        return await login_form(v, error="Wrong access key or secret key.", status=401, access_key=access_key)
    v.console.sessions.delete(v.request.cookies.get(COOKIE))  # never keep an id the browser brought (fixation)
    session_id, session = v.console.sessions.create(access_key, secret)
    log.info("console login: access key %s from %s (session %s)", access_key, address, session.tag)
    response = v.redirect(console_url("/buckets"))
    response.headers.append("Set-Cookie", cookie_header(COOKIE, session_id, secure=v.console.secure,
                                                        max_age=v.console.sessions.lifetime))
    response.headers.append("Set-Cookie", cookie_header(LOGIN_COOKIE, "", secure=v.console.secure, max_age=0))
    return response


async def logout(v: Visit) -> Response:
    v.console.sessions.delete(v.session_id)
    if v.session is not None:
        log.info("console logout: access key %s (session %s)", v.session.access_key, v.session.tag)
    response = v.redirect(console_url("/login"))
    response.headers.append("Set-Cookie", cookie_header(COOKIE, "", secure=v.console.secure, max_age=0))
    return response


async def static(v: Visit) -> Response:
    name = v.params["name"]
    path = (STATIC / name).resolve()
    kind = STATIC_TYPES.get(path.suffix)
    if kind is None or not path.is_file() or path.parent != STATIC.resolve():
        return page_response(Response("not found", 404, media_type="text/plain"))
    response = page_response(Response(path.read_bytes(), media_type=kind))
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
