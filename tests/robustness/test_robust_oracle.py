"""The crash test's oracle can fail: verify() against a ledger that disagrees
with the server reports each kind of loss (lost, corrupt, resurrected,
unexpected), and accepts any candidate of an uncertain key."""

from __future__ import annotations

from pathlib import Path

from tests.live_server import start_server
from tests.robustness.blobs import Blob, materialize
from tests.robustness.ledger import ABSENT, Ledger, Version
from tests.robustness.verify import verify

BUCKET = "oracle"


def test_verify_reports_every_kind_of_loss(tmp_path: Path) -> None:
    one, two = Version.simple(Blob(((1, 5000),))), Version.simple(Blob(((2, 7000),)))
    ledger = Ledger()
    ledger.ack("kept", one)          # present and right
    ledger.ack("lost", one)          # acknowledged, never stored
    ledger.ack("corrupt", two)       # stored with other bytes
    ledger.ack("resurrected", ABSENT)  # acknowledged delete, still there
    ledger.ack("maybe", one)
    ledger.unsure("maybe", two)      # either is fine
    with start_server(tmp_path / "data") as server:
        s3 = server.client()
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="kept", Body=materialize(one.parts[0]))
        s3.put_object(Bucket=BUCKET, Key="corrupt", Body=materialize(one.parts[0]))
        s3.put_object(Bucket=BUCKET, Key="resurrected", Body=b"x")
        s3.put_object(Bucket=BUCKET, Key="maybe", Body=materialize(two.parts[0]))
        s3.put_object(Bucket=BUCKET, Key="stray", Body=b"nobody wrote this")
        found = verify(s3, BUCKET, ledger)
    assert (found.objects_checked, found.lost, found.corrupt, found.resurrected, found.unexpected) == (5, 1, 1, 1, 1)
    assert ledger.definite("maybe") == two  # settled on what the store holds
