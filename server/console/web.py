"""The console's front door: from a request under ``/_fragstore/console`` to a page.

:meth:`Console.respond` finds the route (server/console/routes.py), loads the
session from its cookie (server/console/sessions.py), sends a visitor without
one to the login page (an API call gets 401), refuses a state-changing request
without the session's CSRF token (403) or from another origin, and calls the
handler. An S3 error a handler lets through (a refused or failed internal
request) becomes an error page with S3's code and message and status; an
unexpected exception is logged with the request id and answered 500.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from server.admin.config import ServerConfig
from server.console import routes
from server.console.pages_login import static_version
from server.console.sessions import COOKIE, LoginLimiter, Sessions
from server.console.views import FILTERS
from server.console.visit import BadForm, Visit, console_url, page_response
from server.s3.errors import S3Error
from server.s3.routing import Route

log = logging.getLogger("fragstore.console")
TEMPLATES = Path(__file__).parent / "templates"
SAFE_METHODS = frozenset({"GET", "HEAD"})


def make_templates() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(FILTERS)
    return env


class Console:
    """The web console of one server: templates, sessions, the login limiter."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.secure = config.tls
        self.templates = make_templates()
        self.sessions = Sessions(config.console_session_seconds)
        self.limiter = LoginLimiter()
        self._versions: dict[str, str] = {}

    def asset_version(self, name: str) -> str:
        """The cache-busting tag of a static file (its content hash)."""
        if name not in self._versions:
            self._versions[name] = static_version(name)
        return self._versions[name]

    async def respond(self, request: Request, target: Route, request_id: str) -> Response:
        path = "/" + (target.key or "console")[len("console"):].lstrip("/")
        found = routes.match(request.method, path)
        if found is None:
            return page_response(HTMLResponse("<!doctype html><title>Not found</title><h1>Not found</h1>", 404))
        route, params = found
        session_id = request.cookies.get(COOKIE)
        session = self.sessions.get(session_id, request.app.state.credentials.secret_for)
        visit = Visit(self, request, request_id, params, session, session_id if session else None)
        try:
            refused = await self._refuse(visit, route)
            if refused is not None:
                return refused
            return await route.handler(visit)
        except S3Error as exc:
            return self._s3_error(visit, route, exc)
        except BadForm as exc:
            return self._error(visit, route, 400, "BadRequest", str(exc))
        except Exception as exc:
            log.error("console request %s failed: %r", request_id, exc, exc_info=exc)
            return self._error(visit, route, 500, "InternalError",
                               f"Something went wrong on the server (request {request_id}).")

    async def _refuse(self, visit: Visit, route: routes.ConsoleRoute) -> Response | None:
        """The answer to a request that may not reach its handler; None if it may."""
        method = visit.request.method
        if method not in SAFE_METHODS and not _same_origin(visit.request):
            return self._error(visit, route, 403, "AccessDenied", "This request came from another site.")
        if not route.login:
            return None
        if visit.session is None:
            if route.api:
                return page_response(JSONResponse({"error": "LoggedOut", "message": "Log in again."}, 401))
            return visit.redirect(console_url("/login"))
        if method not in SAFE_METHODS and not await visit.csrf_ok():
            return self._error(visit, route, 403, "InvalidCsrfToken",
                               "The form's security token is missing or out of date: reload the page and try again.")
        return None

    def _s3_error(self, visit: Visit, route: routes.ConsoleRoute, exc: S3Error) -> Response:
        return self._error(visit, route, exc.status, exc.code, exc.message)

    def _error(self, visit: Visit, route: routes.ConsoleRoute, status: int, code: str, message: str) -> Response:
        if route.api:
            return visit.json({"error": code, "message": message}, status)
        return visit.render("error.html", status=status, code=code, message=message)


def _same_origin(request: Request) -> bool:
    """No Origin header (older browsers, tools), or one naming this host."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return re.sub(r"^[a-z]+://", "", origin.lower()).rstrip("/") == host.lower()
