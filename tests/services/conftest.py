"""Fixtures of the tests of the service fixtures themselves (see ``fixtures.py``)."""

from tests.services.fixtures import ceph, pg_dsn, postgres, rgw, rgw_bucket, rgw_s3  # noqa: F401
