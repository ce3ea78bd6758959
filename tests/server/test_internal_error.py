"""Unexpected failures become InternalError XML with the request id, never a traceback:
here a pack file damaged on disk (the engine refuses the fragment before any byte is sent)."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.live_server import start_server


def test_damaged_pack_is_internal_error(tmp_path: Path) -> None:
    with start_server(tmp_path / "data") as server:
        s3 = server.client()
        s3.create_bucket(Bucket="damaged")
        s3.put_object(Bucket="damaged", Key="k", Body=os.urandom(200_000))
        packs = [p for p in (tmp_path / "data" / "packs").rglob("*") if p.is_file() and p.stat().st_size > 100_000]
        assert packs
        for pack in packs:
            with open(pack, "r+b") as handle:
                handle.seek(pack.stat().st_size // 2)
                handle.write(b"\x00" * 4096)
        response = server.raw("GET", "/damaged/k")
        assert response.status == 500
        root = ET.fromstring(response.body)
        assert root.findtext("Code") == "InternalError"
        assert root.findtext("RequestId") == response.headers["x-amz-request-id"]
        assert b"Traceback" not in response.body and b"Corrupt" not in response.body
        server.stop()
        assert response.headers["x-amz-request-id"] in server.log()
