"""Checkpoints stored as deltas through the S3 API (issue 15): plain boto3
uploads, no hint from the client; a single PUT of bf16 safetensors weights and
a managed (multipart) upload of a torch.save-like training state each find the
previous checkpoint, read back byte for byte, and the stats endpoint counts
their delta fragments in the bucket."""

from __future__ import annotations

import io
import json
import random
import struct
import sys
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "dedup"))
from test_tensors import torch_like_zip  # noqa: E402

MiB = 1024 * 1024


def _floats(n: int, seed: int, drift: float) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(0, 0.02) * (1 + drift) for _ in range(n)]


def _bf16(values: list[float]) -> bytes:
    return b"".join(struct.pack("<f", v)[2:] for v in values)


def weights(step: int) -> bytes:
    data = _bf16(_floats(300_000, 1, step * 1e-3))
    head = json.dumps({"w": {"dtype": "BF16", "shape": [300_000], "data_offsets": [0, len(data)]}}).encode()
    return struct.pack("<Q", len(head)) + head + data


def state(step: int) -> bytes:
    """~9 MB of fp32 tensors of 480 kB in a torch-like zip (a multipart upload in 5 MiB parts)."""
    records = {"archive/data.pkl": b"\x80\x02" + b"p" * 500}
    for i in range(20):
        records[f"archive/data/{i}"] = struct.pack("<120000f", *_floats(120_000, 100 + i, step * 1e-4))
    return torch_like_zip(records)


def bucket_stats(live_server: Any, bucket: str) -> dict[str, Any]:
    doc = json.loads(live_server.raw("GET", "/_fragstore/stats?exact=true").body)
    return next(b for b in doc["buckets"] if b["name"] == bucket)


def test_checkpoints_uploaded_with_boto3_are_stored_as_deltas(s3: Any, bucket: str, live_server: Any) -> None:
    s3.put_object(Bucket=bucket, Key="run/step-1/model.safetensors", Body=weights(1))
    s3.put_object(Bucket=bucket, Key="run/step-2/model.safetensors", Body=weights(2))
    single = bucket_stats(live_server, bucket)
    assert single["delta_objects"] == 1 and single["delta_fragments"] > 0

    managed = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    for step in (1, 2):
        s3.upload_fileobj(io.BytesIO(state(step)), bucket, f"run/step-{step}/state.pt", Config=managed)
    both = bucket_stats(live_server, bucket)
    assert both["delta_objects"] == 2 and both["delta_fragments"] > single["delta_fragments"]
    assert both["delta_stored_bytes"] < both["delta_raw_bytes"] / 2
    # the store's savings split by effect (the console's bars): delta is one of them, and they add up
    total = json.loads(live_server.raw("GET", "/_fragstore/stats").body)["total"]
    saved = total["saved_by"]
    assert list(saved) == ["dedup", "delta", "compression"]
    assert saved["delta"] >= both["delta_raw_bytes"] - both["delta_stored_bytes"] > 0
    assert sum(saved.values()) == total["logical_bytes"] - total["stored_bytes"]

    for step in (1, 2):
        got = s3.get_object(Bucket=bucket, Key=f"run/step-{step}/model.safetensors")["Body"].read()
        assert got == weights(step)
        out = io.BytesIO()
        s3.download_fileobj(bucket, f"run/step-{step}/state.pt", out, Config=managed)
        assert out.getvalue() == state(step)
    part = s3.get_object(Bucket=bucket, Key="run/step-2/state.pt", Range="bytes=5000000-5300000")["Body"].read()
    assert part == state(2)[5_000_000:5_300_001]
