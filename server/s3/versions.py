"""S3 versioning on the wire: the ``versionId`` parameter and the version
headers of answers (``x-amz-version-id``, ``x-amz-delete-marker``).

A bucket that has never had versioning configured answers without version
headers, as S3 does; once configured (Enabled or Suspended) every answer
names the version it read or wrote (``null`` for the null version).
"""

from __future__ import annotations

from collections.abc import Mapping

from dedup.types import DeleteResult, ObjectInfo
from server.s3.errors import S3Error


def version_param(query: Mapping[str, str]) -> str | None:
    """``versionId`` of the query; InvalidArgument when empty."""
    value = query.get("versionId")
    if value == "":
        raise S3Error("InvalidArgument", "Version id cannot be the empty string",
                      extra={"ArgumentName": "versionId", "ArgumentValue": ""})
    return value


def version_headers(info: ObjectInfo) -> dict[str, str]:
    if not info.versioned:
        return {}
    headers = {"x-amz-version-id": info.version_id}
    if info.delete_marker:
        headers["x-amz-delete-marker"] = "true"
    return headers


def delete_headers(result: DeleteResult) -> dict[str, str]:
    headers: dict[str, str] = {}
    if result.version_id is not None:
        headers["x-amz-version-id"] = result.version_id
    if result.delete_marker:
        headers["x-amz-delete-marker"] = "true"
    return headers
