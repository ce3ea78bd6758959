"""A full disk, for real: the data directory on a small tmpfs, filled to the
last byte. Writes fail with InsufficientStorage (507) and leave nothing half
committed; reads go on; once space returns, writes work again. Needs the right
to mount (root, as in the CI container); skipped where it is missing."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.live_server import start_server
from tests.robustness import offline

BUCKET = "full"
KiB = 1024


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "mnt"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(directory: Path) -> Path:
    """Write a file until the filesystem refuses another byte."""
    filler = directory / "filler"
    block = b"\xa5" * (64 * KiB)
    with open(filler, "wb", buffering=0) as handle:
        for size in (len(block), 4096, 1):
            try:
                while True:
                    handle.write(block[:size])
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    error = exc.value.response
    return int(error["ResponseMetadata"]["HTTPStatusCode"]), str(error["Error"]["Code"])


def test_disk_full_fails_cleanly_and_recovers(small_fs: Path) -> None:
    data = small_fs / "data"
    kept = os.urandom(200 * KiB)
    new = os.urandom(1024 * KiB)
    with start_server(data) as server:
        s3 = server.client()
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="kept", Body=kept)
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key="parts")["UploadId"]
        filler = fill(small_fs)
        with pytest.raises(ClientError) as failed:
            s3.put_object(Bucket=BUCKET, Key="new", Body=new)
        assert code_of(failed) == (507, "InsufficientStorage")
        with pytest.raises(ClientError) as failed:
            s3.upload_part(Bucket=BUCKET, Key="parts", UploadId=upload, PartNumber=1, Body=new)
        assert code_of(failed) == (507, "InsufficientStorage")
        os.truncate(filler, filler.stat().st_size - 300 * KiB)  # room for part of it
        with pytest.raises(ClientError) as failed:
            s3.put_object(Bucket=BUCKET, Key="new", Body=new)
        assert code_of(failed) == (507, "InsufficientStorage")
        # Nothing half committed; reads are served as before.
        with pytest.raises(ClientError) as missing:
            s3.head_object(Bucket=BUCKET, Key="new")
        assert code_of(missing)[0] == 404
        assert s3.list_parts(Bucket=BUCKET, Key="parts", UploadId=upload).get("Parts", []) == []
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["kept"]
        assert s3.get_object(Bucket=BUCKET, Key="kept")["Body"].read() == kept
        # Space returns: writes work again, on the same running server.
        filler.unlink()
        s3.put_object(Bucket=BUCKET, Key="new", Body=new)
        assert s3.get_object(Bucket=BUCKET, Key="new")["Body"].read() == new
        s3.upload_part(Bucket=BUCKET, Key="parts", UploadId=upload, PartNumber=1, Body=new)
        s3.abort_multipart_upload(Bucket=BUCKET, Key="parts", UploadId=upload)
        assert s3.get_object(Bucket=BUCKET, Key="kept")["Body"].read() == kept
    _gc, stats, report = offline.collect(data)
    assert report.ok, offline.describe(report)
    assert stats.unique_bytes == len(kept) + len(new)  # the failed writes left no bytes behind
