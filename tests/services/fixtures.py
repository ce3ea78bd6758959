"""pytest fixtures for real PostgreSQL and Ceph RGW servers (never mocks).

Import them into the conftest of the tests that need them:

    from tests.services.fixtures import postgres, pg_dsn, ceph, rgw, rgw_s3, rgw_bucket  # noqa: F401

* ``postgres`` (session): a throw-away cluster (``tests/services/postgres.py``); ``pg_dsn``:
  a new, empty database in it for one test.
* ``ceph`` (session, ~20 s): a single-node Ceph with radosgw (``tests/services/ceph.py``);
  ``rgw``: the same cluster, checked alive before and after each test (a radosgw that died
  fails the test with its log's tail instead of hanging the next one); ``rgw_s3``: a boto3
  client for it (path style, SigV4, short timeouts, no retries); ``rgw_bucket``: a new bucket
  for one test.

When the packages are missing and this process cannot install them (not root, no
apt-get), the tests that use these fixtures are skipped with the reason; under CI
(``CI=true``) they fail instead, since CI must have installed them
(``scripts/services-deps`` in ``.ci/run``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.services import ceph as ceph_service
from tests.services import postgres as postgres_service
from tests.services.common import ServiceError

REGION = "us-east-1"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI must provide this service (scripts/services-deps): {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[postgres_service.Postgres]:
    if why := postgres_service.unavailable():
        _unavailable(why)
    cluster = postgres_service.start_postgres()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_dsn(postgres: postgres_service.Postgres) -> str:
    """The DSN of a new, empty database for this test."""
    postgres.check()
    return postgres.createdb(f"t_{uuid.uuid4().hex[:16]}")


@pytest.fixture(scope="session")
def ceph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ceph_service.Ceph]:
    if why := ceph_service.unavailable():
        _unavailable(why)
    # A short path: admin sockets live under it, and a unix socket path has ~107 bytes.
    cluster = ceph_service.start_ceph(tmp_path_factory.mktemp("ceph", numbered=True))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def rgw(ceph: ceph_service.Ceph) -> Iterator[ceph_service.Ceph]:
    """The session's cluster, checked alive before and after this test."""
    try:
        ceph.check()
    except ServiceError as exc:
        pytest.fail(f"the session's Ceph cluster is down: {exc}", pytrace=False)
    yield ceph
    try:
        ceph.check()
    except ServiceError as exc:
        pytest.fail(f"a Ceph daemon died during this test: {exc}", pytrace=False)


def rgw_client(cluster: ceph_service.Ceph, **config: Any) -> Any:
    """A boto3 S3 client for the cluster's radosgw: path style, SigV4, no retries, and timeouts
    short enough that a hung gateway fails a test rather than stalling it."""
    base = Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"total_max_attempts": 1},
                  connect_timeout=5, read_timeout=60)
    return boto3.session.Session().client(
        "s3", endpoint_url=cluster.endpoint, aws_access_key_id=cluster.access_key,
        aws_secret_access_key=cluster.secret_key, region_name=REGION, config=base.merge(Config(**config)))


@pytest.fixture
def rgw_s3(rgw: ceph_service.Ceph) -> Any:
    return rgw_client(rgw)


@pytest.fixture
def rgw_bucket(rgw_s3: Any) -> str:
    """A new, empty RGW bucket named for this test only."""
    name = f"t-{uuid.uuid4().hex[:20]}"
    rgw_s3.create_bucket(Bucket=name)
    return name
