"""One console request as the page handlers see it: who is logged in, the
query and form, the S3 caller, and how to answer (a page, a redirect, JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from server.auth.session_caller import SessionCaller
from server.console.guard import BODY_READ, PAGE_HEADERS
from server.console.s3call import S3Call
from server.console.sessions import CSRF_FIELD, CSRF_HEADER, Session
from server.http.body import content_length

if TYPE_CHECKING:
    from server.console.web import Console

BASE = "/_fragstore/console"
MAX_FORM_BYTES = 1 << 20  # a policy or CORS document is at most tens of kB


class BadForm(Exception):
    """A form or JSON body the console cannot read (too large, not UTF-8, not JSON)."""


def console_url(path: str = "/", **query: str | int | None) -> str:
    """The console URL of ``path`` with the query values that are not None."""
    shown = {k: str(v) for k, v in query.items() if v is not None}
    return BASE + path + ("?" + urlencode(shown) if shown else "")


class Visit:
    def __init__(self, console: Console, request: Request, request_id: str, params: Mapping[str, str],
                 session: Session | None, session_id: str | None) -> None:
        self.console = console
        self.request = request
        self.request_id = request_id
        self.params = dict(params)
        self.session = session
        self.session_id = session_id
        self.query = {k: v for k, v in reversed(request.query_params.multi_items())}
        self._form: dict[str, str] | None = None

    @property
    def state(self) -> Any:
        return self.request.app.state

    @property
    def access_key(self) -> str:
        assert self.session is not None
        return self.session.access_key

    @property
    def is_root(self) -> bool:
        """A hint for the navigation only: whether to show the operator's pages
        (they are asked for through dispatch, which decides)."""
        return self.session is not None and self.session.access_key == self.state.credentials.root_access_key

    @property
    def s3(self) -> S3Call:
        assert self.session is not None
        return S3Call(self.request, SessionCaller(self.session.access_key, self.session.tag))

    # -- bodies ------------------------------------------------------------------
    async def raw_body(self, limit: int = MAX_FORM_BYTES) -> bytes:
        length = content_length({k.lower(): v for k, v in self.request.headers.items()})
        if length is not None and length > limit:
            raise BadForm(f"the request body is over {limit} bytes")
        body = bytearray()
        async for piece in self.request.stream():
            body += piece
            if len(body) > limit:
                raise BadForm(f"the request body is over {limit} bytes")
        self.request.scope[BODY_READ] = True
        return bytes(body)

    async def form(self) -> dict[str, str]:
        """The urlencoded form (the first value of a repeated field)."""
        if self._form is None:
            try:
                text = (await self.raw_body()).decode()
            except UnicodeDecodeError:
                raise BadForm("the form is not UTF-8") from None
            self._form = {}
            for name, value in parse_qsl(text, keep_blank_values=True):
                self._form.setdefault(name, value)
        return self._form

    async def json_body(self) -> Any:
        try:
            return json.loads(await self.raw_body())
        except ValueError:
            raise BadForm("the body is not JSON") from None

    async def csrf_ok(self) -> bool:
        """The session's CSRF token came with this request (header or form field)."""
        if self.session is None:
            return False
        given = self.request.headers.get(CSRF_HEADER)
        if given is None and self.request.headers.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"):
            given = (await self.form()).get(CSRF_FIELD)
        return self.session.csrf_ok(given)

    # -- answers -------------------------------------------------------------------
    def flash(self, text: str, kind: str = "info") -> None:
        if self.session is not None:
            self.session.flash(text, kind)

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        flashes = self.session.take_flashes() if self.session is not None else []
        html = self.console.templates.get_template(template).render(v=self, flashes=flashes, url=console_url,
                                                                    **values)
        return page_response(HTMLResponse(html, status_code=status))

    def redirect(self, url: str) -> Response:
        return page_response(RedirectResponse(url, status_code=303))

    def json(self, doc: Any, status: int = 200) -> Response:
        return page_response(JSONResponse(doc, status_code=status))


def page_response(response: Response) -> Response:
    response.headers.update(PAGE_HEADERS)
    return response
