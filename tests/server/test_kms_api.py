"""SSE-KMS with the local keyring (--kms-keys) through boto3 against a real
server: keys named by name, alias or ARN, the default key, the per-key policy
(kms:GenerateDataKey to write, kms:Decrypt to read), bucket default
encryption with a KMS key, multipart, dedup within one key and not across
keys, and no plaintext on disk."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.live_server import LiveServer, start_server

CAROL, CAROL_SECRET = "CAROL", "carol-secret-333a4b5c6d7e"
NEEDLE = b"kms-known-plaintext-" + uuid.uuid4().hex.encode()


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def new_bytes(resp: dict[str, Any]) -> int:
    return int(resp["ResponseMetadata"]["HTTPHeaders"]["x-fragstore-new-bytes"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = Path(tmp_path_factory.mktemp("kms"))
    (root / "users.txt").write_text(f"{CAROL}:{CAROL_SECRET}\n")
    (root / "kms.json").write_text(json.dumps({"default": "team", "keys": {
        "team": {"material": os.urandom(32).hex(), "GenerateDataKey": [CAROL], "Decrypt": [CAROL]},
        "vault": {"material": os.urandom(32).hex()},  # the root key only
    }}))
    with start_server(root / "data", extra_args=["--users", str(root / "users.txt"),
                                                  "--kms-keys", str(root / "kms.json")]) as srv:
        yield srv


@pytest.fixture(scope="module")
def root_client(server: LiveServer) -> Any:
    return server.client()


@pytest.fixture(scope="module")
def carol(server: LiveServer) -> Any:
    return server.client(aws_access_key_id=CAROL, aws_secret_access_key=CAROL_SECRET)


@pytest.fixture
def bkt(root_client: Any) -> str:
    name = f"kms-{uuid.uuid4().hex[:16]}"
    root_client.create_bucket(Bucket=name)
    return name


def test_kms_round_trip_and_headers(root_client: Any, bkt: str) -> None:
    data = NEEDLE * 30000 + os.urandom(200000)
    put = root_client.put_object(Bucket=bkt, Key="a", Body=data, ServerSideEncryption="aws:kms",
                                 SSEKMSKeyId="arn:aws:kms:us-east-1:111122223333:key/vault")
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms", "vault")
    head = root_client.head_object(Bucket=bkt, Key="a")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", "vault")
    assert root_client.get_object(Bucket=bkt, Key="a")["Body"].read() == data
    got = root_client.get_object(Bucket=bkt, Key="a", Range="bytes=1000-500000")["Body"].read()
    assert got == data[1000:500001]
    default = root_client.put_object(Bucket=bkt, Key="d", Body=b"x", ServerSideEncryption="aws:kms")
    assert default["SSEKMSKeyId"] == "team"
    alias = root_client.put_object(Bucket=bkt, Key="al", Body=b"x", ServerSideEncryption="aws:kms",
                                   SSEKMSKeyId="alias/team")
    assert alias["SSEKMSKeyId"] == "team"


def test_dedup_within_one_kms_key_only(root_client: Any, bkt: str) -> None:
    data = os.urandom(700000)
    first = new_bytes(root_client.put_object(Bucket=bkt, Key="1", Body=data, ServerSideEncryption="aws:kms",
                                             SSEKMSKeyId="team"))
    same = new_bytes(root_client.put_object(Bucket=bkt, Key="2", Body=data, ServerSideEncryption="aws:kms",
                                            SSEKMSKeyId="team"))
    other = new_bytes(root_client.put_object(Bucket=bkt, Key="3", Body=data, ServerSideEncryption="aws:kms",
                                             SSEKMSKeyId="vault"))
    sse_s3 = new_bytes(root_client.put_object(Bucket=bkt, Key="4", Body=data, ServerSideEncryption="AES256"))
    assert (first, same, other, sse_s3) == (len(data), 0, len(data), len(data))


def test_unknown_key_and_bad_combinations(root_client: Any, bkt: str) -> None:
    with pytest.raises(ClientError) as info:
        root_client.put_object(Bucket=bkt, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="nope")
    assert code(info) == "KMS.NotFoundException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as info:
        root_client.put_object(Bucket=bkt, Key="k", Body=b"x", ServerSideEncryption="AES256", SSEKMSKeyId="team")
    assert code(info) == "InvalidArgument"
    with pytest.raises(ClientError) as info:
        root_client.put_object(Bucket=bkt, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="team",
                               BucketKeyEnabled=True)
    assert code(info) == "NotImplemented"


def test_key_policy(root_client: Any, carol: Any) -> None:
    mine = f"carol-{uuid.uuid4().hex[:12]}"
    carol.create_bucket(Bucket=mine)
    with pytest.raises(ClientError) as info:
        carol.put_object(Bucket=mine, Key="v", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="vault")
    assert code(info) == "AccessDenied"
    assert "kms:GenerateDataKey" in info.value.response["Error"]["Message"]
    carol.put_object(Bucket=mine, Key="t", Body=b"team data", ServerSideEncryption="aws:kms", SSEKMSKeyId="team")
    assert carol.get_object(Bucket=mine, Key="t")["Body"].read() == b"team data"
    root_client.put_object(Bucket=mine, Key="v", Body=b"vault data", ServerSideEncryption="aws:kms",
                           SSEKMSKeyId="vault")  # the root key may use every key
    with pytest.raises(ClientError) as info:
        carol.get_object(Bucket=mine, Key="v")
    assert code(info) == "AccessDenied"
    assert "kms:Decrypt" in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:
        carol.copy_object(Bucket=mine, Key="copy", CopySource={"Bucket": mine, "Key": "v"})
    assert code(info) == "AccessDenied"
    assert root_client.get_object(Bucket=mine, Key="v")["Body"].read() == b"vault data"


def test_bucket_default_kms_and_multipart(root_client: Any, bkt: str) -> None:
    root_client.put_bucket_encryption(Bucket=bkt, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "vault"}}]})
    rule = root_client.get_bucket_encryption(Bucket=bkt)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "vault"}
    assert root_client.put_object(Bucket=bkt, Key="d", Body=b"x")["SSEKMSKeyId"] == "vault"
    data = os.urandom(6 * 1024 * 1024)
    up = root_client.create_multipart_upload(Bucket=bkt, Key="mp")
    assert up["SSEKMSKeyId"] == "vault"
    parts = []
    for n, start in enumerate((0, 5 << 20), 1):
        resp = root_client.upload_part(Bucket=bkt, Key="mp", UploadId=up["UploadId"], PartNumber=n,
                                       Body=data[start : start + (5 << 20)])
        assert resp["SSEKMSKeyId"] == "vault"
        parts.append({"PartNumber": n, "ETag": resp["ETag"]})
    root_client.complete_multipart_upload(Bucket=bkt, Key="mp", UploadId=up["UploadId"],
                                          MultipartUpload={"Parts": parts})
    got = root_client.get_object(Bucket=bkt, Key="mp", Range="bytes=5000000-5500000")
    assert got["SSEKMSKeyId"] == "vault" and got["Body"].read() == data[5000000:5500001]
    with pytest.raises(ClientError) as info:
        root_client.put_bucket_encryption(Bucket=bkt, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "gone"}}]})
    assert code(info) == "KMS.NotFoundException"


def test_no_plaintext_on_disk(server: LiveServer, root_client: Any, bkt: str) -> None:
    root_client.put_object(Bucket=bkt, Key="n", Body=NEEDLE * 10000, ServerSideEncryption="aws:kms")
    hits = [p for p in server.data_dir.rglob("*") if p.is_file() and NEEDLE in p.read_bytes()]
    assert hits == []
