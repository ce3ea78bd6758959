"""Presigned GET links for the logged-in user, signed with that user's key.

A link is SigV4 query authentication, made by botocore's own presigner (the
signer S3 clients use; the server checks it like any client's link): whoever
holds it may GET that object (that version) as the user until it expires, and
the authorization in force when the link is used decides, as for the user's
own requests. The host is the one the browser reached the console at.
"""

from __future__ import annotations

from urllib.parse import urlencode

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from server.console.s3call import object_path

MAX_EXPIRY = 7 * 24 * 3600  # SigV4's limit
EXPIRIES = (("3600", "1 hour"), ("86400", "1 day"), ("604800", "7 days"), ("900", "15 minutes"))


def presigned_get(*, scheme: str, host: str, bucket: str, key: str, version_id: str | None,
                  access_key: str, secret: str, region: str, expires: int) -> str:
    if not 1 <= expires <= MAX_EXPIRY:
        raise ValueError(f"expiry must be 1 to {MAX_EXPIRY} seconds")
    url = f"{scheme}://{host}{object_path(bucket, key)}"
    if version_id:
        url += "?" + urlencode({"versionId": version_id})
    request = AWSRequest(method="GET", url=url)
    S3SigV4QueryAuth(Credentials(access_key, secret), "s3", region, expires=expires).add_auth(request)
    return str(request.url)
