"""PutObject, GetObject, HeadObject, DeleteObject through boto3 against the live server."""

from __future__ import annotations

import base64
import hashlib
import socket
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.live_server import LiveServer


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def test_put_get_head_delete(s3: Any, bucket: str) -> None:
    body = b"hello fragstore" * 1000
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, ContentType="text/plain",
                        Metadata={"colour": "blue"}, CacheControl="max-age=60", ContentDisposition="inline",
                        ContentEncoding="identity", ContentLanguage="en", Expires="Wed, 21 Oct 2037 07:28:00 GMT")
    etag = '"' + hashlib.md5(body).hexdigest() + '"'
    assert put["ETag"] == etag
    assert int(put["ResponseMetadata"]["HTTPHeaders"]["x-fragstore-new-bytes"]) >= 0
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == body
    for response in (got, s3.head_object(Bucket=bucket, Key="k")):
        assert response["ETag"] == etag
        assert response["ContentLength"] == len(body)
        assert response["ContentType"] == "text/plain"
        assert response["Metadata"] == {"colour": "blue"}
        assert response["CacheControl"] == "max-age=60"
        assert response["ContentDisposition"] == "inline"
        assert response["ContentEncoding"] == "identity"
        assert response["ContentLanguage"] == "en"
        assert response["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Wed, 21 Oct 2037 07:28:00 GMT"
        assert response["AcceptRanges"] == "bytes"
        assert response["ResponseMetadata"]["HTTPHeaders"]["last-modified"].endswith(" GMT")
    assert s3.delete_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="k")
    assert error_code(info) == "NoSuchKey"
    assert s3.delete_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_new_bytes_header_counts_dedup(s3: Any, bucket: str) -> None:
    import os

    body = os.urandom(512 * 1024)
    first = s3.put_object(Bucket=bucket, Key="a", Body=body)
    second = s3.put_object(Bucket=bucket, Key="b", Body=body)
    assert int(first["ResponseMetadata"]["HTTPHeaders"]["x-fragstore-new-bytes"]) >= len(body) // 2
    assert int(second["ResponseMetadata"]["HTTPHeaders"]["x-fragstore-new-bytes"]) == 0


def test_empty_object_and_default_content_type(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b"" and got["ContentLength"] == 0
    assert got["ContentType"] == "binary/octet-stream"
    assert got["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'


def test_response_overrides(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ContentType="text/plain")
    got = s3.get_object(Bucket=bucket, Key="k", ResponseContentType="image/png",
                        ResponseContentDisposition="attachment; filename=x.png",
                        ResponseCacheControl="no-cache", ResponseContentLanguage="de",
                        ResponseContentEncoding="gzip", ResponseExpires="Thu, 01 Jan 2037 00:00:00 GMT")
    assert got["ContentType"] == "image/png"
    assert got["ContentDisposition"] == "attachment; filename=x.png"
    assert got["CacheControl"] == "no-cache"
    assert got["ContentLanguage"] == "de"
    assert got["ContentEncoding"] == "gzip"


def test_overwrite_replaces_body_and_metadata(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"one", Metadata={"a": "1"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"two!", Metadata={"b": "2"})
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"two!" and got["Metadata"] == {"b": "2"}


def test_metadata_too_large(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata={"big": "v" * 2100})
    assert error_code(info) == "MetadataTooLarge"
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata={"ok": "v" * 1900})


def test_key_too_long(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert error_code(info) == "KeyTooLongError"


def test_content_md5(s3: Any, bucket: str) -> None:
    body = b"checked body"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="ok", Body=body, ContentMD5=good)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="bad", Body=body, ContentMD5=wrong)
    assert error_code(info) == "BadDigest"
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="bad", Body=body, ContentMD5="not-base64!")
    assert error_code(info) == "InvalidDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="bad")


def test_head_errors_have_no_body(live_server: LiveServer, bucket: str) -> None:
    response = live_server.raw("HEAD", f"/{bucket}/missing")
    assert response.status == 404 and response.body == b""
    assert response.headers["x-amz-request-id"] and response.headers["x-amz-id-2"]


def test_error_document_shape(live_server: LiveServer, bucket: str) -> None:
    import xml.etree.ElementTree as ET

    response = live_server.raw("GET", f"/{bucket}/missing%20key")
    assert response.status == 404
    root = ET.fromstring(response.body)
    assert root.tag == "Error"
    assert root.findtext("Code") == "NoSuchKey"
    assert root.findtext("Message")
    assert root.findtext("Key") == "missing key"
    assert root.findtext("Resource") == f"/{bucket}/missing key"
    assert root.findtext("RequestId") == response.headers["x-amz-request-id"]
    assert response.headers["content-type"] == "application/xml"


@pytest.mark.parametrize(("subresource", "status", "code"), [
    ("acl", 400, "MalformedACLError"), ("renameObject", 501, "NotImplemented"), ("whatever", 501, "NotImplemented")])
def test_subresource_put_never_overwrites(live_server: LiveServer, s3: Any, bucket: str, subresource: str,
                                          status: int, code: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"original")
    response = live_server.raw("PUT", f"/{bucket}/k?{subresource}", body=b"<Tagging/>")
    assert response.status == status
    assert f"<Code>{code}</Code>".encode() in response.body
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"original"


def test_a_malformed_tagging_put_never_overwrites(live_server: LiveServer, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"original")
    response = live_server.raw("PUT", f"/{bucket}/k?tagging", body=b"<Tagging/>")
    assert response.status == 400 and b"<Code>MalformedXML</Code>" in response.body
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"original"


def test_unimplemented_operations_through_boto3(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"original")
    with pytest.raises(ClientError) as info:
        s3.select_object_content(Bucket=bucket, Key="k", Expression="select * from s3object", ExpressionType="SQL",
                                 InputSerialization={"CSV": {}}, OutputSerialization={"CSV": {}})
    assert error_code(info) == "NotImplemented"
    with pytest.raises(ClientError) as info:
        s3.get_bucket_website(Bucket=bucket)
    assert error_code(info) == "NotImplemented"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"original"


@pytest.mark.parametrize(("method", "target"), [("PATCH", "/{b}/k"), ("PUT", "/"), ("DELETE", "/")])
def test_method_not_allowed(live_server: LiveServer, bucket: str, method: str, target: str) -> None:
    response = live_server.raw(method, target.format(b=bucket))
    assert response.status == 405 and b"<Code>MethodNotAllowed</Code>" in response.body


def test_missing_content_length(live_server: LiveServer, s3: Any, bucket: str) -> None:
    response = live_server.raw("PUT", f"/{bucket}/k", content_length=False, payload_hash="UNSIGNED-PAYLOAD")
    assert response.status == 411 and b"<Code>MissingContentLength</Code>" in response.body


def test_entity_too_large_is_refused_before_the_body(live_server: LiveServer, bucket: str) -> None:
    headers = {"Content-Length": str(5 * 1024**3 + 1)}
    response = live_server.raw("PUT", f"/{bucket}/k", headers=headers, payload_hash="UNSIGNED-PAYLOAD")
    assert response.status == 400 and b"<Code>EntityTooLarge</Code>" in response.body


def test_short_body_stores_nothing(live_server: LiveServer, s3: Any, bucket: str) -> None:
    """The client promises 100000 bytes, sends 1000 and hangs up: IncompleteBody, no object."""
    from tests.live_server import sign_headers

    headers = sign_headers(live_server, "PUT", f"/{bucket}/short", {"Content-Length": "100000"}, "UNSIGNED-PAYLOAD")
    with socket.create_connection(("127.0.0.1", live_server.port)) as sock:
        head = f"PUT /{bucket}/short HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode() + b"x" * 1000)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(30)
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass
    with pytest.raises(ClientError) as info:
        s3.head_object(Bucket=bucket, Key="short")
    assert info.value.response["Error"]["Code"] == "404"  # the IncompleteBody answer cannot reach a closed socket


def test_short_aws_chunked_body_is_incomplete(live_server: LiveServer, s3: Any, bucket: str) -> None:
    """aws-chunked body that ends before x-amz-decoded-content-length: IncompleteBody, visible."""
    body = b"5\r\nhello\r\n0\r\n\r\n"
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "10"}
    response = live_server.raw("PUT", f"/{bucket}/chunky", headers=headers, body=body,
                               payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    assert response.status == 400 and b"<Code>IncompleteBody</Code>" in response.body
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="chunky")


def test_expect_100_continue(live_server: LiveServer, s3: Any, bucket: str) -> None:
    response = live_server.raw("PUT", f"/{bucket}/expect", headers={"Expect": "100-continue"}, body=b"abc")
    assert response.status == 200
    assert s3.get_object(Bucket=bucket, Key="expect")["Body"].read() == b"abc"


def test_request_ids_on_every_response(live_server: LiveServer, s3: Any, bucket: str) -> None:
    ok = s3.list_objects_v2(Bucket=bucket)["ResponseMetadata"]
    assert ok["RequestId"] and ok["HostId"]
    missing = live_server.raw("GET", "/no-such-bucket-here/k")
    assert missing.status == 404 and missing.headers["x-amz-request-id"]
