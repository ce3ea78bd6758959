"""Object and bucket tags and GetObjectAttributes through boto3 and the aws CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.live_server import LiveServer
from tests.server.test_awscli import run_aws


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def tags(s3: Any, bucket: str, key: str, **kw: Any) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key, **kw)["TagSet"]}


def test_object_tags_round_trip(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="run=42&stage=fine%20tune")
    assert tags(s3, bucket, "k") == {"run": "42", "stage": "fine tune"}
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "2"
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 2
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "best", "Value": ""}]})
    assert tags(s3, bucket, "k") == {"best": ""}
    s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert tags(s3, bucket, "k") == {}
    assert "x-amz-tagging-count" not in s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_tags_of_each_version(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="v=1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"2", Tagging="v=2")["VersionId"]
    answer = s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=v1,
                                   Tagging={"TagSet": [{"Key": "v", "Value": "one"}]})
    assert answer["VersionId"] == v1
    assert tags(s3, bucket, "k", VersionId=v1) == {"v": "one"}
    assert tags(s3, bucket, "k") == {"v": "2"}
    assert [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == [v2, v1]


def test_tags_follow_copies_and_uploads(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="a=1")
    s3.copy_object(Bucket=bucket, Key="same", CopySource={"Bucket": bucket, "Key": "src"})
    assert tags(s3, bucket, "same") == {"a": "1"}
    s3.copy_object(Bucket=bucket, Key="new", CopySource={"Bucket": bucket, "Key": "src"},
                   TaggingDirective="REPLACE", Tagging="b=2")
    assert tags(s3, bucket, "new") == {"b": "2"}
    s3.copy_object(Bucket=bucket, Key="meta", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"m": "1"})
    assert tags(s3, bucket, "meta") == {"a": "1"}  # metadata replaced, tags copied
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="mp=yes")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"p")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert tags(s3, bucket, "mp") == {"mp": "yes"}


@pytest.mark.parametrize(("tagset", "error"), [
    ([{"Key": f"k{i}", "Value": "v"} for i in range(11)], "BadRequest"),
    ([{"Key": "k" * 129, "Value": "v"}], "InvalidTag"),
    ([{"Key": "k", "Value": "v" * 257}], "InvalidTag"),
    ([{"Key": "aws:reserved", "Value": "v"}], "InvalidTag"),
    ([{"Key": "same", "Value": "1"}, {"Key": "same", "Value": "2"}], "InvalidTag"),
    ([{"Key": "bad<char>", "Value": "v"}], "InvalidTag"),
])
def test_tag_limits(s3: Any, bucket: str, tagset: list[dict[str, str]], error: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="kept=yes")
    with pytest.raises(ClientError) as info:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tagset})
    assert code(info) == error
    assert tags(s3, bucket, "k") == {"kept": "yes"}


def test_bad_tagging_header_stores_nothing(live_server: LiveServer, s3: Any, bucket: str) -> None:
    for value, error in (("a=1&a=2", b"InvalidArgument"), ("=empty", b"InvalidTag"), ("bad<key>=1", b"InvalidTag")):
        answer = live_server.raw("PUT", f"/{bucket}/k", body=b"x", headers={"x-amz-tagging": value})
        assert answer.status == 400 and b"<Code>" + error + b"</Code>" in answer.body, answer.body
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_bucket_tags(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as info:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code(info) == "NoSuchTagSet"
    many = [{"Key": f"team{i}", "Value": "ml"} for i in range(50)]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": many})
    assert len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 50
    with pytest.raises(ClientError) as info:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [*many, {"Key": "one", "Value": "more"}]})
    assert code(info) == "BadRequest"
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError) as info:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code(info) == "NoSuchTagSet"


def test_object_attributes(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="one", Body=b"hello", ChecksumAlgorithm="CRC32")
    single = s3.get_object_attributes(Bucket=bucket, Key="one",
                                      ObjectAttributes=["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"])
    assert single["ETag"] == "5d41402abc4b2a76b9719d911017c592" and single["ObjectSize"] == 5
    assert single["StorageClass"] == "STANDARD" and "ObjectParts" not in single
    assert single["Checksum"]["ChecksumCRC32"] and single["Checksum"]["ChecksumType"] == "FULL_OBJECT"
    part = os.urandom(5 * 1024 * 1024)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=n, Body=body)["ETag"]
             for n, body in ((1, part), (2, part), (3, b"end"))]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]})
    parts = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts", "ObjectSize"],
                                     MaxParts=2)
    assert parts["ObjectSize"] == 2 * len(part) + 3
    assert parts["ObjectParts"]["TotalPartsCount"] == 3 and parts["ObjectParts"]["IsTruncated"] is True
    assert [p["Size"] for p in parts["ObjectParts"]["Parts"]] == [len(part), len(part)]
    rest = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"],
                                    PartNumberMarker=parts["ObjectParts"]["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in rest["ObjectParts"]["Parts"]] == [3]
    with pytest.raises(ClientError) as info:
        s3.get_object_attributes(Bucket=bucket, Key="one", ObjectAttributes=["Colour"])
    assert code(info) == "InvalidArgument"
    with pytest.raises(ClientError) as info:
        s3.get_object_attributes(Bucket=bucket, Key="missing", ObjectAttributes=["ETag"])
    assert code(info) == "NoSuchKey"


def test_aws_cli_tagging(live_server: LiveServer, bucket: str, tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"data")
    run_aws(live_server, tmp_path, "s3api", "put-object", "--bucket", bucket, "--key", "f", "--body", str(source),
            "--tagging", "owner=ml")
    got = json.loads(run_aws(live_server, tmp_path, "s3api", "get-object-tagging", "--bucket", bucket, "--key", "f"))
    assert got["TagSet"] == [{"Key": "owner", "Value": "ml"}]
