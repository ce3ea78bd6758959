"""Compare what the server holds with the ledger, through the S3 API.

Every ledger key is read whole: a present key must hold one of its candidate
values, byte for byte and with its ETag; an absent key must be absent; the
bucket listing must name exactly the present keys. What is found settles the
key in the ledger.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from tests.robustness.blobs import materialize
from tests.robustness.ledger import ABSENT, Ledger, Version


@dataclass
class Findings:
    """Counts of one check (or a sum of them); ``problems`` says what was wrong."""

    objects_checked: int = 0
    lost: int = 0          # an acknowledged object missing
    corrupt: int = 0       # bytes or ETag that no write of the key produced
    resurrected: int = 0   # an acknowledged delete undone
    unexpected: int = 0    # listed keys nobody wrote, or listing and GET disagreeing
    problems: list[str] = field(default_factory=list)

    @property
    def bad(self) -> int:
        return self.lost + self.corrupt + self.resurrected + self.unexpected

    def add(self, other: Findings) -> None:
        self.objects_checked += other.objects_checked
        self.lost += other.lost
        self.corrupt += other.corrupt
        self.resurrected += other.resurrected
        self.unexpected += other.unexpected
        self.problems += other.problems


def version_md5(version: Version) -> str:
    digest = hashlib.md5()
    for part in version.parts:
        digest.update(materialize(part))
    return digest.hexdigest()


def list_keys(s3: Any, bucket: str) -> dict[str, tuple[int, str]]:
    """key -> (size, ETag) for every object in the bucket."""
    found: dict[str, tuple[int, str]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            found[entry["Key"]] = (entry["Size"], entry["ETag"].strip('"'))
    return found


def read(s3: Any, bucket: str, key: str) -> tuple[str, str] | None:
    """(ETag, MD5 of the body) of ``key``, None if it does not exist."""
    try:
        answer = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchKey":
            return None
        raise
    body = answer["Body"].read()
    return answer["ETag"].strip('"'), hashlib.md5(body).hexdigest()


def verify(s3: Any, bucket: str, ledger: Ledger) -> Findings:
    found = Findings()
    listed = list_keys(s3, bucket)
    for key in sorted(set(listed) - set(ledger.keys())):
        found.unexpected += 1
        found.problems.append(f"{key}: listed, never written")
    for key in ledger.keys():
        found.objects_checked += 1
        candidates = ledger.state(key)
        try:
            got = read(s3, bucket, key)
        except ClientError as exc:
            found.corrupt += 1
            found.problems.append(f"{key}: GET failed: {exc}")
            continue
        if (got is None) != (key not in listed):
            found.unexpected += 1
            found.problems.append(f"{key}: listing and GET disagree")
        if got is None:
            if ABSENT in candidates:
                ledger.settle(key, ABSENT)
            else:
                found.lost += 1
                found.problems.append(f"{key}: acknowledged object missing")
            continue
        etag, md5 = got
        match = next((v for v in candidates if v is not None and v.etag == etag and version_md5(v) == md5), None)
        if match is not None:
            ledger.settle(key, match)
        elif candidates == {ABSENT}:
            found.resurrected += 1
            found.problems.append(f"{key}: acknowledged delete undone (ETag {etag})")
        else:
            found.corrupt += 1
            found.problems.append(f"{key}: ETag {etag} / MD5 {md5} matches no write of it")
    return found
