"""The routing table: (method, path, query, headers) -> AWS operation name."""

from __future__ import annotations

import pytest

from server.s3.errors import S3Error
from server.s3.routing import route, split_target

CASES = [
    # method, path, query, headers, operation
    ("GET", "/", {}, {}, "ListBuckets"),
    ("PUT", "/bkt", {}, {}, "CreateBucket"),
    ("DELETE", "/bkt", {}, {}, "DeleteBucket"),
    ("HEAD", "/bkt", {}, {}, "HeadBucket"),
    ("GET", "/bkt", {"location": ""}, {}, "GetBucketLocation"),
    ("GET", "/bkt", {}, {}, "ListObjects"),
    ("GET", "/bkt/", {"prefix": "a", "marker": "b"}, {}, "ListObjects"),
    ("GET", "/bkt", {"list-type": "2", "continuation-token": "x"}, {}, "ListObjectsV2"),
    ("GET", "/bkt", {"uploads": ""}, {}, "ListMultipartUploads"),
    ("POST", "/bkt", {"delete": ""}, {}, "DeleteObjects"),
    ("PUT", "/bkt/key", {}, {}, "PutObject"),
    ("PUT", "/bkt/key", {"x-id": "PutObject"}, {}, "PutObject"),
    ("GET", "/bkt/key", {}, {}, "GetObject"),
    ("GET", "/bkt/key", {"partNumber": "2", "response-content-type": "a/b"}, {}, "GetObject"),
    ("GET", "/bkt/key", {"versionId": "null"}, {}, "GetObject"),
    ("HEAD", "/bkt/key", {}, {}, "HeadObject"),
    ("DELETE", "/bkt/key", {}, {}, "DeleteObject"),
    ("PUT", "/bkt/key", {}, {"x-amz-copy-source": "/a/b"}, "CopyObject"),
    ("POST", "/bkt/key", {"uploads": ""}, {}, "CreateMultipartUpload"),
    ("PUT", "/bkt/key", {"partNumber": "1", "uploadId": "u"}, {}, "UploadPart"),
    ("PUT", "/bkt/key", {"partNumber": "1", "uploadId": "u"}, {"x-amz-copy-source": "a/b"}, "UploadPartCopy"),
    ("PUT", "/bkt/key", {"uploadId": "u"}, {}, "UploadPart"),
    ("POST", "/bkt/key", {"uploadId": "u"}, {}, "CompleteMultipartUpload"),
    ("DELETE", "/bkt/key", {"uploadId": "u"}, {}, "AbortMultipartUpload"),
    ("GET", "/bkt/key", {"uploadId": "u", "max-parts": "2"}, {}, "ListParts"),
    ("GET", "/bkt/a/b/c", {"X-Amz-Signature": "s", "X-Amz-Credential": "c"}, {}, "GetObject"),
    ("GET", "/_fragstore/health", {}, {}, "Health"),
    ("GET", "/_fragstore/stats", {}, {}, "Stats"),
    ("POST", "/bkt", {}, {"content-type": "multipart/form-data; boundary=x"}, "PostObject"),
]

NOT_IMPLEMENTED = [
    ("PUT", "/bkt/key", {"tagging": ""}, "PutObjectTagging"),
    ("GET", "/bkt/key", {"tagging": ""}, "GetObjectTagging"),
    ("DELETE", "/bkt/key", {"tagging": ""}, "DeleteObjectTagging"),
    ("PUT", "/bkt/key", {"acl": ""}, "PutObjectAcl"),
    ("GET", "/bkt/key", {"acl": ""}, "GetObjectAcl"),
    ("PUT", "/bkt/key", {"retention": ""}, "PutObjectRetention"),
    ("GET", "/bkt/key", {"retention": ""}, "GetObjectRetention"),
    ("PUT", "/bkt/key", {"legal-hold": ""}, "PutObjectLegalHold"),
    ("GET", "/bkt/key", {"legal-hold": ""}, "GetObjectLegalHold"),
    ("GET", "/bkt/key", {"attributes": ""}, "GetObjectAttributes"),
    ("GET", "/bkt/key", {"torrent": ""}, "GetObjectTorrent"),
    ("POST", "/bkt/key", {"restore": ""}, "RestoreObject"),
    ("POST", "/bkt/key", {"select": "", "select-type": "2"}, "SelectObjectContent"),
    ("PUT", "/bkt/key", {"renameObject": ""}, "RenameObject"),
    ("GET", "/bkt/key", {"versionId": "3HL4kqtJlcpXroDTDmJ"}, "GetObjectVersion"),
    ("DELETE", "/bkt/key", {"versionId": "3HL4kqtJlcpXroDTDmJ"}, "DeleteObjectVersion"),
    ("PUT", "/bkt/key", {"uploads": ""}, "PutUploads"),
    ("PUT", "/bkt/key", {"frobnicate": ""}, "PutFrobnicate"),
    ("POST", "/bkt/key", {}, "PostObject"),  # forms post to the bucket
    ("PUT", "/bkt", {"acl": ""}, "PutBucketAcl"),
    ("GET", "/bkt", {"acl": ""}, "GetBucketAcl"),
    ("PUT", "/bkt", {"tagging": ""}, "PutBucketTagging"),
    ("GET", "/bkt", {"tagging": ""}, "GetBucketTagging"),
    ("DELETE", "/bkt", {"tagging": ""}, "DeleteBucketTagging"),
    ("PUT", "/bkt", {"versioning": ""}, "PutBucketVersioning"),
    ("GET", "/bkt", {"versioning": ""}, "GetBucketVersioning"),
    ("GET", "/bkt", {"versions": ""}, "ListObjectVersions"),
    ("PUT", "/bkt", {"policy": ""}, "PutBucketPolicy"),
    ("GET", "/bkt", {"policy": ""}, "GetBucketPolicy"),
    ("DELETE", "/bkt", {"policy": ""}, "DeleteBucketPolicy"),
    ("GET", "/bkt", {"policyStatus": ""}, "GetBucketPolicyStatus"),
    ("PUT", "/bkt", {"cors": ""}, "PutBucketCors"),
    ("GET", "/bkt", {"cors": ""}, "GetBucketCors"),
    ("DELETE", "/bkt", {"cors": ""}, "DeleteBucketCors"),
    ("PUT", "/bkt", {"lifecycle": ""}, "PutBucketLifecycleConfiguration"),
    ("GET", "/bkt", {"lifecycle": ""}, "GetBucketLifecycleConfiguration"),
    ("DELETE", "/bkt", {"lifecycle": ""}, "DeleteBucketLifecycle"),
    ("PUT", "/bkt", {"website": ""}, "PutBucketWebsite"),
    ("GET", "/bkt", {"website": ""}, "GetBucketWebsite"),
    ("DELETE", "/bkt", {"website": ""}, "DeleteBucketWebsite"),
    ("PUT", "/bkt", {"logging": ""}, "PutBucketLogging"),
    ("GET", "/bkt", {"logging": ""}, "GetBucketLogging"),
    ("PUT", "/bkt", {"notification": ""}, "PutBucketNotificationConfiguration"),
    ("GET", "/bkt", {"notification": ""}, "GetBucketNotificationConfiguration"),
    ("PUT", "/bkt", {"replication": ""}, "PutBucketReplication"),
    ("GET", "/bkt", {"replication": ""}, "GetBucketReplication"),
    ("DELETE", "/bkt", {"replication": ""}, "DeleteBucketReplication"),
    ("PUT", "/bkt", {"encryption": ""}, "PutBucketEncryption"),
    ("GET", "/bkt", {"encryption": ""}, "GetBucketEncryption"),
    ("DELETE", "/bkt", {"encryption": ""}, "DeleteBucketEncryption"),
    ("PUT", "/bkt", {"requestPayment": ""}, "PutBucketRequestPayment"),
    ("GET", "/bkt", {"requestPayment": ""}, "GetBucketRequestPayment"),
    ("PUT", "/bkt", {"object-lock": ""}, "PutObjectLockConfiguration"),
    ("GET", "/bkt", {"object-lock": ""}, "GetObjectLockConfiguration"),
    ("PUT", "/bkt", {"accelerate": ""}, "PutBucketAccelerateConfiguration"),
    ("GET", "/bkt", {"accelerate": ""}, "GetBucketAccelerateConfiguration"),
    ("PUT", "/bkt", {"analytics": "", "id": "x"}, "PutBucketAnalyticsConfiguration"),
    ("PUT", "/bkt", {"inventory": "", "id": "x"}, "PutBucketInventoryConfiguration"),
    ("PUT", "/bkt", {"metrics": "", "id": "x"}, "PutBucketMetricsConfiguration"),
    ("PUT", "/bkt", {"intelligent-tiering": "", "id": "x"}, "PutBucketIntelligentTieringConfiguration"),
    ("PUT", "/bkt", {"ownershipControls": ""}, "PutBucketOwnershipControls"),
    ("GET", "/bkt", {"ownershipControls": ""}, "GetBucketOwnershipControls"),
    ("PUT", "/bkt", {"publicAccessBlock": ""}, "PutPublicAccessBlock"),
    ("GET", "/bkt", {"publicAccessBlock": ""}, "GetPublicAccessBlock"),
    ("DELETE", "/bkt", {"publicAccessBlock": ""}, "DeletePublicAccessBlock"),
    ("GET", "/bkt", {"session": ""}, "CreateSession"),
    ("GET", "/bkt", {"metadataTable": ""}, "GetBucketMetadataTableConfiguration"),
    ("DELETE", "/bkt", {"delete": ""}, "DeleteDelete"),
]


@pytest.mark.parametrize(("method", "path", "query", "headers", "operation"), CASES)
def test_route_names_the_operation(method: str, path: str, query: dict[str, str], headers: dict[str, str], operation: str) -> None:
    target = route(method, path, query, headers)
    assert (target.operation, target.error) == (operation, None)


@pytest.mark.parametrize(("method", "path", "query", "operation"), NOT_IMPLEMENTED)
def test_unsupported_subresources_are_not_implemented(method: str, path: str, query: dict[str, str], operation: str) -> None:
    target = route(method, path, query, {})
    assert (target.operation, target.error) == (operation, "NotImplemented")


@pytest.mark.parametrize(
    ("method", "path"),
    [("PATCH", "/bkt/key"), ("OPTIONS", "/bkt"), ("PROPFIND", "/"), ("PUT", "/"), ("DELETE", "/"), ("POST", "/")],
)
def test_unknown_methods_are_not_allowed(method: str, path: str) -> None:
    assert route(method, path, {}, {}).error == "MethodNotAllowed"


def test_reserved_prefix_never_reaches_a_bucket() -> None:
    assert route("PUT", "/_fragstore/health", {}, {}).error == "NotImplemented"
    assert route("GET", "/_fragstore/other", {}, {}).error == "NotImplemented"


@pytest.mark.parametrize(
    ("path", "host", "domain", "expected"),
    [
        ("/", "127.0.0.1:9000", None, (None, None)),
        ("/bkt", "h", None, ("bkt", None)),
        ("/bkt/", "h", None, ("bkt", None)),
        ("/bkt/a%20b/c%2Bd", "h", None, ("bkt", "a b/c+d")),
        ("/bkt/..%2F..%2Fetc", "h", None, ("bkt", "../../etc")),
        ("/bkt//lead", "h", None, ("bkt", "/lead")),
        ("/bkt/%E2%82%AC+", "h", None, ("bkt", "\u20ac+")),
        ("/key/x", "bkt.s3.example.com:9000", "s3.example.com", ("bkt", "key/x")),
        ("/", "bkt.s3.example.com", "s3.example.com", ("bkt", None)),
        ("/bkt/key", "s3.example.com:9000", "s3.example.com", ("bkt", "key")),
        ("/bkt/key", "127.0.0.1:9000", "s3.example.com", ("bkt", "key")),
    ],
)
def test_split_target(path: str, host: str, domain: str | None, expected: tuple[str | None, str | None]) -> None:
    assert split_target(path, host, domain) == expected


def test_virtual_hosted_routes_by_host() -> None:
    target = route("PUT", "/k", {}, {"host": "bkt.s3.local:9000"}, "s3.local")
    assert (target.operation, target.bucket, target.key) == ("PutObject", "bkt", "k")


def test_invalid_utf8_path_is_invalid_uri() -> None:
    with pytest.raises(S3Error) as info:
        route("GET", "/bkt/%FF", {}, {})
    assert info.value.code == "InvalidURI"
