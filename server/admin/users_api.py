"""The admin endpoints for users (root only, like every admin endpoint;
dispatch's authorization step refuses anyone else):

    GET    /_fragstore/users                      -> {"users": [{"access_key", "source", "buckets", "root"}]}
                                                  (the root key first, source "root")
    POST   /_fragstore/users[?access-key=KEY]     add one -> {"access_key", "secret"}
    POST   /_fragstore/users/KEY                  a new secret -> {"access_key", "secret"}
    DELETE /_fragstore/users/KEY                  remove one (refused while it owns buckets)

The new secret is in the answer once and nowhere else but ``<data>/user-credentials``
(server/auth/users.py); it never reaches a log line. A refusal is
InvalidArgument with the reason as its message.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from starlette.responses import Response

from server.auth.credentials import CredentialsError
from server.auth.users import Users
from server.s3.context import RequestContext
from server.s3.errors import S3Error


def _users(ctx: RequestContext) -> Users:
    users = ctx.credentials.users
    assert isinstance(users, Users)
    return users


def _json(doc: object) -> Response:
    return Response(json.dumps(doc, indent=2).encode(), media_type="application/json")


def _refused(exc: CredentialsError) -> S3Error:
    return S3Error("InvalidArgument", str(exc))


def _target(ctx: RequestContext) -> str:
    return ctx.key.removeprefix("users/")


async def list_users(ctx: RequestContext) -> Response:
    owned = Counter(b.owner for b in await ctx.store.list_buckets())
    root = ctx.credentials.root_access_key
    users = [{"access_key": root, "source": "root", "buckets": owned.get(root, 0), "root": True}]
    users += [{"access_key": key, "source": source, "buckets": owned.get(key, 0), "root": False}
              for key, source in _users(ctx).listing()]
    return _json({"users": users})


async def add_user(ctx: RequestContext) -> Response:
    try:
        key, secret = await asyncio.to_thread(_users(ctx).add, ctx.query.get("access-key") or None)
    except CredentialsError as exc:
        raise _refused(exc) from None
    return _json({"access_key": key, "secret": secret})


async def rotate_user_key(ctx: RequestContext) -> Response:
    key = _target(ctx)
    try:
        secret = await asyncio.to_thread(_users(ctx).rotate, key)
    except CredentialsError as exc:
        raise _refused(exc) from None
    return _json({"access_key": key, "secret": secret})


async def remove_user(ctx: RequestContext) -> Response:
    key = _target(ctx)
    owned = sorted(b.name for b in await ctx.store.list_buckets() if b.owner == key)
    try:
        await asyncio.to_thread(_users(ctx).remove, key, owned)
    except CredentialsError as exc:
        raise _refused(exc) from None
    return _json({"access_key": key, "removed": True})
