"""S3 versioning through boto3, the aws CLI and s3fs against the live server:
configuration, version ids on every write, reads and deletes by version id,
delete markers, ListObjectVersions paging, copies of old versions, and
versions that share their fragments."""

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


def headers(response: dict[str, Any]) -> dict[str, str]:
    return response["ResponseMetadata"]["HTTPHeaders"]  # type: ignore[no-any-return]


def enable(s3: Any, bucket: str, status: str = "Enabled") -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def test_versioning_configuration(live_server: LiveServer, s3: Any, bucket: str) -> None:
    never = s3.get_bucket_versioning(Bucket=bucket)
    assert "Status" not in never and never["ResponseMetadata"]["HTTPStatusCode"] == 200
    enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    enable(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    for body in (b"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>",
                 b"<VersioningConfiguration/>", b"<Versioning>"):
        response = live_server.raw("PUT", f"/{bucket}?versioning", body=body)
        assert response.status == 400 and b"<Code>MalformedXML</Code>" in response.body
    with pytest.raises(ClientError) as info:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"})
    assert code(info) == "NotImplemented"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"


def test_unversioned_bucket_answers_without_version_headers(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert "VersionId" not in put and "x-amz-version-id" not in headers(put)
    assert "VersionId" not in s3.head_object(Bucket=bucket, Key="k")
    listed = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listed] == [("k", "null", True)]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"x"
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert "VersionId" not in deleted and "DeleteMarker" not in deleted


def test_versions_of_one_key(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    ids = [s3.put_object(Bucket=bucket, Key="ckpt/latest.pt", Body=b"epoch %d" % i)["VersionId"] for i in range(3)]
    assert len(set(ids)) == 3 and "null" not in ids
    assert s3.get_object(Bucket=bucket, Key="ckpt/latest.pt")["Body"].read() == b"epoch 2"
    for i, vid in enumerate(ids):
        got = s3.get_object(Bucket=bucket, Key="ckpt/latest.pt", VersionId=vid)
        assert got["Body"].read() == b"epoch %d" % i and got["VersionId"] == vid
        assert s3.head_object(Bucket=bucket, Key="ckpt/latest.pt", VersionId=vid)["ContentLength"] == 7
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(ids[2], True), (ids[1], False), (ids[0], False)]
    assert all(v["Owner"]["ID"] and v["StorageClass"] == "STANDARD" for v in versions)
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="ckpt/latest.pt", VersionId="0" * 32)
    assert code(info) == "NoSuchVersion"
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="ckpt/latest.pt", VersionId="not-a-version")
    assert code(info) == "InvalidArgument"


def test_delete_markers(live_server: LiveServer, s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="k")
    assert marker["DeleteMarker"] is True and marker["VersionId"] not in (v1, "null")
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="k")
    assert code(info) == "NoSuchKey"
    assert info.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    head = live_server.raw("HEAD", f"/{bucket}/k")
    assert head.status == 404 and head.headers["x-amz-delete-marker"] == "true"
    assert head.headers["x-amz-version-id"] == marker["VersionId"]
    on_marker = live_server.raw("GET", f"/{bucket}/k?versionId={marker['VersionId']}")
    assert on_marker.status == 405 and b"<Code>MethodNotAllowed</Code>" in on_marker.body
    assert on_marker.headers["x-amz-delete-marker"] == "true" and "last-modified" in on_marker.headers
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    listing = s3.list_object_versions(Bucket=bucket)
    assert [(m["VersionId"], m["IsLatest"]) for m in listing["DeleteMarkers"]] == [(marker["VersionId"], True)]
    assert [(v["VersionId"], v["IsLatest"]) for v in listing["Versions"]] == [(v1, False)]
    with pytest.raises(ClientError) as info:
        s3.delete_bucket(Bucket=bucket)
    assert code(info) == "BucketNotEmpty"
    removed = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker["VersionId"])
    assert removed["DeleteMarker"] is True and removed["VersionId"] == marker["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    gone = s3.delete_object(Bucket=bucket, Key="k", VersionId=v1)
    assert gone["VersionId"] == v1 and "DeleteMarker" not in gone
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)
    s3.delete_bucket(Bucket=bucket)


def test_null_version_across_enabled_suspended_enabled(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"before")
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["VersionId"]
    enable(s3, bucket, "Suspended")
    suspended = s3.put_object(Bucket=bucket, Key="k", Body=b"suspended")
    assert suspended["VersionId"] == "null"
    enable(s3, bucket)
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"v2")["VersionId"]
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [v["VersionId"] for v in versions] == [v2, "null", v1]  # "before" was replaced by the null write
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"suspended"
    enable(s3, bucket, "Suspended")
    marker = s3.delete_object(Bucket=bucket, Key="k")
    assert marker["DeleteMarker"] is True and marker["VersionId"] == "null"
    listing = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listing["Versions"]] == [v2, v1]
    assert [m["VersionId"] for m in listing["DeleteMarkers"]] == ["null"]


def test_list_object_versions_pages_and_prefixes(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    expected = []
    for key in ("a", "dir/b", "dir/c", "e\u00e9 %"):
        ids = [s3.put_object(Bucket=bucket, Key=key, Body=key.encode() * n)["VersionId"] for n in (1, 2)]
        expected += [(key, ids[1]), (key, ids[0])]
    seen, kwargs = [], {"Bucket": bucket, "MaxKeys": 3}
    while True:
        page = s3.list_object_versions(**kwargs)
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
        if not page["IsTruncated"]:
            break
        kwargs.update(KeyMarker=page["NextKeyMarker"], VersionIdMarker=page["NextVersionIdMarker"])
    assert seen == expected
    grouped = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["dir/"]
    assert [v["Key"] for v in grouped["Versions"]] == ["a", "a", "e\u00e9 %", "e\u00e9 %"]
    under = s3.list_object_versions(Bucket=bucket, Prefix="dir/", EncodingType="url")
    assert [v["Key"] for v in under["Versions"]] == ["dir/b", "dir/b", "dir/c", "dir/c"]
    after = s3.list_object_versions(Bucket=bucket, KeyMarker="dir/b")
    assert [v["Key"] for v in after["Versions"]][0] == "dir/c"
    with pytest.raises(ClientError) as info:
        s3.list_object_versions(Bucket=bucket, VersionIdMarker=expected[0][1])
    assert code(info) == "InvalidArgument"


def test_copy_restores_an_old_version(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    old = s3.put_object(Bucket=bucket, Key="model.safetensors", Body=b"good weights")["VersionId"]
    s3.put_object(Bucket=bucket, Key="model.safetensors", Body=b"diverged")
    copied = s3.copy_object(Bucket=bucket, Key="model.safetensors",
                            CopySource={"Bucket": bucket, "Key": "model.safetensors", "VersionId": old})
    assert copied["CopySourceVersionId"] == old and copied["VersionId"] not in (old, "null")
    assert s3.get_object(Bucket=bucket, Key="model.safetensors")["Body"].read() == b"good weights"
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 3
    marker = s3.delete_object(Bucket=bucket, Key="model.safetensors")["VersionId"]
    with pytest.raises(ClientError) as info:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "model.safetensors",
                                                             "VersionId": marker})
    assert code(info) == "InvalidRequest"
    with pytest.raises(ClientError) as info:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "model.safetensors"})
    assert code(info) == "NoSuchKey"


def test_upload_part_copy_from_a_version_and_multipart_version_ids(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    part = os.urandom(5 * 1024 * 1024)
    old = s3.put_object(Bucket=bucket, Key="src", Body=part)["VersionId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"new")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    copied = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1,
                                 CopySource={"Bucket": bucket, "Key": "src", "VersionId": old})
    assert copied["CopySourceVersionId"] == old
    tail = s3.upload_part(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=2, Body=b"tail")
    parts = [{"PartNumber": 1, "ETag": copied["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": tail["ETag"]}]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=uid, MultipartUpload={"Parts": parts})
    assert done["VersionId"] not in (None, "null")
    assert s3.get_object(Bucket=bucket, Key="dst", VersionId=done["VersionId"])["Body"].read() == part + b"tail"
    again = s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=uid, MultipartUpload={"Parts": parts})
    assert again["VersionId"] == done["VersionId"] and again["ETag"] == done["ETag"]
    assert len(s3.list_object_versions(Bucket=bucket, Prefix="dst")["Versions"]) == 1


def test_delete_objects_with_versions(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    a1 = s3.put_object(Bucket=bucket, Key="a", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="a", Body=b"2")
    s3.put_object(Bucket=bucket, Key="b", Body=b"b")
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "a", "VersionId": a1}, {"Key": "b"}, {"Key": "c", "VersionId": "bad"},
    ]})
    deleted = {d["Key"]: d for d in answer["Deleted"]}
    assert deleted["a"]["VersionId"] == a1 and "DeleteMarker" not in deleted["a"]
    assert deleted["b"]["DeleteMarker"] is True and deleted["b"]["DeleteMarkerVersionId"]
    assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [("c", "InvalidArgument")]
    listing = s3.list_object_versions(Bucket=bucket)
    assert [v["Key"] for v in listing["Versions"]] == ["a", "b"]
    assert [m["Key"] for m in listing["DeleteMarkers"]] == ["b"]


def test_versions_share_fragments(s3: Any, bucket: str) -> None:
    """A new version of a 4 MiB checkpoint that changed 64 KiB costs about that."""
    enable(s3, bucket)
    data = bytearray(os.urandom(4 * 1024 * 1024))
    first = s3.put_object(Bucket=bucket, Key="ckpt", Body=bytes(data))
    assert int(headers(first)["x-fragstore-new-bytes"]) == len(data)
    data[2_000_000:2_065_536] = os.urandom(65536)
    second = s3.put_object(Bucket=bucket, Key="ckpt", Body=bytes(data))
    assert int(headers(second)["x-fragstore-new-bytes"]) < 65536 + 4 * 128 * 1024
    assert s3.get_object(Bucket=bucket, Key="ckpt", VersionId=first["VersionId"])["Body"].read() != bytes(data)
    assert s3.get_object(Bucket=bucket, Key="ckpt")["Body"].read() == bytes(data)


def test_aws_cli_versioning(live_server: LiveServer, bucket: str, tmp_path: Path) -> None:
    run_aws(live_server, tmp_path, "s3api", "put-bucket-versioning", "--bucket", bucket,
            "--versioning-configuration", "Status=Enabled")
    status = json.loads(run_aws(live_server, tmp_path, "s3api", "get-bucket-versioning", "--bucket", bucket))
    assert status["Status"] == "Enabled"
    source = tmp_path / "weights.bin"
    ids = []
    for i in range(2):
        source.write_bytes(b"weights %d" % i)
        put = json.loads(run_aws(live_server, tmp_path, "s3api", "put-object", "--bucket", bucket,
                                 "--key", "w.bin", "--body", str(source)))
        ids.append(put["VersionId"])
    listed = json.loads(run_aws(live_server, tmp_path, "s3api", "list-object-versions", "--bucket", bucket))
    assert [v["VersionId"] for v in listed["Versions"]] == ids[::-1]
    target = tmp_path / "old.bin"
    run_aws(live_server, tmp_path, "s3api", "get-object", "--bucket", bucket, "--key", "w.bin",
            "--version-id", ids[0], str(target))
    assert target.read_bytes() == b"weights 0"


def test_s3fs_rm_recursive_on_a_versioned_bucket(live_server: LiveServer, s3: Any, bucket: str) -> None:
    s3fs = pytest.importorskip("s3fs")
    enable(s3, bucket)
    for key in ("a.txt", "dir/b.txt", "dir/c.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"data")
    fs = s3fs.S3FileSystem(key=live_server.access_key, secret=live_server.secret_key,
                           client_kwargs={"endpoint_url": live_server.url, "region_name": "us-east-1"},
                           config_kwargs={"s3": {"addressing_style": "path"}}, skip_instance_cache=True)
    assert sorted(fs.find(bucket)) == [f"{bucket}/a.txt", f"{bucket}/dir/b.txt", f"{bucket}/dir/c.txt"]
    fs.rm(f"{bucket}/dir", recursive=True)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1
    markers = s3.list_object_versions(Bucket=bucket)["DeleteMarkers"]
    assert {"dir/b.txt", "dir/c.txt"} <= {m["Key"] for m in markers}  # (s3fs also deletes "dir" itself)
    # the bucket itself: s3fs asks GetBucketVersioning, removes every version and marker, then the bucket
    fs.rm(bucket, recursive=True)
    with pytest.raises(ClientError) as info:
        s3.head_bucket(Bucket=bucket)
    assert info.value.response["Error"]["Code"] == "404"
