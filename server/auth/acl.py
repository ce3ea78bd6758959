"""Access control lists: grants, canned ACLs, what a grant allows, and the
compact form kept in the index.

A grant names a grantee and a permission (READ, WRITE, READ_ACP, WRITE_ACP,
FULL_CONTROL). Grantees are a canonical user id (an access key, see
server/auth/identity.py) or a group: AllUsers (anyone, anonymous included),
AuthenticatedUsers (any signed request) and LogDelivery (S3's log writer;
fragstore writes no access logs into buckets, so its grants are kept and
shown and allow nothing). Grants by e-mail are resolved before they get
here (users have no e-mail addresses: UnresolvableGrantByEmailAddress).

Canned ACLs expand against the resource's owner and the bucket's owner:

    private                    owner FULL_CONTROL
    public-read                + AllUsers READ
    public-read-write          + AllUsers READ and WRITE
    authenticated-read         + AuthenticatedUsers READ
    aws-exec-read              owner FULL_CONTROL (EC2's READ has no meaning here)
    bucket-owner-read          + bucket owner READ              (objects)
    bucket-owner-full-control  + bucket owner FULL_CONTROL      (objects)
    log-delivery-write         + LogDelivery WRITE and READ_ACP (buckets)

Stored form (ObjectMeta.acl, the bucket's ``acl`` document): "" for private
(nothing stored), a canned name, or JSON ``[[kind, grantee, permission], ...]``
with kind ``u`` (user) or ``g`` (group URI), every grant as given.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from server.auth.identity import Identity

GROUPS = "http://acs.amazonaws.com/groups/"
ALL_USERS = GROUPS + "global/AllUsers"
AUTHENTICATED_USERS = GROUPS + "global/AuthenticatedUsers"
LOG_DELIVERY = GROUPS + "s3/LogDelivery"
KNOWN_GROUPS = (ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY)
PUBLIC_GROUPS = (ALL_USERS, AUTHENTICATED_USERS)  # what AWS calls public

READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL = "READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL"
PERMISSIONS = (FULL_CONTROL, WRITE, WRITE_ACP, READ, READ_ACP)

CANNED = ("private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
          "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write")
MAX_GRANTS = 100  # AWS's limit on the grants of one ACL


@dataclass(frozen=True)
class Grant:
    group: bool  # True: ``grantee`` is a group URI; False: a canonical user id
    grantee: str
    permission: str


def user(grantee: str, permission: str) -> Grant:
    return Grant(False, grantee, permission)


def group(uri: str, permission: str) -> Grant:
    return Grant(True, uri, permission)


@dataclass(frozen=True)
class Acl:
    """An ACL as stored: a canned name or explicit grants (the owner's implicit
    FULL_CONTROL comes from :func:`grants_of`)."""

    canned: str = "private"
    grants: tuple[Grant, ...] = ()

    def encode(self) -> str:
        if not self.grants:
            return "" if self.canned == "private" else self.canned
        return json.dumps([["g" if g.group else "u", g.grantee, g.permission] for g in self.grants],
                          separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> Acl:
        if not text:
            return PRIVATE
        if not text.startswith("["):
            return cls(text)
        return cls("", tuple(Grant(kind == "g", grantee, perm) for kind, grantee, perm in json.loads(text)))


PRIVATE = Acl()


def _canned_grants(canned: str, bucket_owner: str) -> list[Grant]:
    extra = {
        "public-read": [group(ALL_USERS, READ)],
        "public-read-write": [group(ALL_USERS, READ), group(ALL_USERS, WRITE)],
        "authenticated-read": [group(AUTHENTICATED_USERS, READ)],
        "bucket-owner-read": [user(bucket_owner, READ)],
        "bucket-owner-full-control": [user(bucket_owner, FULL_CONTROL)],
        "log-delivery-write": [group(LOG_DELIVERY, WRITE), group(LOG_DELIVERY, READ_ACP)],
    }
    return extra.get(canned, [])


def grants_of(acl: Acl, owner: str, bucket_owner: str) -> tuple[Grant, ...]:
    """Every grant of ``acl`` on a resource of ``owner``, the owner's own first,
    duplicates left out (bucket-owner-full-control on the bucket owner's own object)."""
    if acl.canned:
        found = [user(owner, FULL_CONTROL), *_canned_grants(acl.canned, bucket_owner)]
    else:
        found = list(acl.grants)
    out: list[Grant] = []
    for g in found:
        if g not in out:
            out.append(g)
    return tuple(out)


def is_public(grants: Iterable[Grant]) -> bool:
    """Whether any grant goes to AllUsers or AuthenticatedUsers (AWS's "public ACL")."""
    return any(g.group and g.grantee in PUBLIC_GROUPS for g in grants)


def _matches(g: Grant, who: Identity, ignore_public: bool) -> bool:
    if not g.group:
        return bool(who.access_key) and g.grantee == who.access_key
    if ignore_public and g.grantee in PUBLIC_GROUPS:
        return False
    if g.grantee == ALL_USERS:
        return True
    return g.grantee == AUTHENTICATED_USERS and not who.is_anonymous


def allows(grants: Iterable[Grant], who: Identity, permission: str, *, ignore_public: bool = False) -> Grant | None:
    """The grant that gives ``who`` ``permission`` (FULL_CONTROL gives all), or None."""
    for g in grants:
        if g.permission in (permission, FULL_CONTROL) and _matches(g, who, ignore_public):
            return g
    return None
