"""The Ceph fixture starts a real radosgw that boto3 can use (a smoke test)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig

from tests.services.ceph import Ceph

MiB = 1 << 20


def test_bucket_put_get_delete(rgw_s3: Any, rgw_bucket: str) -> None:
    body = os.urandom(100_000)
    put = rgw_s3.put_object(Bucket=rgw_bucket, Key="dir/a b.bin", Body=body)
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert rgw_s3.get_object(Bucket=rgw_bucket, Key="dir/a b.bin")["Body"].read() == body
    ranged = rgw_s3.get_object(Bucket=rgw_bucket, Key="dir/a b.bin", Range="bytes=10-19")
    assert ranged["Body"].read() == body[10:20]
    listed = rgw_s3.list_objects_v2(Bucket=rgw_bucket)
    assert [o["Key"] for o in listed["Contents"]] == ["dir/a b.bin"]
    rgw_s3.delete_object(Bucket=rgw_bucket, Key="dir/a b.bin")
    assert rgw_s3.list_objects_v2(Bucket=rgw_bucket)["KeyCount"] == 0
    rgw_s3.delete_bucket(Bucket=rgw_bucket)


def test_multipart_upload(rgw_s3: Any, rgw_bucket: str) -> None:
    parts = [os.urandom(5 * MiB), os.urandom(1234)]
    upload = rgw_s3.create_multipart_upload(Bucket=rgw_bucket, Key="mp")["UploadId"]
    etags = [rgw_s3.upload_part(Bucket=rgw_bucket, Key="mp", UploadId=upload, PartNumber=n, Body=part)["ETag"]
             for n, part in enumerate(parts, 1)]
    rgw_s3.complete_multipart_upload(
        Bucket=rgw_bucket, Key="mp", UploadId=upload,
        MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": n} for n, etag in enumerate(etags, 1)]})
    head = rgw_s3.head_object(Bucket=rgw_bucket, Key="mp")
    assert head["ContentLength"] == sum(map(len, parts)) and head["ETag"].endswith('-2"')
    assert rgw_s3.get_object(Bucket=rgw_bucket, Key="mp")["Body"].read() == b"".join(parts)


def test_upload_file_and_download_file(rgw_s3: Any, rgw_bucket: str, tmp_path: Path) -> None:
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(os.urandom(20 * MiB))
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4)
    rgw_s3.upload_file(str(source), rgw_bucket, "file", Config=config)
    rgw_s3.download_file(rgw_bucket, "file", str(target), Config=config)
    assert target.read_bytes() == source.read_bytes()


def test_cluster_daemons_are_ours_and_alive(rgw: Ceph) -> None:
    pids = rgw.pids()
    assert set(pids) == {"mon", "mgr", "osd", "rgw"}
    for name, (_wrapper, daemon) in pids.items():
        cmdline = Path(f"/proc/{daemon}/cmdline").read_bytes().split(b"\0")
        assert cmdline[0].decode().endswith({"mon": "ceph-mon", "mgr": "ceph-mgr", "osd": "ceph-osd",
                                             "rgw": "radosgw"}[name])
        assert str(rgw.conf).encode() in cmdline
