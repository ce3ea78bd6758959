"""What a handler gets: the parsed request, its caller, and the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.requests import Request

from dedup.store import Store
from server.admin.config import ServerConfig
from server.auth.credentials import Credentials
from server.auth.post_auth import FormGrant
from server.auth.sigv4 import AuthResult
from server.http.body import MAX_XML_BODY, content_length, read_small, receive_stream
from server.http.form import Form
from server.http.payload import Payload
from server.s3.access_info import Access
from server.s3.routing import Route


@dataclass
class RequestContext:
    request: Request
    request_id: str
    route: Route
    headers: dict[str, str]  # lower-case names; repeated headers joined with ","
    query: dict[str, str]  # decoded; the first value of a repeated key
    store: Store
    config: ServerConfig
    credentials: Credentials
    auth: AuthResult | None = None
    access: Access | None = None  # what authorization decided from (server/s3/access.py)
    body_received: bool = False  # the whole request body has been read
    form: Form | None = None  # PostObject: the fields before the file, the file still streaming
    grant: FormGrant | None = None  # PostObject: what the form's verified policy allows

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def bucket(self) -> str:
        assert self.route.bucket is not None
        return self.route.bucket

    @property
    def key(self) -> str:
        assert self.route.key is not None
        return self.route.key

    @property
    def access_key(self) -> str:
        """The caller's access key ("" for an unsigned request)."""
        assert self.auth is not None
        return self.auth.access_key

    @property
    def owner(self) -> str:
        """The bucket's owner (for Owner/Initiator elements)."""
        return self.access.owner if self.access else self.access_key

    @property
    def authorized(self) -> Access:
        assert self.access is not None
        return self.access

    def payload(self, *, object_checksums: bool = False) -> Payload:
        """The decoded, verified request body (read it once). With
        ``object_checksums`` the x-amz-checksum-* headers describe the object
        (CompleteMultipartUpload), not this body, and are not checked against it."""
        assert self.auth is not None
        raw = self.raw_body()
        headers = self.headers
        if object_checksums:
            headers = {k: v for k, v in headers.items() if not k.startswith("x-amz-checksum-")}
        return Payload(raw, self.auth, headers)

    def raw_body(self) -> AsyncIterator[bytes]:
        """The request body as received, undecoded (read it once)."""
        return receive_stream(self.request.receive, content_length(self.headers), self._body_done)

    def _body_done(self) -> None:
        self.body_received = True

    async def read_body(self, *, object_checksums: bool = False, limit: int = MAX_XML_BODY) -> bytes:
        """A small (XML) body, whole and verified; MaxMessageLengthExceeded past ``limit`` bytes."""
        return await read_small(self.payload(object_checksums=object_checksums), limit)
