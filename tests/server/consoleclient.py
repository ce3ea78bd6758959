"""A minimal browser for the console's HTTP tests: a cookie jar, no redirects
followed, forms posted urlencoded, the CSRF token read from the last page."""

from __future__ import annotations

import http.client
import re
import ssl
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from tests.live_server import LiveServer

BASE = "/_fragstore/console"


@dataclass
class Page:
    status: int
    headers: dict[str, list[str]]  # lower-case names, every value
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str | None:
        return self.header("location")

    def field(self, name: str) -> str | None:
        found = re.search(rf'name="{re.escape(name)}" (?:content|value)="([^"]*)"', self.text)
        return found.group(1) if found else None


@dataclass
class ConsoleClient:
    server: LiveServer
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str | None = None

    def request(self, method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None) -> Page:
        target = path if path.startswith("/_fragstore") else BASE + path
        if self.server.tls:
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            conn: http.client.HTTPConnection = http.client.HTTPSConnection("127.0.0.1", self.server.port, timeout=60,
                                                                           context=context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        sent = dict(headers or {})
        if self.cookies and "Cookie" not in sent:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(method, target, body=body, headers=sent)
            response = conn.getresponse()
            page_headers: dict[str, list[str]] = {}
            for name, value in response.getheaders():
                page_headers.setdefault(name.lower(), []).append(value)
            page = Page(response.status, page_headers, response.read())
        finally:
            conn.close()
        for raw in page.headers.get("set-cookie", []):
            cookie = SimpleCookie()
            cookie.load(raw)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        token = page.field("csrf-token") or page.field("csrf_token")
        if token:
            self.csrf = token
        return page

    def get(self, path: str, **headers: str) -> Page:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, form: dict[str, str], *, csrf: bool = True, headers: dict[str, str] | None = None) -> Page:
        data = dict(form)
        if csrf and self.csrf and "csrf_token" not in data:
            data["csrf_token"] = self.csrf
        sent = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.request("POST", path, body=urlencode(data).encode(), headers=sent)

    def api(self, method: str, path: str, body: bytes = b"", content_type: str = "application/json",
            csrf: bool = True) -> Page:
        headers = {"Content-Type": content_type}
        if csrf and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        return self.request(method, path, body=body, headers=headers)

    def login(self, access_key: str | None = None, secret: str | None = None) -> Page:
        form = self.get("/login")
        token = form.field("login_token") or ""
        page = self.post("/login", {"login_token": token, "access_key": access_key or self.server.access_key,
                                    "secret_key": secret if secret is not None else self.server.secret_key},
                         csrf=False)
        if page.status == 303:
            self.get("/buckets")  # picks up the session's CSRF token
        return page
