"""Who a request comes from, as access control names it.

Three kinds: the root key of the data directory, a user (an access key of
``fragstore user add`` or ``--users FILE``), and anonymous (an unsigned
request). Every signed caller is named by its access key:

    canonical user id     the access key (Owner/ID in listings and ACLs)
    ARN                   arn:aws:iam::000000000000:user/<access key>
                          arn:aws:iam::000000000000:root   (the root key)
    aws:username          the access key
    aws:userid            the access key ("anonymous" for unsigned requests)

fragstore has one account (ACCOUNT_ID); each user is a principal of its own,
as separate AWS accounts are to each other: a bucket belongs to the access
key that created it, and another user reaches it only through a bucket
policy or an ACL grant. The root key can do everything (server/auth/authorize.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

ACCOUNT_ID = "000000000000"
ARN_PREFIX = f"arn:aws:iam::{ACCOUNT_ID}:"
ROOT_ARN = f"{ARN_PREFIX}root"


class Kind(Enum):
    ROOT = "root"
    USER = "user"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Identity:
    kind: Kind
    access_key: str = ""  # "" for anonymous

    @property
    def is_root(self) -> bool:
        return self.kind is Kind.ROOT

    @property
    def is_anonymous(self) -> bool:
        return self.kind is Kind.ANONYMOUS

    @property
    def arn(self) -> str:
        if self.kind is Kind.ROOT:
            return ROOT_ARN
        return f"{ARN_PREFIX}user/{self.access_key}" if self.access_key else ""

    @property
    def userid(self) -> str:
        return self.access_key or "anonymous"

    def facts(self) -> dict[str, tuple[str, ...]]:
        """Its condition keys (aws:userid, aws:username, aws:PrincipalArn, aws:PrincipalType)."""
        facts: dict[str, tuple[str, ...]] = {"aws:userid": (self.userid,)}
        if self.is_anonymous:
            facts["aws:principaltype"] = ("Anonymous",)
            return facts
        facts["aws:username"] = (self.access_key,)
        facts["aws:principalarn"] = (self.arn,)
        facts["aws:principaltype"] = ("Account" if self.kind is Kind.ROOT else "User",)
        return facts

    def __str__(self) -> str:
        return "anonymous" if self.is_anonymous else f"{self.kind.value} {self.access_key}"


ANONYMOUS = Identity(Kind.ANONYMOUS)


def identify(access_key: str | None, root_access_key: str) -> Identity:
    """The identity of a request signed by ``access_key`` (None: unsigned)."""
    if not access_key:
        return ANONYMOUS
    return Identity(Kind.ROOT if access_key == root_access_key else Kind.USER, access_key)


def user_arn(access_key: str) -> str:
    return f"{ARN_PREFIX}user/{access_key}"
