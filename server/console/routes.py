"""The console's URL table: every page, form action and upload endpoint under
``/_fragstore/console``. Paths are matched whole; a bucket name is one path
segment (the path arrives percent-decoded); keys always travel in the query."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.responses import Response

from server.console import (
    pages_admin,
    pages_buckets,
    pages_login,
    pages_objects,
    pages_settings,
    upload_api,
)

if TYPE_CHECKING:
    from server.console.visit import Visit

Handler = Callable[["Visit"], Awaitable[Response]]


@dataclass(frozen=True)
class ConsoleRoute:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    login: bool = True  # a session is needed (and, unless GET, its CSRF token)
    api: bool = False  # answers JSON (the upload script), errors included


def _r(method: str, path: str, handler: Handler, *, login: bool = True, api: bool = False) -> ConsoleRoute:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    return ConsoleRoute(method, re.compile(regex + r"\Z"), handler, login, api)


ROUTES: tuple[ConsoleRoute, ...] = (
    _r("GET", "/", pages_login.index),
    _r("GET", "/login", pages_login.login_form, login=False),
    _r("POST", "/login", pages_login.login, login=False),
    _r("POST", "/logout", pages_login.logout),
    _r("GET", "/static/{name}", pages_login.static, login=False),
    _r("GET", "/buckets", pages_buckets.buckets_page),
    _r("POST", "/buckets", pages_buckets.create_bucket),
    _r("POST", "/buckets/delete", pages_buckets.delete_bucket),
    _r("GET", "/b/{bucket}", pages_objects.objects_page),
    _r("GET", "/b/{bucket}/object", pages_objects.object_page),
    _r("GET", "/b/{bucket}/download", pages_objects.download),
    _r("POST", "/b/{bucket}/delete", pages_objects.delete_object),
    _r("POST", "/b/{bucket}/presign", pages_objects.presign),
    _r("POST", "/b/{bucket}/tags", pages_objects.put_tags),
    _r("POST", "/b/{bucket}/restore", pages_objects.restore_version),
    _r("GET", "/b/{bucket}/settings", pages_settings.settings_page),
    _r("POST", "/b/{bucket}/versioning", pages_settings.put_versioning),
    _r("POST", "/b/{bucket}/lifecycle", pages_settings.lifecycle),
    _r("POST", "/b/{bucket}/policy", pages_settings.policy),
    _r("POST", "/b/{bucket}/cors", pages_settings.cors),
    _r("POST", "/api/b/{bucket}/uploads", upload_api.create_upload, api=True),
    _r("GET", "/api/b/{bucket}/uploads", upload_api.list_uploads, api=True),
    _r("GET", "/api/b/{bucket}/parts", upload_api.list_parts, api=True),
    _r("PUT", "/api/b/{bucket}/part", upload_api.upload_part, api=True),
    _r("PUT", "/api/b/{bucket}/object", upload_api.put_object, api=True),
    _r("POST", "/api/b/{bucket}/complete", upload_api.complete_upload, api=True),
    _r("POST", "/api/b/{bucket}/abort", upload_api.abort_upload, api=True),
    _r("GET", "/status", pages_admin.status_page),
    _r("POST", "/status/gc", pages_admin.run_gc),
    _r("POST", "/status/lifecycle", pages_admin.run_lifecycle),
    _r("GET", "/savings", pages_admin.savings_page),
    _r("GET", "/users", pages_admin.users_page),
    _r("POST", "/users", pages_admin.user_action),
)


def match(method: str, path: str) -> tuple[ConsoleRoute, dict[str, str]] | None:
    """The route for ``method path`` (HEAD as GET) and its decoded parameters."""
    method = "GET" if method == "HEAD" else method
    for route in ROUTES:
        found = route.pattern.match(path)
        if found and route.method == method:
            return route, found.groupdict()
    return None
