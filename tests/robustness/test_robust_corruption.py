"""Bytes flipped inside a pack file: the damaged object's GET fails (an error
answer, or a connection cut short; never wrong bytes served as the object),
``check`` names the fragment, and objects that do not use it read as before."""

from __future__ import annotations

import hashlib
import http.client
import os
from pathlib import Path

import pytest

from tests.live_server import LiveServer, sign_headers, start_server
from tests.robustness import offline

BUCKET = "damage"
KiB = 1024
MiB = 1024 * KiB


def flip_inside(data_dir: Path, needle: bytes) -> None:
    """Invert one byte in the middle of the only place ``needle`` is stored."""
    hits = []
    for pack in sorted((data_dir / "packs").rglob("*")):
        if pack.is_file():
            blob = pack.read_bytes()
            hits += [(pack, i) for i in range(len(blob)) if blob.startswith(needle, i)][:2]
    assert len(hits) == 1, f"expected the bytes stored once, uncompressed: {len(hits)} hits"
    pack, offset = hits[0]
    with open(pack, "r+b") as handle:
        handle.seek(offset + len(needle) // 2)
        byte = handle.read(1)
        handle.seek(offset + len(needle) // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))


def get_raw(server: LiveServer, target: str) -> tuple[int, bytes, int | None]:
    """(status, body received, Content-Length) of a GET; the body may end short."""
    headers = sign_headers(server, "GET", target, {}, hashlib.sha256(b"").hexdigest())
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request("GET", target, headers=headers)
        response = conn.getresponse()
        declared = response.getheader("Content-Length")
        try:
            body = response.read()
        except http.client.IncompleteRead as cut:
            body = cut.partial
        return response.status, body, int(declared) if declared is not None else None
    finally:
        conn.close()


# Reads go in batches of at least 4 MiB (at most 10 MiB: whole manifest rows), the
# first one before the answer starts.
@pytest.mark.parametrize("tail_size, damage_at, streamed", [
    (600 * KiB, 300 * KiB, False),        # met before the answer starts: an error answer
    (14 * MiB, 13 * MiB, True),           # met mid-stream: the answer is cut short
], ids=["before-headers", "mid-stream"])
def test_flipped_byte_is_detected(tmp_path: Path, tail_size: int, damage_at: int, streamed: bool) -> None:
    data = tmp_path / "data"
    head = os.urandom(600 * KiB)
    tail = os.urandom(tail_size)
    damaged = head + tail          # shares its head with `prefix`
    prefix = head
    other = os.urandom(300 * KiB)  # nothing in common
    with start_server(data) as server:
        s3 = server.client()
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="prefix", Body=prefix)
        s3.put_object(Bucket=BUCKET, Key="damaged", Body=damaged)
        s3.put_object(Bucket=BUCKET, Key="other", Body=other)
    flip_inside(data, tail[damage_at: damage_at + 64])  # a fragment only "damaged" names
    report = offline.check(data)
    assert len(report.corrupt_fragments) == 1, offline.describe(report)
    assert not report.missing_fragments and not report.refcount_errors
    with start_server(data) as server:
        s3 = server.client()
        for _ in range(2):  # the first read and any later one
            status, body, declared = get_raw(server, f"/{BUCKET}/damaged")
            if streamed:  # the damage was met after the headers went out: cut short
                assert status == 200 and declared == len(damaged) and len(body) < len(damaged)
                assert body == damaged[: len(body)], "bytes served that were never written"
            else:
                assert status == 500 and b"<Code>InternalError</Code>" in body
        ranged = s3.get_object(Bucket=BUCKET, Key="damaged", Range="bytes=0-99999")["Body"].read()
        assert ranged == damaged[:100000]  # a range that avoids the damaged fragment
        assert s3.get_object(Bucket=BUCKET, Key="prefix")["Body"].read() == prefix
        assert s3.get_object(Bucket=BUCKET, Key="other")["Body"].read() == other
        s3.put_object(Bucket=BUCKET, Key="again", Body=prefix)  # the store takes writes
        assert s3.get_object(Bucket=BUCKET, Key="again")["Body"].read() == prefix
        assert s3.head_object(Bucket=BUCKET, Key="damaged")["ContentLength"] == len(damaged)
