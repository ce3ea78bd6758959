"""A live server with two users added at runtime by ``fragstore user add``
(through the running server), for the access-control API tests; plain
unsigned HTTP for anonymous callers."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.live_server import LiveServer, RawResponse, fragstore, start_server


@dataclass
class World:
    server: LiveServer
    root: Any
    alice: Any
    bob: Any
    secrets: dict[str, str]

    def client(self, key: str, **kw: Any) -> Any:
        return self.server.client(aws_access_key_id=key, aws_secret_access_key=self.secrets[key], **kw)


def add_user(server: LiveServer, key: str) -> str:
    """``fragstore user add --access-key KEY`` against the running server; the secret it prints."""
    done = fragstore("user", "add", "--access-key", key, "--data", str(server.data_dir), env=server.env)
    assert done.returncode == 0, done.stderr
    assert f"asking it at {server.url}" in done.stderr
    return done.stdout.split("secret key: ")[1].split()[0]


@contextmanager
def world(root: Path) -> Iterator[World]:
    with start_server(root / "data", extra_args=["--log-level", "info"]) as server:
        secrets = {key: add_user(server, key) for key in ("ALICE", "BOB")}
        w = World(server, server.client(), None, None, secrets)
        w.alice, w.bob = w.client("ALICE"), w.client("BOB")
        yield w


def anon(server: LiveServer, method: str, target: str, body: bytes = b"",
         headers: dict[str, str] | None = None) -> RawResponse:
    """An unsigned request, as curl sends it."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(method, target, body=body, headers={"Content-Length": str(len(body)), **(headers or {})})
        response = conn.getresponse()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def code_of(response: RawResponse) -> str | None:
    if b"<Code>" not in response.body:
        return None
    return response.body.split(b"<Code>")[1].split(b"</Code>")[0].decode()


def refused(call: Any, code: str = "AccessDenied") -> None:
    with pytest.raises(ClientError) as failed:
        call()
    got = failed.value.response["Error"]["Code"]
    assert got == code or (code == "AccessDenied" and got == "403"), failed.value.response


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def open_bucket(s3: Any, bucket: str, ownership: str | None = None) -> None:
    """A bucket without the default public access block (and with ACLs, given an ownership)."""
    if ownership:
        s3.create_bucket(Bucket=bucket, ObjectOwnership=ownership)
    else:
        s3.create_bucket(Bucket=bucket)
    s3.delete_public_access_block(Bucket=bucket)
