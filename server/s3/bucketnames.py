"""The bucket names the server hands to the engine at all.

An empty name (a path such as ``//key``) or one longer than any S3 bucket name
can be (255 bytes, the legacy us-east-1 rule) names no bucket: it is answered
with InvalidBucketName before the engine is asked (whose index cannot even
look such a name up). CreateBucket applies the full naming rules in the engine.
"""

from __future__ import annotations

from server.s3.errors import S3Error

MAX_BUCKET_NAME_BYTES = 255


def check_bucket_name(name: str) -> None:
    if not name or len(name.encode("utf-8", "surrogatepass")) > MAX_BUCKET_NAME_BYTES:
        raise S3Error("InvalidBucketName", extra={"BucketName": name})
