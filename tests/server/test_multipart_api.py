"""Multipart uploads: the whole flow, listings, checksums and every error."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

MiB = 1024 * 1024


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def upload(s3: Any, bucket: str, key: str, parts: list[bytes], **create: Any) -> tuple[str, list[dict[str, Any]]]:
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    done = []
    for number, data in enumerate(parts, 1):
        kw = {"ChecksumAlgorithm": create["ChecksumAlgorithm"]} if "ChecksumAlgorithm" in create else {}
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=number, Body=data, **kw)
        entry = {"PartNumber": number, "ETag": r["ETag"]}
        for name in ("ChecksumCRC32", "ChecksumSHA256", "ChecksumCRC32C", "ChecksumSHA1", "ChecksumCRC64NVME"):
            if name in r:
                entry[name] = r[name]
        done.append(entry)
    return uid, done


def test_multipart_round_trip(s3: Any, bucket: str) -> None:
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(123)]
    uid, done = upload(s3, bucket, "big", parts, ContentType="video/x", Metadata={"m": "1"})
    result = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=uid, MultipartUpload={"Parts": done})
    md5s = b"".join(hashlib.md5(p).digest() for p in parts)
    assert result["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    assert result["Bucket"] == bucket and result["Key"] == "big"
    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["Body"].read() == b"".join(parts)
    assert got["ContentType"] == "video/x" and got["Metadata"] == {"m": "1"}
    with pytest.raises(ClientError) as info:
        s3.list_parts(Bucket=bucket, Key="big", UploadId=uid)
    assert code(info) == "NoSuchUpload"


def test_list_parts_and_uploads(s3: Any, bucket: str) -> None:
    uid, done = upload(s3, bucket, "dir/k", [b"a" * 100, b"b" * 200, b"c" * 300])
    other = s3.create_multipart_upload(Bucket=bucket, Key="other")["UploadId"]
    page = s3.list_parts(Bucket=bucket, Key="dir/k", UploadId=uid, MaxParts=2)
    assert [p["PartNumber"] for p in page["Parts"]] == [1, 2] and page["IsTruncated"] is True
    assert [p["Size"] for p in page["Parts"]] == [100, 200]
    rest = s3.list_parts(Bucket=bucket, Key="dir/k", UploadId=uid, PartNumberMarker=page["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in rest["Parts"]] == [3] and rest["IsTruncated"] is False
    uploads = s3.list_multipart_uploads(Bucket=bucket)
    assert sorted((u["Key"], u["UploadId"]) for u in uploads["Uploads"]) == [("dir/k", uid), ("other", other)]
    first = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=1)
    assert first["IsTruncated"] is True and [u["Key"] for u in first["Uploads"]] == ["dir/k"]
    second = s3.list_multipart_uploads(Bucket=bucket, KeyMarker=first["NextKeyMarker"],
                                       UploadIdMarker=first["NextUploadIdMarker"])
    assert [u["UploadId"] for u in second["Uploads"]] == [other] and second["IsTruncated"] is False
    grouped = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["dir/"]
    assert [u["Key"] for u in grouped["Uploads"]] == ["other"]
    s3.abort_multipart_upload(Bucket=bucket, Key="other", UploadId=other)
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == ["dir/k"]


def test_multipart_errors(s3: Any, bucket: str) -> None:
    uid, done = upload(s3, bucket, "k", [b"x" * 100, b"y" * 100])
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={"Parts": done})
    assert code(info) == "EntityTooSmall"
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={"Parts": done[::-1]})
    assert code(info) == "InvalidPartOrder"
    wrong = [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={"Parts": wrong})
    assert code(info) == "InvalidPart"
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={"Parts": []})
    assert code(info) == "MalformedXML"
    for call in (
        lambda: s3.upload_part(Bucket=bucket, Key="k", UploadId="nope", PartNumber=1, Body=b"x"),
        lambda: s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId="nope"),
        lambda: s3.list_parts(Bucket=bucket, Key="k", UploadId="nope"),
    ):
        with pytest.raises(ClientError) as info:
            call()
        assert code(info) == "NoSuchUpload"
    with pytest.raises(ClientError) as info:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=10001, Body=b"x")
    assert code(info) == "InvalidArgument"
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={"Parts": done[1:]})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"y" * 100


def test_upload_part_overwrite_keeps_last(s3: Any, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"first")
    etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"second")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"second"


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


@pytest.mark.parametrize("algorithm", ["CRC32", "SHA256"])
def test_composite_checksum(s3: Any, bucket: str, algorithm: str) -> None:
    parts = [os.urandom(5 * MiB), os.urandom(1000)]
    uid, done = upload(s3, bucket, "k", parts, ChecksumAlgorithm=algorithm)
    member = f"Checksum{algorithm}"
    assert all(member in d for d in done)
    listed = s3.list_parts(Bucket=bucket, Key="k", UploadId=uid)
    assert listed["ChecksumAlgorithm"] == algorithm
    assert [p[member] for p in listed["Parts"]] == [d[member] for d in done]
    result = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={"Parts": done})
    if algorithm == "CRC32":
        raw = b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts)
        expected = base64.b64encode(zlib.crc32(raw).to_bytes(4, "big")).decode() + "-2"
    else:
        raw = b"".join(hashlib.sha256(p).digest() for p in parts)
        expected = base64.b64encode(hashlib.sha256(raw).digest()).decode() + "-2"
    assert result[member] == expected and result["ChecksumType"] == "COMPOSITE"
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head[member] == expected and head["ChecksumType"] == "COMPOSITE"
    assert s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")["Body"].read() == b"".join(parts)


def test_full_object_crc32(s3: Any, bucket: str) -> None:
    parts = [os.urandom(5 * MiB), os.urandom(1000)]
    uid, done = upload(s3, bucket, "k", parts, ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT")
    whole = crc32_b64(b"".join(parts))
    result = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={"Parts": done},
                                          ChecksumCRC32=whole, ChecksumType="FULL_OBJECT")
    assert result["ChecksumCRC32"] == whole and result["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == whole and got["Body"].read() == b"".join(parts)


def test_listed_checksum_mismatch_is_invalid_part(s3: Any, bucket: str) -> None:
    uid, done = upload(s3, bucket, "k", [b"abc"], ChecksumAlgorithm="CRC32")
    done[0]["ChecksumCRC32"] = crc32_b64(b"other")
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={"Parts": done})
    assert code(info) == "InvalidPart"


def test_abort_then_bucket_delete(s3: Any, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=uid)
    s3.delete_bucket(Bucket=bucket)
