"""Checksums of multipart uploads.

CreateMultipartUpload may name an algorithm (``x-amz-checksum-algorithm``) and
a type (``x-amz-checksum-type``: COMPOSITE, or FULL_OBJECT for CRCs; CRC64NVME
is always FULL_OBJECT). Both are kept in the upload's ObjectMeta.headers. Each
UploadPart's checksums are verified by Payload and stored with the part. On
CompleteMultipartUpload the per-part values the client lists must equal the
stored ones (InvalidPart otherwise), and the object gets the COMPOSITE
(``<b64>-N``) or FULL_OBJECT checksum computed from the parts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from dedup.types import ObjectMeta, PartInfo
from server.http.checksums import ALGORITHMS, composite, full_object, header_name
from server.s3.errors import S3Error
from server.s3.objmeta import UPLOAD_CHECKSUM_ALGORITHM, UPLOAD_CHECKSUM_TYPE
from server.s3.xmlparse import CompletedPart

COMPOSITE = "COMPOSITE"
FULL_OBJECT = "FULL_OBJECT"
_CRCS = ("CRC32", "CRC32C", "CRC64NVME")


@dataclass(frozen=True)
class UploadChecksum:
    algorithm: str | None = None
    type: str | None = None


def from_create_headers(headers: Mapping[str, str]) -> UploadChecksum:
    """The checksum a CreateMultipartUpload asks for; InvalidRequest if unusable."""
    algorithm = headers.get("x-amz-checksum-algorithm", "").strip().upper() or None
    kind = headers.get("x-amz-checksum-type", "").strip().upper() or None
    if algorithm is None:
        if kind is not None:
            raise S3Error("InvalidRequest", "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
        return UploadChecksum()
    if algorithm not in ALGORITHMS:
        raise S3Error("InvalidRequest", f"Checksum algorithm {algorithm} is not supported.")
    kind = kind or (FULL_OBJECT if algorithm == "CRC64NVME" else COMPOSITE)
    unusable = (
        kind not in (COMPOSITE, FULL_OBJECT)
        or (kind == FULL_OBJECT and algorithm not in _CRCS)
        or (kind == COMPOSITE and algorithm == "CRC64NVME")
    )
    if unusable:
        raise S3Error("InvalidRequest", f"The {kind} checksum type cannot be used with the {algorithm} checksum algorithm.")
    return UploadChecksum(algorithm, kind)


def remember(meta: ObjectMeta, checksum: UploadChecksum) -> ObjectMeta:
    """``meta`` with the upload's checksum settings kept in its headers."""
    if checksum.algorithm is None or checksum.type is None:
        return meta
    headers = dict(meta.headers)
    headers[UPLOAD_CHECKSUM_ALGORITHM] = checksum.algorithm
    headers[UPLOAD_CHECKSUM_TYPE] = checksum.type
    return replace(meta, headers=headers)


def of_upload(meta: ObjectMeta) -> UploadChecksum:
    return UploadChecksum(meta.headers.get(UPLOAD_CHECKSUM_ALGORITHM), meta.headers.get(UPLOAD_CHECKSUM_TYPE))


def response_headers(checksum: UploadChecksum) -> dict[str, str]:
    if checksum.algorithm is None or checksum.type is None:
        return {}
    return {"x-amz-checksum-algorithm": checksum.algorithm, "x-amz-checksum-type": checksum.type}


def verify_listed(listed: Sequence[CompletedPart], stored: Mapping[int, PartInfo]) -> None:
    """InvalidPart when a part's listed checksum differs from the stored one."""
    for part in listed:
        info = stored.get(part.part_number)
        if info is None:
            continue  # the engine answers InvalidPart for a missing part
        for algorithm, value in part.checksums.items():
            if info.checksums.get(algorithm) != value:
                raise S3Error("InvalidPart", f"The {algorithm} checksum of part {part.part_number} does not match.")


def object_checksums(
    checksum: UploadChecksum, listed: Sequence[CompletedPart], stored: Mapping[int, PartInfo],
    headers: Mapping[str, str],
) -> dict[str, str]:
    """The completed object's checksum, computed from its parts' stored checksums.
    Empty when the upload named no algorithm or a part lacks its value."""
    algorithm = checksum.algorithm
    infos = [stored.get(p.part_number) for p in listed]
    if algorithm is None or any(i is None or algorithm not in i.checksums for i in infos):
        return {}
    values = [i.checksums[algorithm] for i in infos if i is not None]
    if checksum.type == FULL_OBJECT:
        value = full_object(algorithm, [(v, i.size) for v, i in zip(values, infos, strict=True) if i is not None])
    else:
        value = composite(algorithm, values)
    claimed = headers.get(header_name(algorithm))
    if claimed is not None and claimed.strip() != value:
        raise S3Error("BadDigest", f"The {algorithm} you specified did not match the calculated checksum.")
    return {algorithm: value}
