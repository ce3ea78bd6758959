"""Deleting data gives the disk back (issue 12, item 6), measured from outside:
upload through S3, delete every object, run ``fragstore gc`` through the
running server, and the data directory is within 1 MiB (plus the index) of
empty, without waiting for compaction."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from tests.live_server import start_server
from tests.server.test_cli import via_server

MiB = 1024 * 1024


def allocated(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:  # server.json going away
                continue
    return total


def can_punch(directory: Path) -> bool:
    from dedup.holes import Holes

    return Holes(directory).supported


def test_deleting_every_object_gives_the_space_back(tmp_path: Path) -> None:
    if not can_punch(tmp_path):
        pytest.skip("the filesystem of the test directory cannot punch holes")
    data = tmp_path / "data"
    with start_server(data, extra_args=["--gc-interval", "0"]) as server:
        s3 = server.client()
        s3.create_bucket(Bucket="space")
        s3.create_bucket(Bucket="space-b")
        body = os.urandom(6 * MiB)
        s3.put_object(Bucket="space", Key="a", Body=body)
        s3.put_object(Bucket="space-b", Key="a-again", Body=body)  # deduplicated
        for i in range(4):
            s3.put_object(Bucket="space", Key=f"small/{i}", Body=os.urandom(300_000 + i))
        big = tmp_path / "big"
        big.write_bytes(os.urandom(12 * MiB))
        s3.upload_file(str(big), "space", "multipart",
                       Config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB))
        full = allocated(data / "packs")
        assert full > 19 * MiB
        for bucket in ("space", "space-b"):
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})

        gc = via_server(server, "gc", "--grace", "0")
        assert gc.returncode == 0, gc.stderr
        assert re.search(r"of it by punching holes\s+\d", gc.stdout), gc.stdout
        assert allocated(data / "packs") < 1 * MiB
        assert allocated(data) - allocated(data / "index") < 1 * MiB

        check = via_server(server, "check")
        assert check.returncode == 0 and "OK" in check.stdout, check.stdout + check.stderr
        s3.put_object(Bucket="space", Key="after", Body=body)  # the store goes on
        assert s3.get_object(Bucket="space", Key="after")["Body"].read() == body
