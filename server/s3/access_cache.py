"""Each bucket's owner and access documents, parsed once and kept.

Every request on a bucket needs its owner, ownership setting, ACL, policy and
public access block (server/auth/resources.py); reading and parsing them per
request would cost an index read and a JSON parse of the policy each time.
This cache keeps them by bucket name (at most ``size`` buckets, least
recently used first out; 0 keeps none: with many gateways on one index,
another process may change them). Only this server process writes them, so the cache
is dropped for a bucket whenever a request that can change them has run
(dispatch calls :meth:`invalidate` after CreateBucket, DeleteBucket and the
Put/Delete of an ACL, policy, ownership controls or public access block,
whether it succeeded or not). A load that raced with such a change is not
kept: every invalidation bumps a counter, and a load is cached only if the
counter did not move while it read.
"""

from __future__ import annotations

from collections import OrderedDict

from dedup.store import Store
from server.auth.acl import Acl
from server.auth.policy import load_stored
from server.auth.resources import (
    ACL_DOC,
    DOCUMENTS,
    OWNERSHIP_DOC,
    POLICY_DOC,
    PUBLIC_BLOCK_DOC,
    BucketAccess,
    PublicAccessBlock,
)

# operations after which a bucket's access documents may have changed
CHANGES_ACCESS = frozenset({
    "CreateBucket", "DeleteBucket", "PutBucketAcl", "PutBucketPolicy", "DeleteBucketPolicy",
    "PutBucketOwnershipControls", "DeleteBucketOwnershipControls", "PutPublicAccessBlock",
    "DeletePublicAccessBlock",
})


async def load(store: Store, bucket: str) -> BucketAccess:
    """Read and parse a bucket's access documents (NoSuchBucket if there is no bucket)."""
    info, docs = await store.bucket_configs(bucket, DOCUMENTS)
    policy = docs.get(POLICY_DOC)
    block = docs.get(PUBLIC_BLOCK_DOC)
    ownership = docs.get(OWNERSHIP_DOC)
    return BucketAccess(
        name=bucket, owner=info.owner,
        ownership=ownership.decode() if ownership is not None else None,
        acl=Acl.decode(docs[ACL_DOC].decode()) if ACL_DOC in docs else Acl(),
        policy=load_stored(policy, bucket) if policy is not None else None,
        public_block=PublicAccessBlock.decode(block) if block is not None else None,
    )


class BucketAccessCache:
    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._entries: OrderedDict[str, BucketAccess] = OrderedDict()
        self._changes = 0

    async def get(self, store: Store, bucket: str) -> BucketAccess:
        found = self._entries.get(bucket)
        if found is not None:
            self._entries.move_to_end(bucket)
            return found
        before = self._changes
        loaded = await load(store, bucket)
        if self._changes == before and self._size:
            self._entries[bucket] = loaded
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return loaded

    def invalidate(self, bucket: str) -> None:
        self._changes += 1
        self._entries.pop(bucket, None)
