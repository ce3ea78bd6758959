"""Object rows (dedup/index.py ObjectRow): what a row holds, rows written by
earlier code staying readable, and metadata surviving the trip."""

from __future__ import annotations

import json

import pytest

from dedup.index import DELETE_MARKER, NULL_VERSION, OBJECT_HEAD, SEGMENT, ObjectRow
from dedup.types import ObjectMeta

ETAG = "9e107d9d372bb6826bd81d3542a419d6"


def row(meta: ObjectMeta) -> ObjectRow:
    return ObjectRow("a/key", 1024, 1_700_000_000.5, ((7, 1024),), ETAG, meta)


def test_a_row_with_default_metadata_holds_no_metadata_document():
    """Every object pays for its row: the defaults are not written out, nor
    are version fields for an unversioned object."""
    encoded = row(ObjectMeta()).encode()
    assert len(encoded) == OBJECT_HEAD.size + SEGMENT.size + 1 + len(ETAG)
    assert ObjectRow.decode("a/key", encoded) == row(ObjectMeta())


def test_a_format1_row_ending_in_an_empty_document_still_reads():
    older = row(ObjectMeta()).encode() + b"{}"
    assert ObjectRow.decode("a/key", older) == row(ObjectMeta())
    assert ObjectRow.decode_brief(older) == (1024, 1_700_000_000.5, ETAG, NULL_VERSION)


@pytest.mark.parametrize("seq, stamp, flags, kid", [
    (5, 0xDEADBEEF, 0, 0),
    (2**63, 2**64 - 1, 0, 9),
    (7, 0, NULL_VERSION, 3),          # a null version written in a suspended bucket
    (8, 12345, DELETE_MARKER, 3),
    (9, 0, NULL_VERSION | DELETE_MARKER, 3),
])
def test_versioned_rows_round_trip(seq, stamp, flags, kid):
    marker = bool(flags & DELETE_MARKER)
    original = ObjectRow("k", 0 if marker else 1024, 1.5, () if marker else ((7, 1024),),
                         "" if marker else ETAG, ObjectMeta(), seq, stamp, flags, kid)
    encoded = original.encode()
    assert encoded[0] == 0xFF
    assert ObjectRow.decode("k", encoded) == original
    assert ObjectRow.decode_brief(encoded)[3] == flags
    assert original.version_id == ("null" if flags & NULL_VERSION else f"{seq:016x}{stamp:016x}")


@pytest.mark.parametrize("meta", [
    ObjectMeta(),
    ObjectMeta(content_type="image/png"),
    ObjectMeta(checksums={"CRC32": "AAAAAA=="}),
    ObjectMeta(content_type="text/plain", metadata={"epoch": "3"}, headers={"cache-control": "no-cache"},
               checksums={"SHA256": "x" * 44}),
])
def test_rows_round_trip(meta):
    back = ObjectRow.decode("a/key", row(meta).encode())
    assert back == row(meta)


def test_a_row_written_with_every_field_spelled_out_still_reads():
    """Rows written before the defaults were left out carry all four fields."""
    older = row(ObjectMeta()).encode() + json.dumps(
        {"ct": "binary/octet-stream", "m": {}, "h": {}, "c": {"CRC32": "AAAAAA=="}}, separators=(",", ":")).encode()
    back = ObjectRow.decode("a/key", older)
    assert back.meta == ObjectMeta(checksums={"CRC32": "AAAAAA=="})
    assert (back.size, back.etag, back.segments) == (1024, ETAG, ((7, 1024),))
