"""The workload's only door to the object store: a boto3 client and a thin wrapper.

Every upload names its *kind* (``dataset``, ``checkpoints``, ``samples``,
``logs``) so a benchmark can watch the uploads through an
:class:`UploadObserver` and attribute the store's growth to each kind. Large
bodies go through boto3's managed transfer (``upload_fileobj`` /
``download_fileobj``), which switches to multipart above the threshold.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

KINDS = ("dataset", "checkpoints", "samples", "logs")
MiB = 1024 * 1024


class UploadObserver(Protocol):
    """Sees every upload: ``before`` it starts, ``after`` it is acknowledged."""

    def before(self, kind: str) -> None: ...

    def after(self, kind: str, bucket: str, key: str, data: bytes) -> None: ...


@dataclass(frozen=True)
class Endpoint:
    """Where the store is and who we are; None fields fall back to AWS env vars."""

    url: str
    access_key: str | None = None
    secret_key: str | None = None
    region: str = "us-east-1"

    def client(self, max_pool: int = 16) -> Any:
        config = Config(
            s3={"addressing_style": "path"},
            max_pool_connections=max_pool,
            retries={"max_attempts": 3, "mode": "standard"},
        )
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key or os.environ.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=self.secret_key or os.environ.get("AWS_SECRET_ACCESS_KEY"),
            region_name=self.region,
            config=config,
        )


class Store:
    """Bucket-level helpers over one boto3 client (thread-safe, like the client)."""

    def __init__(
        self,
        client: Any,
        observer: UploadObserver | None = None,
        multipart_threshold: int = 8 * MiB,
        multipart_chunksize: int = 8 * MiB,
    ) -> None:
        self.client = client
        self.observer = observer
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold, multipart_chunksize=multipart_chunksize
        )

    def ensure_bucket(self, bucket: str) -> None:
        try:
            self.client.head_bucket(Bucket=bucket)
        except ClientError:
            self.client.create_bucket(Bucket=bucket)

    def enable_versioning(self, bucket: str) -> None:
        self.client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    def current_version(self, bucket: str, key: str) -> str:
        """The version id of ``key``'s current version (``null`` when unversioned)."""
        return str(self.client.head_object(Bucket=bucket, Key=key).get("VersionId", "null"))

    def put(self, kind: str, bucket: str, key: str, data: bytes, content_type: str = "") -> None:
        """Upload ``data`` with a single PutObject."""
        self._before(kind)
        extra = {"ContentType": content_type} if content_type else {}
        self.client.put_object(Bucket=bucket, Key=key, Body=data, **extra)
        self._after(kind, bucket, key, data)

    def put_managed(self, kind: str, bucket: str, key: str, data: bytes) -> None:
        """Upload ``data`` with boto3's managed transfer (multipart when large)."""
        self._before(kind)
        self.client.upload_fileobj(io.BytesIO(data), bucket, key, Config=self.transfer)
        self._after(kind, bucket, key, data)

    def put_many(self, kind: str, bucket: str, items: Iterable[tuple[str, bytes]], workers: int = 8) -> int:
        """Upload (key, bytes) pairs concurrently; returns the number uploaded."""
        with ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(self.put, kind, bucket, key, data) for key, data in items]
            for future in futures:
                future.result()
        return len(futures)

    def get(self, bucket: str, key: str) -> bytes:
        body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            return body.read()
        finally:
            body.close()

    def get_managed(self, bucket: str, key: str) -> bytes:
        """Download with boto3's managed transfer (ranged parts for large objects)."""
        buf = io.BytesIO()
        self.client.download_fileobj(bucket, key, buf, Config=self.transfer)
        return buf.getvalue()

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def list(self, bucket: str, prefix: str) -> Iterator[tuple[str, int, str]]:
        """(key, size, etag) of every object under ``prefix``, in key order."""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"], int(item["Size"]), item["ETag"].strip('"')

    def _before(self, kind: str) -> None:
        if self.observer is not None:
            self.observer.before(kind)

    def _after(self, kind: str, bucket: str, key: str, data: bytes) -> None:
        if self.observer is not None:
            self.observer.after(kind, bucket, key, data)
