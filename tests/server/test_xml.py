"""XML rendering and safe parsing of request bodies."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from server.s3.errors import S3Error
from server.s3.xmlparse import (
    DeleteItem,
    parse_complete_multipart,
    parse_create_bucket,
    parse_delete,
)
from server.s3.xmlrender import S3_NAMESPACE, document, escape

NS = "{" + S3_NAMESPACE + "}"


def test_document_has_namespace_and_escapes() -> None:
    body = document("ListBucketResult", [("Name", "b"), ("Key", "a<&>\r\nz"), ("IsTruncated", False), ("Skip", None),
                                         ("Contents", [("Size", 3)])])
    root = ET.fromstring(body)
    assert root.tag == NS + "ListBucketResult"
    assert root.findtext(NS + "Key") == "a<&>\r\nz"
    assert root.findtext(NS + "IsTruncated") == "false"
    assert root.find(NS + "Skip") is None
    assert root.findtext(f"{NS}Contents/{NS}Size") == "3"


def test_escape_keeps_carriage_return_and_marks_control_chars() -> None:
    assert escape("a\rb") == "a&#13;b"
    assert escape("\x01") == "&#x1;"
    assert escape("plain €") == "plain €"


def test_complete_multipart_parts_and_checksums() -> None:
    body = (f'<CompleteMultipartUpload xmlns="{S3_NAMESPACE}"><Part><PartNumber>1</PartNumber>'
            '<ETag>"abc"</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>'
            "<Part><PartNumber>2</PartNumber><ETag>def</ETag></Part></CompleteMultipartUpload>").encode()
    parts = parse_complete_multipart(body)
    assert [(p.part_number, p.etag, p.checksums) for p in parts] == [(1, "abc", {"CRC32": "AAAAAA=="}), (2, "def", {})]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<CompleteMultipartUpload></CompleteMultipartUpload>",
        b"<CompleteMultipartUpload><Part><ETag>x</ETag></Part></CompleteMultipartUpload>",
        b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
        b"<Other/>",
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><CompleteMultipartUpload>&x;</CompleteMultipartUpload>',
        b'<!DOCTYPE a SYSTEM "file:///etc/passwd"><CompleteMultipartUpload/>',
    ],
)
def test_bad_complete_bodies_are_malformed(body: bytes) -> None:
    with pytest.raises(S3Error) as info:
        parse_complete_multipart(body)
    assert info.value.code == "MalformedXML"


def test_delete_body() -> None:
    quiet, items = parse_delete(
        b"<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object>"
        b"<Object><Key>b c</Key><VersionId>v1</VersionId><ETag>\"e\"</ETag></Object></Delete>")
    assert quiet is True and items == [DeleteItem("a"), DeleteItem("b c", "v1", '"e"')]


def test_delete_limits() -> None:
    many = "".join(f"<Object><Key>k{i}</Key></Object>" for i in range(1001))
    for body in (f"<Delete>{many}</Delete>".encode(), b"<Delete></Delete>", b"<Delete><Object/></Delete>"):
        with pytest.raises(S3Error) as info:
            parse_delete(body)
        assert info.value.code == "MalformedXML"


def test_create_bucket_configuration() -> None:
    assert parse_create_bucket(b"") is None
    assert parse_create_bucket(
        f'<CreateBucketConfiguration xmlns="{S3_NAMESPACE}"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>'.encode()
    ) == "eu-west-1"
    with pytest.raises(S3Error):
        parse_create_bucket(b"<CreateBucketConfiguration>")
