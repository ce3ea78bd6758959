"""Object rows (dedup/index.py ObjectRow): what a row holds, rows written by
earlier code staying readable, and metadata surviving the trip."""

from __future__ import annotations

import json

import pytest

from dedup.index import OBJECT_HEAD, SEGMENT, ObjectRow
from dedup.types import ObjectMeta

ETAG = "9e107d9d372bb6826bd81d3542a419d6"


def row(meta: ObjectMeta) -> ObjectRow:
    return ObjectRow("a/key", 1024, 1_700_000_000.5, ((7, 1024),), ETAG, meta)


def test_a_row_with_default_metadata_holds_no_metadata_document():
    """Every object pays for its row: the defaults are not written out."""
    encoded = row(ObjectMeta()).encode()
    assert encoded.endswith(b"{}")
    assert len(encoded) == OBJECT_HEAD.size + SEGMENT.size + 1 + len(ETAG) + 2


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
    older = row(ObjectMeta()).encode()[:-2] + json.dumps(
        {"ct": "binary/octet-stream", "m": {}, "h": {}, "c": {"CRC32": "AAAAAA=="}}, separators=(",", ":")).encode()
    back = ObjectRow.decode("a/key", older)
    assert back.meta == ObjectMeta(checksums={"CRC32": "AAAAAA=="})
    assert (back.size, back.etag, back.segments) == (1024, ETAG, ((7, 1024),))
