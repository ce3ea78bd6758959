"""DeleteObjects: batches, Quiet, and the body rules (integrity header, size, XML)."""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.live_server import LiveServer


def test_delete_many(s3: Any, bucket: str) -> None:
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "never"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["a", "b", "never"]
    assert "Errors" not in result
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["c"]


def test_quiet_reports_only_errors(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "k" * 1025}], "Quiet": True})
    assert "Deleted" not in result
    assert [e["Code"] for e in result["Errors"]] == ["KeyTooLongError"]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_more_than_1000_keys_is_malformed(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as info:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": f"k{i}"} for i in range(1001)]})
    assert info.value.response["Error"]["Code"] == "MalformedXML"


def test_with_content_md5_and_without_any_digest(live_server: LiveServer, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    body = b"<Delete><Object><Key>a</Key></Object></Delete>"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    bad = base64.b64encode(hashlib.md5(b"no").digest()).decode()
    assert live_server.raw("POST", f"/{bucket}?delete", body=body, headers={"Content-MD5": bad}).status == 400
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1
    missing = live_server.raw("POST", f"/{bucket}?delete", body=body)
    assert missing.status == 400 and b"<Code>InvalidRequest</Code>" in missing.body
    ok = live_server.raw("POST", f"/{bucket}?delete", body=body, headers={"Content-MD5": md5})
    assert ok.status == 200 and b"<Deleted><Key>a</Key></Deleted>" in ok.body


@pytest.mark.parametrize(
    "body",
    [b"garbage", b"<Delete></Delete>", b'<!DOCTYPE d [<!ENTITY e "a">]><Delete><Object><Key>&e;</Key></Object></Delete>'],
)
def test_malformed_bodies(live_server: LiveServer, bucket: str, body: bytes) -> None:
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    response = live_server.raw("POST", f"/{bucket}?delete", body=body, headers={"Content-MD5": md5})
    assert response.status == 400 and b"<Code>MalformedXML</Code>" in response.body


def test_oversized_body(live_server: LiveServer, bucket: str) -> None:
    body = b"<Delete>" + b" " * (5 * 1024 * 1024) + b"</Delete>"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    response = live_server.raw("POST", f"/{bucket}?delete", body=body, headers={"Content-MD5": md5})
    assert response.status == 400 and b"<Code>MaxMessageLengthExceeded</Code>" in response.body


def post_delete(live_server: LiveServer, bucket: str, body: bytes) -> Any:
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    return live_server.raw("POST", f"/{bucket}?delete", body=body, headers={"Content-MD5": md5})


def test_missing_key_element_fails_the_whole_request(live_server: LiveServer, s3: Any, bucket: str) -> None:
    """The schema requires Key in every Object: MalformedXML, and no key of the request is deleted."""
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    body = b"<Delete><Object><Key>a</Key></Object><Object><VersionId>null</VersionId></Object></Delete>"
    response = post_delete(live_server, bucket, body)
    assert response.status == 400 and b"<Code>MalformedXML</Code>" in response.body
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["a"]


@pytest.mark.parametrize("quiet", [False, True])
def test_empty_key_gets_its_own_error(live_server: LiveServer, s3: Any, bucket: str, quiet: bool) -> None:
    """An empty Key names no object: a per-key UserKeyMustBeSpecified error; the
    other keys are deleted, nothing else is touched (the bucket stays)."""
    for key in ("a", "b", " "):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    body = (b"<Delete>" + (b"<Quiet>true</Quiet>" if quiet else b"")
            + b"<Object><Key>a</Key></Object><Object><Key></Key></Object><Object><Key/></Object></Delete>")
    response = post_delete(live_server, bucket, body)
    assert response.status == 200, response.body
    root = ET.fromstring(response.body)
    ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
    errors = [(e.findtext("s3:Key", namespaces=ns), e.findtext("s3:Code", namespaces=ns))
              for e in root.findall("s3:Error", ns)]
    assert errors == [("", "UserKeyMustBeSpecified"), ("", "UserKeyMustBeSpecified")]
    deleted = [d.findtext("s3:Key", namespaces=ns) for d in root.findall("s3:Deleted", ns)]
    assert deleted == ([] if quiet else ["a"])
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == [" ", "b"]
    s3.head_bucket(Bucket=bucket)

