"""The request's values for bucket policy conditions (condition key -> values).

    aws:SourceIp          the peer address (the ASGI scope's client; fragstore
                          does not trust X-Forwarded-For)
    aws:SecureTransport   "true" over HTTPS
    aws:CurrentTime       now, ISO 8601; aws:EpochTime in seconds
    aws:UserAgent, aws:Referer                            the headers
    aws:username, aws:userid, aws:PrincipalArn, aws:PrincipalType
                          the caller (server/auth/identity.py); an unsigned
                          request has aws:userid "anonymous" and no others
    s3:prefix, s3:delimiter, s3:max-keys                  the listing's parameters, when given
    s3:VersionId          the versionId parameter
    s3:x-amz-acl, s3:x-amz-grant-*, s3:x-amz-copy-source, s3:x-amz-metadata-directive,
    s3:x-amz-storage-class, s3:x-amz-server-side-encryption, s3:x-amz-content-sha256,
    s3:x-amz-object-ownership                             the headers, when sent
    s3:RequestObjectTag/<key>, s3:RequestObjectTagKeys    the x-amz-tagging header's tags
    s3:ExistingObjectTag/<key>                            the object version's tags (when loaded)
    s3:authType           REST-HEADER, REST-QUERY-STRING or POST
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from server.auth.identity import Identity
from server.auth.policy_conditions import normalize_key

LIST_PARAMS = ("prefix", "delimiter", "max-keys")
HEADER_KEYS = ("x-amz-acl", "x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp",
               "x-amz-grant-write-acp", "x-amz-grant-full-control", "x-amz-copy-source",
               "x-amz-metadata-directive", "x-amz-storage-class", "x-amz-server-side-encryption",
               "x-amz-content-sha256", "x-amz-object-ownership")
LIST_OPERATIONS = frozenset({"ListObjects", "ListObjectsV2", "ListObjectVersions"})


def request_facts(
    who: Identity, operation: str, scope: Mapping[str, object], headers: Mapping[str, str],
    query: Mapping[str, str], *, presigned: bool, now: float | None = None,
) -> dict[str, tuple[str, ...]]:
    now = time.time() if now is None else now
    client = scope.get("client")
    facts = who.facts()
    if isinstance(client, (tuple, list)) and client:
        facts["aws:sourceip"] = (str(client[0]),)
    facts["aws:securetransport"] = ("true" if scope.get("scheme") == "https" else "false",)
    facts["aws:currenttime"] = (datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),)
    facts["aws:epochtime"] = (str(int(now)),)
    for header, key in (("user-agent", "aws:useragent"), ("referer", "aws:referer")):
        if header in headers:
            facts[key] = (headers[header],)
    if operation in LIST_OPERATIONS:
        facts.update((f"s3:{name}", (query[name],)) for name in LIST_PARAMS if name in query)
    if "versionId" in query:
        facts["s3:versionid"] = (query["versionId"],)
    facts.update((f"s3:{name}", (headers[name],)) for name in HEADER_KEYS if name in headers)
    if "x-amz-tagging" in headers:
        tags = parse_qsl(headers["x-amz-tagging"], keep_blank_values=True)
        facts.update((normalize_key(f"s3:RequestObjectTag/{k}"), (v,)) for k, v in tags)
        facts["s3:requestobjecttagkeys"] = tuple(k for k, _ in tags)
    if not who.is_anonymous:
        facts["s3:authtype"] = ("POST" if operation == "PostObject" else
                                "REST-QUERY-STRING" if presigned else "REST-HEADER",)
    return facts


def tag_facts(tags: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    return {normalize_key(f"s3:ExistingObjectTag/{k}"): (v,) for k, v in tags.items()}
