"""Object Lock (WORM) through boto3: buckets created with Object Lock, default
retention, Put/GetObjectRetention and LegalHold, the bypass of GOVERNANCE
retention, and every delete path refused for a locked version until its date
(DeleteObject, DeleteObjects, lifecycle; an overwrite is a new version)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.live_server import LiveServer, start_server


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


@pytest.fixture
def vault(s3: Any) -> str:
    name = f"vault-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_a_lock_bucket(s3: Any, vault: str) -> None:
    assert s3.get_bucket_versioning(Bucket=vault)["Status"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket=vault)["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled"}
    with pytest.raises(ClientError) as info:
        s3.put_bucket_versioning(Bucket=vault, VersioningConfiguration={"Status": "Suspended"})
    assert code(info) == "InvalidBucketState"


def test_no_lock_configuration_and_no_lock_settings_without_it(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as info:
        s3.get_object_lock_configuration(Bucket=bucket)
    assert code(info) == "ObjectLockConfigurationNotFoundError"
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=later(3600), ChecksumAlgorithm="CRC32")
    assert code(info) == "InvalidRequest"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_governance_retention_and_its_bypass(live_server: LiveServer, s3: Any, vault: str) -> None:
    put = s3.put_object(Bucket=vault, Key="ckpt", Body=b"weights", ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate=later(3600), ChecksumAlgorithm="CRC32")
    head = s3.head_object(Bucket=vault, Key="ckpt")
    assert head["ObjectLockMode"] == "GOVERNANCE" and head["ObjectLockRetainUntilDate"] > datetime.now(UTC)
    with pytest.raises(ClientError) as info:
        s3.delete_object(Bucket=vault, Key="ckpt", VersionId=put["VersionId"])
    assert code(info) == "AccessDenied"
    answer = s3.delete_objects(Bucket=vault, Delete={"Objects": [{"Key": "ckpt", "VersionId": put["VersionId"]}]})
    assert [e["Code"] for e in answer["Errors"]] == ["AccessDenied"]
    assert s3.get_object(Bucket=vault, Key="ckpt", VersionId=put["VersionId"])["Body"].read() == b"weights"
    marker = s3.delete_object(Bucket=vault, Key="ckpt")  # no version id: a marker, nothing deleted
    assert marker["DeleteMarker"] is True
    s3.delete_object(Bucket=vault, Key="ckpt", VersionId=put["VersionId"], BypassGovernanceRetention=True)
    assert [v["VersionId"] for v in s3.list_object_versions(Bucket=vault).get("Versions", [])] == []


def test_compliance_refuses_everyone_until_its_date(s3: Any, vault: str) -> None:
    put = s3.put_object(Bucket=vault, Key="k", Body=b"audit", ObjectLockMode="COMPLIANCE",
                        ObjectLockRetainUntilDate=later(2), ChecksumAlgorithm="CRC32")
    for call in (
        lambda: s3.delete_object(Bucket=vault, Key="k", VersionId=put["VersionId"], BypassGovernanceRetention=True),
        lambda: s3.put_object_retention(Bucket=vault, Key="k", VersionId=put["VersionId"],
                                        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(3600)},
                                        BypassGovernanceRetention=True),
    ):
        with pytest.raises(ClientError) as info:
            call()
        assert code(info) == "AccessDenied"
    s3.put_object(Bucket=vault, Key="k", Body=b"newer")  # an overwrite is a new version
    assert s3.get_object(Bucket=vault, Key="k", VersionId=put["VersionId"])["Body"].read() == b"audit"
    time.sleep(2.2)
    s3.delete_object(Bucket=vault, Key="k", VersionId=put["VersionId"])


def test_retention_and_legal_hold_api(s3: Any, vault: str) -> None:
    vid = s3.put_object(Bucket=vault, Key="k", Body=b"x")["VersionId"]
    with pytest.raises(ClientError) as info:
        s3.get_object_retention(Bucket=vault, Key="k")
    assert code(info) == "NoSuchObjectLockConfiguration"
    until = later(3600).replace(microsecond=0)
    s3.put_object_retention(Bucket=vault, Key="k", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until})
    got = s3.get_object_retention(Bucket=vault, Key="k", VersionId=vid)["Retention"]
    assert got["Mode"] == "GOVERNANCE" and got["RetainUntilDate"] == until
    with pytest.raises(ClientError) as info:  # shorter GOVERNANCE needs the bypass
        s3.put_object_retention(Bucket=vault, Key="k", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(60)})
    assert code(info) == "AccessDenied"
    s3.put_object_retention(Bucket=vault, Key="k", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(60)},
                            BypassGovernanceRetention=True)
    assert s3.get_object_legal_hold(Bucket=vault, Key="k")["LegalHold"]["Status"] == "OFF"
    s3.put_object_legal_hold(Bucket=vault, Key="k", LegalHold={"Status": "ON"})
    assert s3.head_object(Bucket=vault, Key="k")["ObjectLockLegalHoldStatus"] == "ON"
    with pytest.raises(ClientError) as info:
        s3.delete_object(Bucket=vault, Key="k", VersionId=vid, BypassGovernanceRetention=True)
    assert code(info) == "AccessDenied"
    s3.put_object_legal_hold(Bucket=vault, Key="k", LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=vault, Key="k", VersionId=vid, BypassGovernanceRetention=True)


def test_default_retention(s3: Any, vault: str) -> None:
    s3.put_object_lock_configuration(Bucket=vault, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    got = s3.get_object_lock_configuration(Bucket=vault)["ObjectLockConfiguration"]
    assert got["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}
    vid = s3.put_object(Bucket=vault, Key="k", Body=b"x")["VersionId"]
    head = s3.head_object(Bucket=vault, Key="k")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert timedelta(hours=23) < head["ObjectLockRetainUntilDate"] - datetime.now(UTC) <= timedelta(days=1)
    with pytest.raises(ClientError) as info:
        s3.delete_object(Bucket=vault, Key="k", VersionId=vid)
    assert code(info) == "AccessDenied"
    copied = s3.copy_object(Bucket=vault, Key="copy", CopySource={"Bucket": vault, "Key": "k"})
    assert s3.head_object(Bucket=vault, Key="copy", VersionId=copied["VersionId"])["ObjectLockMode"] == "GOVERNANCE"


def test_bad_lock_settings(live_server: LiveServer, s3: Any, vault: str) -> None:
    for headers in (
        {"x-amz-object-lock-mode": "GOVERNANCE", "content-md5": "1B2M2Y8AsgTpgAmY7PhCfg=="},
        {"x-amz-object-lock-mode": "FOREVER", "x-amz-object-lock-retain-until-date": "2099-01-01T00:00:00Z",
         "content-md5": "1B2M2Y8AsgTpgAmY7PhCfg=="},
        {"x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": "2001-01-01T00:00:00Z",
         "content-md5": "1B2M2Y8AsgTpgAmY7PhCfg=="},
        {"x-amz-object-lock-legal-hold": "MAYBE", "content-md5": "1B2M2Y8AsgTpgAmY7PhCfg=="},
    ):
        answer = live_server.raw("PUT", f"/{vault}/k", headers=headers)
        assert answer.status == 400 and b"<Code>InvalidArgument</Code>" in answer.body, (headers, answer.body)
    unprotected = live_server.raw("PUT", f"/{vault}/k", headers={"x-amz-object-lock-legal-hold": "ON"})
    assert unprotected.status == 400 and b"<Code>InvalidRequest</Code>" in unprotected.body
    assert "Versions" not in s3.list_object_versions(Bucket=vault)


def test_bypassing_governance_needs_its_permission(tmp_path: Path) -> None:
    """Another user allowed to delete versions by a bucket policy still cannot
    bypass GOVERNANCE retention without s3:BypassGovernanceRetention."""
    users = tmp_path / "users.txt"
    users.write_text("BOB:bob-secret-0123456789abcdef\n")
    with start_server(tmp_path / "data", extra_args=["--users", str(users)]) as server:
        owner = server.client()
        bob = server.client(aws_access_key_id="BOB", aws_secret_access_key="bob-secret-0123456789abcdef")
        owner.create_bucket(Bucket="vault", ObjectLockEnabledForBucket=True)
        vid = owner.put_object(Bucket="vault", Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                               ObjectLockRetainUntilDate=later(3600), ChecksumAlgorithm="CRC32")["VersionId"]

        def policy(actions: list[str]) -> None:
            owner.put_bucket_policy(Bucket="vault", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/BOB"},
                "Action": actions, "Resource": "arn:aws:s3:::vault/*"}]}))

        policy(["s3:DeleteObjectVersion"])
        with pytest.raises(ClientError) as info:
            bob.delete_object(Bucket="vault", Key="k", VersionId=vid, BypassGovernanceRetention=True)
        assert code(info) == "AccessDenied"
        assert owner.get_object(Bucket="vault", Key="k", VersionId=vid)["Body"].read() == b"x"
        policy(["s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"])
        bob.delete_object(Bucket="vault", Key="k", VersionId=vid, BypassGovernanceRetention=True)
        assert "Versions" not in owner.list_object_versions(Bucket="vault")
