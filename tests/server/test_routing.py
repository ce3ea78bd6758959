"""The routing table: (method, path, query, headers) -> AWS operation name."""

from __future__ import annotations

import pytest

from server.s3.dispatch import HANDLERS
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
    ("PUT", "/bkt", {"cors": ""}, {}, "PutBucketCors"),
    ("GET", "/bkt", {"cors": ""}, {}, "GetBucketCors"),
    ("DELETE", "/bkt", {"cors": ""}, {}, "DeleteBucketCors"),
    ("OPTIONS", "/bkt/key", {}, {}, "OptionsObject"),
    ("OPTIONS", "/bkt", {}, {}, "OptionsObject"),
    ("OPTIONS", "/", {}, {}, "OptionsObject"),
    # a preflight may carry the actual request's parameters: its query never changes the operation
    ("OPTIONS", "/bkt/key", {"uploadId": "u", "partNumber": "1"}, {}, "OptionsObject"),
    ("OPTIONS", "/bkt/key", {"tagging": ""}, {}, "OptionsObject"),
    ("OPTIONS", "/bkt", {"cors": ""}, {}, "OptionsObject"),
    ("GET", "/_fragstore/health", {}, {}, "Health"),
    ("GET", "/_fragstore/stats", {}, {}, "Stats"),
    ("POST", "/_fragstore/lifecycle", {}, {}, "RunLifecycle"),
    ("GET", "/_fragstore/users", {}, {}, "ListUsers"),
    ("POST", "/_fragstore/users", {"access-key": "K"}, {}, "AddUser"),
    ("POST", "/_fragstore/users/K", {}, {}, "RotateUserKey"),
    ("DELETE", "/_fragstore/users/K", {}, {}, "RemoveUser"),
    ("PUT", "/bkt", {"lifecycle": ""}, {}, "PutBucketLifecycleConfiguration"),
    ("PUT", "/bkt/", {"lifecycle": ""}, {"content-md5": "x"}, "PutBucketLifecycleConfiguration"),
    ("GET", "/bkt", {"lifecycle": ""}, {}, "GetBucketLifecycleConfiguration"),
    ("DELETE", "/bkt", {"lifecycle": ""}, {}, "DeleteBucketLifecycle"),
    ("POST", "/bkt", {}, {"content-type": "multipart/form-data; boundary=x"}, "PostObject"),
]

# Sub-resources: routing names the AWS operation; dispatch's HANDLERS says
# whether fragstore implements it.
NAMED = [
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
    ("GET", "/bkt/key", {"versionId": "3HL4kqtJlcpXroDTDmJ"}, "GetObject"),
    ("HEAD", "/bkt/key", {"versionId": "3HL4kqtJlcpXroDTDmJ"}, "HeadObject"),
    ("DELETE", "/bkt/key", {"versionId": "3HL4kqtJlcpXroDTDmJ"}, "DeleteObject"),
    ("GET", "/bkt/key", {"tagging": "", "versionId": "v"}, "GetObjectTagging"),
    ("GET", "/bkt", {"versions": "", "key-marker": "a", "version-id-marker": "v"}, "ListObjectVersions"),
    ("POST", "/bkt", {}, "PostObject"),
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
    ("PUT", "/bkt", {"lifecycle": ""}, "PutBucketLifecycleConfiguration"),
    ("GET", "/bkt", {"lifecycle": ""}, "GetBucketLifecycleConfiguration"),
    ("DELETE", "/bkt", {"lifecycle": ""}, "DeleteBucketLifecycle"),
    ("PUT", "/bkt", {"cors": ""}, "PutBucketCors"),
    ("GET", "/bkt", {"cors": ""}, "GetBucketCors"),
    ("DELETE", "/bkt", {"cors": ""}, "DeleteBucketCors"),
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
]

# Unknown query keys, and known sub-resources with a method they do not take.
OTHER = [
    ("PUT", "/bkt/key", {"uploads": ""}),
    ("PUT", "/bkt/key", {"frobnicate": ""}),
    ("GET", "/bkt", {"x-unknown": "1"}),
    ("DELETE", "/bkt", {"delete": ""}),
    ("DELETE", "/bkt", {"versioning": ""}),
    ("POST", "/bkt/key", {"tagging": ""}),
    ("POST", "/bkt", {"cors": ""}),
    ("HEAD", "/bkt", {"cors": ""}),
    ("PUT", "/bkt/key", {"cors": ""}),
    ("PUT", "/bkt/key", {"lifecycle": ""}),
    ("POST", "/bkt", {"lifecycle": ""}),
]

IMPLEMENTED = {
    "PutObjectTagging", "GetObjectTagging", "DeleteObjectTagging", "GetObjectAttributes",
    "PutBucketTagging", "GetBucketTagging", "DeleteBucketTagging", "PutBucketVersioning",
    "GetBucketVersioning", "ListObjectVersions", "GetObject", "HeadObject", "DeleteObject",
    "PutBucketLifecycleConfiguration", "GetBucketLifecycleConfiguration", "DeleteBucketLifecycle",
    "PutBucketCors", "GetBucketCors", "DeleteBucketCors", "PostObject",
    "PutObjectLockConfiguration", "GetObjectLockConfiguration", "PutObjectRetention", "GetObjectRetention",
    "PutObjectLegalHold", "GetObjectLegalHold",
    "GetBucketAcl", "PutBucketAcl", "GetObjectAcl", "PutObjectAcl", "PutBucketPolicy", "GetBucketPolicy",
    "DeleteBucketPolicy", "GetBucketPolicyStatus", "GetBucketOwnershipControls", "PutBucketOwnershipControls",
    "DeleteBucketOwnershipControls", "GetPublicAccessBlock", "PutPublicAccessBlock", "DeletePublicAccessBlock",
    "GetBucketEncryption", "PutBucketEncryption", "DeleteBucketEncryption",
}


def test_a_form_posted_to_an_object_is_not_implemented() -> None:
    """Browser forms post to the bucket (the key is a form field)."""
    target = route("POST", "/bkt/key", {}, {})
    assert (target.operation, target.error) == ("PostObject", "NotImplemented")


@pytest.mark.parametrize(("method", "path", "query", "headers", "operation"), CASES)
def test_route_names_the_operation(method: str, path: str, query: dict[str, str], headers: dict[str, str], operation: str) -> None:
    target = route(method, path, query, headers)
    assert (target.operation, target.error) == (operation, None)


@pytest.mark.parametrize(("method", "path", "query", "operation"), NAMED)
def test_subresources_name_their_operation(method: str, path: str, query: dict[str, str], operation: str) -> None:
    target = route(method, path, query, {})
    assert (target.operation, target.error) == (operation, None)
    assert (operation in HANDLERS) == (operation in IMPLEMENTED), "dispatch answers NotImplemented without a handler"


@pytest.mark.parametrize(("method", "path", "query"), OTHER)
def test_unknown_query_keys_are_other_and_not_implemented(method: str, path: str, query: dict[str, str]) -> None:
    """A bounded name for logs and metrics, and never a plain PUT/GET."""
    assert (route(method, path, query, {}).operation, route(method, path, query, {}).error) == ("Other", "NotImplemented")


@pytest.mark.parametrize(
    ("method", "path"),
    [("PATCH", "/bkt/key"), ("PROPFIND", "/"), ("PUT", "/"), ("DELETE", "/"), ("POST", "/")],
)
def test_unknown_methods_are_not_allowed(method: str, path: str) -> None:
    assert route(method, path, {}, {}).error == "MethodNotAllowed"


def test_preflight_names_its_target() -> None:
    target = route("OPTIONS", "/bkt/a%20b", {}, {})
    assert (target.operation, target.bucket, target.key) == ("OptionsObject", "bkt", "a b")
    target = route("OPTIONS", "/k", {}, {"host": "bkt.s3.local"}, "s3.local")
    assert (target.operation, target.bucket, target.key) == ("OptionsObject", "bkt", "k")


def test_reserved_prefix_never_reaches_a_bucket() -> None:
    assert route("PUT", "/_fragstore/health", {}, {}).error == "NotImplemented"
    assert route("OPTIONS", "/_fragstore/health", {}, {}).error == "NotImplemented"
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


def test_console_paths_name_the_console() -> None:
    for method, path in (("GET", "/_fragstore/console"), ("POST", "/_fragstore/console/login"),
                         ("PUT", "/_fragstore/console/api/b/x/part")):
        target = route(method, path, {}, {})
        assert (target.operation, target.error) == ("Console", None), path
    assert route("GET", "/_fragstore/consoles", {}, {}).error == "NotImplemented"
    assert route("GET", "/_fragstore/status", {}, {}).operation == "ServerStatus"
