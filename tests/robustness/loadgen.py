"""Concurrent S3 clients that record every acknowledged write and delete.

Each :class:`LoadClient` runs in a thread with its own boto3 client and its own
keys (so one key's operations never race each other) and loops over random
operations until told to stop: PutObject of small and large objects, multipart
uploads, CopyObject, DeleteObject and DeleteObjects. An answered 2xx is
written to the :class:`~tests.robustness.ledger.Ledger` as acknowledged; any
other outcome leaves the key uncertain. Used by the crash test and by
``benchmarks/soak.py``.
"""

from __future__ import annotations

import hashlib
import random
import threading
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.robustness.blobs import (
    Blob,
    MiB,
    large_blob,
    materialize,
    md5_of,
    sized_blob,
    small_blob,
)
from tests.robustness.ledger import ABSENT, Ledger, Version

PART = 5 * MiB  # the smallest part but the last
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=120, retries={"total_max_attempts": 1})


@dataclass(frozen=True)
class LoadShape:
    """How heavy the load is: large objects up to ``max_large`` bytes; a
    multipart upload has two parts (5 MiB + more) with ``two_part_odds``."""

    max_large: int = 2 * MiB
    two_part_odds: float = 0.1


def multipart_etag(parts: tuple[Blob, ...]) -> str:
    joined = b"".join(bytes.fromhex(md5_of(p)) for p in parts)
    return f"{hashlib.md5(joined).hexdigest()}-{len(parts)}"


# What a write can end in besides an answer: an S3 error, a broken connection, or a
# 200 whose body was cut short by the kill (botocore does not enforce Content-Length,
# so it parses an empty document and the ETag is missing).
FAILURES = (ClientError, BotoCoreError, KeyError)


def status_of(exc: Exception) -> int | None:
    if isinstance(exc, ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)) or None
    return None


class LoadClient:
    """One client thread's worth of operations on its own keys."""

    def __init__(self, s3: Any, bucket: str, keys: list[str], ledger: Ledger, seed: int,
                 shape: LoadShape) -> None:
        self.s3, self.bucket, self.keys, self.ledger = s3, bucket, keys, ledger
        self.rng = random.Random(seed)
        self.shape = shape
        self.ops: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()  # acked, broken, 4xx, 5xx, bad-ack
        self.errors: list[str] = []
        self.crashes: list[str] = []

    def run(self, stop: threading.Event) -> None:
        table: list[tuple[Callable[[], None], int]] = [
            (self.put_small, 30), (self.put_large, 15), (self.multipart, 6),
            (self.copy, 12), (self.delete, 12), (self.delete_many, 6),
        ]
        ops, weights = zip(*table, strict=True)
        try:
            while not stop.is_set():
                op = self.rng.choices(ops, weights)[0]
                self.ops[op.__name__] += 1
                op()
        except Exception as exc:  # a bug of the load generator: its ledger is now unreliable
            self.crashes.append("".join(traceback.format_exception(exc)))

    # -- outcomes ------------------------------------------------------------------
    def _failed(self, where: str, exc: Exception) -> None:
        status = status_of(exc)
        kind = "broken" if status is None else ("5xx" if status >= 500 else "4xx")
        self.outcomes[kind] += 1
        if kind != "broken":
            self.errors.append(f"{where}: {exc}")

    def _attempt(self, key: str, value: Version | None, call: Callable[[], str | None]) -> None:
        """Send one write of ``key``; record it as acknowledged or uncertain."""
        try:
            etag = call()
        except FAILURES as exc:
            self.ledger.unsure(key, value)
            self._failed(f"{key}", exc)
            return
        if value is not None and etag is not None and etag.strip('"') != value.etag:
            self.outcomes["bad-ack"] += 1
            self.errors.append(f"{key}: acknowledged ETag {etag} for {value.etag}")
            self.ledger.unsure(key, value)
            return
        self.outcomes["acked"] += 1
        self.ledger.ack(key, value)

    # -- operations ----------------------------------------------------------------
    def put_small(self) -> None:
        self._put(small_blob(self.rng))

    def put_large(self) -> None:
        self._put(large_blob(self.rng, self.shape.max_large))

    def _put(self, blob: Blob) -> None:
        key = self.rng.choice(self.keys)
        value = Version.simple(blob)
        data = materialize(blob)
        self._attempt(key, value, lambda: self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)["ETag"])

    def multipart(self) -> None:
        key = self.rng.choice(self.keys)
        parts: tuple[Blob, ...]
        if self.rng.random() < self.shape.two_part_odds:
            parts = (sized_blob(self.rng, PART), sized_blob(self.rng, self.rng.randrange(1, MiB)))
        else:
            parts = (large_blob(self.rng, self.shape.max_large),)
        value = Version(parts, multipart_etag(parts))
        try:
            upload = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
            listed = []
            for number, blob in enumerate(parts, 1):
                answer = self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=upload,
                                             PartNumber=number, Body=materialize(blob))
                listed.append({"PartNumber": number, "ETag": answer["ETag"]})
        except FAILURES as exc:  # the key is untouched
            self._failed(f"{key} (upload)", exc)
            return
        self._attempt(key, value, lambda: self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": listed})["ETag"])

    def copy(self) -> None:
        sources = [k for k in self.keys if self.ledger.definite(k) is not None]
        if not sources:
            return self.put_small()
        source = self.rng.choice(sources)
        target = self.rng.choice([k for k in self.keys if k != source])
        value = self.ledger.definite(source)
        self._attempt(target, value, lambda: self.s3.copy_object(
            Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source},
        )["CopyObjectResult"]["ETag"])

    def delete(self) -> None:
        key = self.rng.choice(self.keys)
        self._attempt(key, ABSENT, lambda: self.s3.delete_object(Bucket=self.bucket, Key=key) and None)

    def delete_many(self) -> None:
        chosen = self.rng.sample(self.keys, self.rng.randint(1, min(5, len(self.keys))))
        try:
            answer = self.s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chosen]})
            if "Deleted" not in answer and "Errors" not in answer:
                raise KeyError("Deleted")  # an answer cut short
        except FAILURES as exc:
            for key in chosen:
                self.ledger.unsure(key, ABSENT)
            self._failed("DeleteObjects", exc)
            return
        deleted = {d["Key"] for d in answer.get("Deleted", [])}
        for key in chosen:
            if key in deleted:
                self.ledger.ack(key, ABSENT)
            else:
                self.ledger.unsure(key, ABSENT)
                self.outcomes["4xx"] += 1
                self.errors.append(f"DeleteObjects did not delete {key}: {answer.get('Errors')}")
        self.outcomes["acked"] += 1


class Load:
    """``clients`` LoadClients on one bucket, started and stopped together."""

    def __init__(self, make_client: Callable[[], Any], bucket: str, ledger: Ledger, *,
                 clients: int, keys_per_client: int, seed: int, shape: LoadShape) -> None:
        self.clients = [
            LoadClient(make_client(), bucket, [f"c{c:02d}/k{k:03d}" for k in range(keys_per_client)],
                       ledger, seed * 1000 + c, shape)
            for c in range(clients)
        ]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stop.clear()
        self._threads = [threading.Thread(target=c.run, args=(self._stop,), daemon=True) for c in self.clients]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Ask every client to stop after its current operation (call before a kill)."""
        self._stop.set()

    def join(self) -> None:
        for thread in self._threads:
            thread.join()

    def ops(self) -> Counter[str]:
        return sum((c.ops for c in self.clients), Counter())

    def outcomes(self) -> Counter[str]:
        return sum((c.outcomes for c in self.clients), Counter())

    def errors(self) -> list[str]:
        return [e for c in self.clients for e in c.errors]

    def crashes(self) -> list[str]:
        return [e for c in self.clients for e in c.crashes]

    def retarget(self, make_client: Callable[[], Any]) -> None:
        """New boto3 clients (the restarted server listens on a new port)."""
        for client in self.clients:
            client.s3 = make_client()
