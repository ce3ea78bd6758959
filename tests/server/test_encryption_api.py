"""Encryption at rest through boto3 against a real server: SSE-S3 (headers,
bucket default encryption, multipart, copies, ranged reads of compressed and
deduplicated data), SSE-C (round trips, wrong and missing keys, dedup only
under one key), the refusals (SSE-KMS, bucket keys), and the data directory
scanned for a known plaintext after storing it encrypted."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.live_server import LiveServer, start_server

MARKER = b"fragstore-known-plaintext-7f3a9c"
NEW_BYTES = "x-fragstore-new-bytes"


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def status(exc: pytest.ExceptionInfo[ClientError]) -> int:
    return int(exc.value.response["ResponseMetadata"]["HTTPStatusCode"])


def new_bytes(resp: dict[str, Any]) -> int:
    return int(resp["ResponseMetadata"]["HTTPHeaders"][NEW_BYTES])


def known_body(size: int, seed: int = 1) -> bytes:
    """Compressible bytes full of MARKER, with random stretches (not one repeated fragment)."""
    rnd = __import__("random").Random(seed)
    out = bytearray()
    while len(out) < size:
        out += MARKER * rnd.randint(50, 400) + rnd.randbytes(rnd.randint(1000, 20000))
    return bytes(out[:size])


def sse_c(key: bytes, prefix: str = "") -> dict[str, str]:
    return {f"{prefix}SSECustomerAlgorithm": "AES256", f"{prefix}SSECustomerKey": base64.b64encode(key).decode(),
            f"{prefix}SSECustomerKeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode()}


def found_in(root: Path, needle: bytes) -> list[str]:
    """Files under ``root`` that hold ``needle`` (packs, index, tmp: everything)."""
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.name.endswith(".log") and needle in path.read_bytes():
            hits.append(str(path.relative_to(root)))
    return hits


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = start_server(Path(tmp_path_factory.mktemp("sse")) / "data")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Any:
    return server.client()


@pytest.fixture
def bkt(client: Any) -> str:
    name = f"sse-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    return name


def test_master_key_made_on_first_start(server: LiveServer) -> None:
    path = server.data_dir / "master-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(bytes.fromhex(path.read_text().strip())) == 32
    assert "master key of encryption at rest created in" in server.log_path.read_text()


def test_sse_s3_round_trip_and_headers(client: Any, bkt: str) -> None:
    data = known_body(3 * 1024 * 1024)
    put = client.put_object(Bucket=bkt, Key="a", Body=data, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'  # SSE-S3 ETags are the MD5, as in S3
    head = client.head_object(Bucket=bkt, Key="a")
    assert head["ServerSideEncryption"] == "AES256"
    got = client.get_object(Bucket=bkt, Key="a")
    assert got["ServerSideEncryption"] == "AES256"
    assert got["Body"].read() == data
    part = client.get_object(Bucket=bkt, Key="a", Range="bytes=100000-2500000")
    assert part["Body"].read() == data[100000:2500001]
    plain = client.put_object(Bucket=bkt, Key="p", Body=b"x")
    assert "ServerSideEncryption" not in plain
    assert "ServerSideEncryption" not in client.head_object(Bucket=bkt, Key="p")


def test_sse_s3_dedups_as_plaintext_does(client: Any, bkt: str) -> None:
    data = known_body(2 * 1024 * 1024, seed=7)
    plain = [new_bytes(client.put_object(Bucket=bkt, Key=f"p{i}", Body=data[i * 4096:])) for i in range(2)]
    enc = [new_bytes(client.put_object(Bucket=bkt, Key=f"e{i}", Body=data[i * 4096:], ServerSideEncryption="AES256"))
           for i in range(2)]
    assert plain == enc  # the same new bytes, first write and shifted second alike
    assert enc[1] < enc[0] // 4
    got = client.get_object(Bucket=bkt, Key="e1", Range="bytes=5000-900000")["Body"].read()
    assert got == data[4096 + 5000 : 4096 + 900001]


def test_no_plaintext_on_disk(server: LiveServer, client: Any, bkt: str) -> None:
    needle = MARKER + uuid.uuid4().hex.encode()
    data = (needle * 20000) + os.urandom(100000)
    client.put_object(Bucket=bkt, Key="s3", Body=data, ServerSideEncryption="AES256")
    client.put_object(Bucket=bkt, Key="c", Body=data, **sse_c(os.urandom(32)))
    up = client.create_multipart_upload(Bucket=bkt, Key="mp", ServerSideEncryption="AES256")
    etag = client.upload_part(Bucket=bkt, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=data)["ETag"]
    client.complete_multipart_upload(Bucket=bkt, Key="mp", UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert found_in(server.data_dir, needle) == []
    client.put_object(Bucket=bkt, Key="plain", Body=data)  # the scan can fail: plaintext is found
    assert any(hit.startswith("packs") for hit in found_in(server.data_dir, needle))


def test_bucket_default_encryption(client: Any, bkt: str) -> None:
    with pytest.raises(ClientError) as info:
        client.get_bucket_encryption(Bucket=bkt)
    assert code(info) == "ServerSideEncryptionConfigurationNotFoundError"
    client.put_bucket_encryption(Bucket=bkt, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    rules = client.get_bucket_encryption(Bucket=bkt)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert client.put_object(Bucket=bkt, Key="d", Body=b"by default")["ServerSideEncryption"] == "AES256"
    assert client.head_object(Bucket=bkt, Key="d")["ServerSideEncryption"] == "AES256"
    up = client.create_multipart_upload(Bucket=bkt, Key="m")
    assert up["ServerSideEncryption"] == "AES256"
    client.delete_bucket_encryption(Bucket=bkt)
    with pytest.raises(ClientError) as info:
        client.get_bucket_encryption(Bucket=bkt)
    assert code(info) == "ServerSideEncryptionConfigurationNotFoundError"
    assert "ServerSideEncryption" not in client.put_object(Bucket=bkt, Key="e", Body=b"plain again")


@pytest.mark.parametrize(("rule", "error"), [
    ({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k"}},
     "KMS.NotFoundException"),  # this server has no KMS keyring: tests/server/test_kms_api.py has one
    ({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms:dsse"}}, "NotImplemented"),
    ({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}, "NotImplemented"),
    ({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "DES"}}, "MalformedXML"),
])
def test_bucket_encryption_refusals(client: Any, bkt: str, rule: dict[str, Any], error: str) -> None:
    with pytest.raises(ClientError) as info:
        client.put_bucket_encryption(Bucket=bkt, ServerSideEncryptionConfiguration={"Rules": [rule]})
    assert code(info) == error


def test_request_refusals(client: Any, bkt: str) -> None:
    with pytest.raises(ClientError) as info:
        client.put_object(Bucket=bkt, Key="k", Body=b"x", ServerSideEncryption="aws:kms")
    assert code(info) == "KMS.NotFoundException"  # no KMS keyring on this server
    with pytest.raises(ClientError) as info:
        client.put_object(Bucket=bkt, Key="k", Body=b"x", ServerSideEncryption="aws:kms:dsse")
    assert code(info) == "NotImplemented"
    with pytest.raises(ClientError) as info:
        client.put_object(Bucket=bkt, Key="k", Body=b"x", ServerSideEncryption="AES256", BucketKeyEnabled=True)
    assert code(info) == "NotImplemented"
    with pytest.raises(ClientError) as info:
        client.put_object(Bucket=bkt, Key="k", Body=b"x", ServerSideEncryption="AES128")  # type: ignore[arg-type]
    assert code(info) == "InvalidArgument"
    with pytest.raises(ClientError) as info:
        client.put_object(Bucket=bkt, Key="k", Body=b"x", ServerSideEncryption="AES256", **sse_c(os.urandom(32)))
    assert code(info) == "InvalidArgument"


def test_sse_s3_multipart_and_ranges(client: Any, bkt: str) -> None:
    data = known_body(11 * 1024 * 1024, seed=3)
    up = client.create_multipart_upload(Bucket=bkt, Key="mp", ServerSideEncryption="AES256")
    assert up["ServerSideEncryption"] == "AES256"
    parts = []
    for n, start in enumerate(range(0, len(data), 5 * 1024 * 1024), 1):
        resp = client.upload_part(Bucket=bkt, Key="mp", UploadId=up["UploadId"], PartNumber=n,
                                  Body=data[start : start + 5 * 1024 * 1024])
        assert resp["ServerSideEncryption"] == "AES256"
        parts.append({"PartNumber": n, "ETag": resp["ETag"]})
    done = client.complete_multipart_upload(Bucket=bkt, Key="mp", UploadId=up["UploadId"],
                                            MultipartUpload={"Parts": parts})
    assert done["ServerSideEncryption"] == "AES256"
    assert client.get_object(Bucket=bkt, Key="mp")["Body"].read() == data
    got = client.get_object(Bucket=bkt, Key="mp", Range="bytes=5000000-10500000")["Body"].read()
    assert got == data[5000000:10500001]


def test_sse_s3_copies(client: Any, bkt: str) -> None:
    data = known_body(600000, seed=5)
    client.put_object(Bucket=bkt, Key="enc", Body=data, ServerSideEncryption="AES256")
    plain = client.copy_object(Bucket=bkt, Key="plain", CopySource={"Bucket": bkt, "Key": "enc"})
    assert "ServerSideEncryption" not in plain
    assert client.get_object(Bucket=bkt, Key="plain")["Body"].read() == data
    again = client.copy_object(Bucket=bkt, Key="enc2", CopySource={"Bucket": bkt, "Key": "plain"},
                               ServerSideEncryption="AES256")
    assert again["ServerSideEncryption"] == "AES256"
    assert client.head_object(Bucket=bkt, Key="enc2")["ServerSideEncryption"] == "AES256"
    assert client.get_object(Bucket=bkt, Key="enc2", Range="bytes=10-100")["Body"].read() == data[10:101]


def test_sse_c_round_trip(client: Any, bkt: str) -> None:
    key = os.urandom(32)
    data = known_body(2 * 1024 * 1024, seed=11)
    put = client.put_object(Bucket=bkt, Key="c", Body=data, **sse_c(key))
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["SSECustomerKeyMD5"] == base64.b64encode(hashlib.md5(key).digest()).decode()
    assert put["ETag"] != f'"{hashlib.md5(data).hexdigest()}"'  # no plaintext MD5 to compare guesses with
    head = client.head_object(Bucket=bkt, Key="c", **sse_c(key))
    assert head["SSECustomerAlgorithm"] == "AES256"
    assert client.get_object(Bucket=bkt, Key="c", **sse_c(key))["Body"].read() == data
    got = client.get_object(Bucket=bkt, Key="c", Range="bytes=77777-1500000", **sse_c(key))["Body"].read()
    assert got == data[77777:1500001]


def test_sse_c_wrong_or_missing_key(client: Any, bkt: str) -> None:
    key = os.urandom(32)
    client.put_object(Bucket=bkt, Key="c", Body=b"secret", **sse_c(key))
    client.put_object(Bucket=bkt, Key="p", Body=b"plain")
    with pytest.raises(ClientError) as info:
        client.get_object(Bucket=bkt, Key="c")
    assert (code(info), status(info)) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as info:
        client.get_object(Bucket=bkt, Key="c", **sse_c(os.urandom(32)))
    assert (code(info), status(info)) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as info:
        client.head_object(Bucket=bkt, Key="c", **sse_c(os.urandom(32)))
    assert status(info) == 403
    with pytest.raises(ClientError) as info:
        client.head_object(Bucket=bkt, Key="c")
    assert status(info) == 400
    with pytest.raises(ClientError) as info:
        client.get_object(Bucket=bkt, Key="p", **sse_c(key))
    assert (code(info), status(info)) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as info:
        client.get_object_attributes(Bucket=bkt, Key="c", ObjectAttributes=["ObjectSize"])
    assert (code(info), status(info)) == ("InvalidRequest", 400)
    attrs = client.get_object_attributes(Bucket=bkt, Key="c", ObjectAttributes=["ObjectSize"], **sse_c(key))
    assert attrs["ObjectSize"] == len(b"secret")
    bad_md5 = {**sse_c(key), "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(b"other").digest()).decode()}
    with pytest.raises(ClientError) as info:
        client.get_object(Bucket=bkt, Key="c", **bad_md5)
    assert code(info) == "InvalidArgument"
    short = base64.b64encode(b"0" * 16).decode()
    with pytest.raises(ClientError) as info:
        client.put_object(Bucket=bkt, Key="s", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=short,
                          SSECustomerKeyMD5=base64.b64encode(hashlib.md5(b"0" * 16).digest()).decode())
    assert code(info) == "InvalidArgument"


def test_sse_c_dedup_only_under_one_key(client: Any, bkt: str) -> None:
    data = known_body(1024 * 1024, seed=13)
    one, two = os.urandom(32), os.urandom(32)
    first = new_bytes(client.put_object(Bucket=bkt, Key="a", Body=data, **sse_c(one)))
    same_key = new_bytes(client.put_object(Bucket=bkt, Key="b", Body=data, **sse_c(one)))
    other_key = new_bytes(client.put_object(Bucket=bkt, Key="c", Body=data, **sse_c(two)))
    assert first == len(data) and same_key == 0 and other_key == len(data)
    assert client.get_object(Bucket=bkt, Key="c", **sse_c(two))["Body"].read() == data


def test_sse_c_multipart_and_copies(client: Any, bkt: str) -> None:
    key, other = os.urandom(32), os.urandom(32)
    data = known_body(6 * 1024 * 1024, seed=17)
    up = client.create_multipart_upload(Bucket=bkt, Key="m", **sse_c(key))
    assert up["SSECustomerAlgorithm"] == "AES256"
    with pytest.raises(ClientError) as info:
        client.upload_part(Bucket=bkt, Key="m", UploadId=up["UploadId"], PartNumber=1, Body=data[:5 << 20])
    assert code(info) == "InvalidRequest"
    p1 = client.upload_part(Bucket=bkt, Key="m", UploadId=up["UploadId"], PartNumber=1, Body=data[:5 << 20],
                            **sse_c(key))
    client.put_object(Bucket=bkt, Key="src", Body=data[5 << 20 :], **sse_c(other))
    p2 = client.upload_part_copy(Bucket=bkt, Key="m", UploadId=up["UploadId"], PartNumber=2,
                                 CopySource={"Bucket": bkt, "Key": "src"}, **sse_c(key), **sse_c(other, "CopySource"))
    client.complete_multipart_upload(Bucket=bkt, Key="m", UploadId=up["UploadId"], MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
    assert client.get_object(Bucket=bkt, Key="m", **sse_c(key))["Body"].read() == data
    got = client.get_object(Bucket=bkt, Key="m", Range="bytes=5000000-5500000", **sse_c(key))["Body"].read()
    assert got == data[5000000:5500001]
    copied = client.copy_object(Bucket=bkt, Key="m2", CopySource={"Bucket": bkt, "Key": "m"},
                                **sse_c(other), **sse_c(key, "CopySource"))
    assert copied["SSECustomerAlgorithm"] == "AES256"
    assert client.get_object(Bucket=bkt, Key="m2", **sse_c(other))["Body"].read() == data
    with pytest.raises(ClientError) as info:
        client.copy_object(Bucket=bkt, Key="m3", CopySource={"Bucket": bkt, "Key": "m"})
    assert code(info) == "InvalidRequest"


def test_the_master_key_a_server_starts_with(tmp_path: Path) -> None:
    """--master-key-file and its variable; a start without the key the keyring
    needs, or with another one, is refused with the reason, and makes no key."""
    data = tmp_path / "data"
    first, other = tmp_path / "first.key", tmp_path / "other.key"
    first.write_text(os.urandom(32).hex() + "\n")
    other.write_text(os.urandom(32).hex() + "\n")
    with start_server(data, extra_args=["--master-key-file", str(first)]) as srv:
        srv.client().create_bucket(Bucket="keys")
        srv.client().put_object(Bucket="keys", Key="k", Body=b"under the first key", ServerSideEncryption="AES256")
        assert f"master key of encryption at rest read from {first}" in srv.log()
    assert not (data / "master-key").exists()
    for args, why in (([], "no master key"), (["--master-key-file", str(other)], "was wrapped with master key")):
        with pytest.raises(RuntimeError, match="server exited with 2") as info:
            start_server(data, extra_args=args)
        assert why in str(info.value)
    assert not (data / "master-key").exists()
    with start_server(data, env={"FRAGSTORE_MASTER_KEY_FILE": str(first)}) as srv:
        assert srv.client().get_object(Bucket="keys", Key="k")["Body"].read() == b"under the first key"


def test_sse_c_needs_tls_or_loopback(server: LiveServer, bkt: str) -> None:
    """AWS refuses customer keys over plain HTTP. Here: accepted from loopback
    (this test) or over TLS, refused from another address, as uvicorn sees a
    client behind a proxy on this host (X-Forwarded-For), unless that proxy
    says it took the request over TLS (X-Forwarded-Proto: https)."""
    def via_proxy(headers: dict[str, str]) -> Any:
        client = server.client()

        def add(request: Any, **_: Any) -> None:
            for name, value in headers.items():
                request.headers[name] = value

        client.meta.events.register("before-send.s3.PutObject", add)
        return client

    key = os.urandom(32)
    with pytest.raises(ClientError) as info:
        via_proxy({"X-Forwarded-For": "10.1.2.3"}).put_object(Bucket=bkt, Key="k", Body=b"x", **sse_c(key))
    assert code(info) == "InvalidRequest"
    assert "secure connection" in info.value.response["Error"]["Message"]
    via_proxy({"X-Forwarded-For": "10.1.2.3", "X-Forwarded-Proto": "https"}).put_object(
        Bucket=bkt, Key="k", Body=b"x", **sse_c(key))
    from server.s3.sse import is_secure

    assert is_secure(False, "127.0.0.1") and is_secure(False, "::1") and is_secure(True, "10.1.2.3")
    assert not is_secure(False, "10.1.2.3") and not is_secure(False, None) and not is_secure(False, "garbage")
