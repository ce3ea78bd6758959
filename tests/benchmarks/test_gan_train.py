"""The GAN workload against a live fragstore server: a tiny run, exact checkpoint
round trips (single PUT and multipart), resume, fine-tune with frozen blocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from benchmarks.gan import checkpoints  # noqa: E402
from benchmarks.gan.config import TrainConfig  # noqa: E402
from benchmarks.gan.models import ModelConfig  # noqa: E402
from benchmarks.gan.state import make_pair, payload  # noqa: E402
from benchmarks.gan.steps import discriminator_step, generator_step  # noqa: E402
from benchmarks.gan.store import Endpoint, MiB, Store  # noqa: E402
from benchmarks.gan.train import train  # noqa: E402

pytestmark = pytest.mark.gan

TINY = ModelConfig(image_size=16, nz=16, ngf=4, ndf=4)
ROOT = Path(__file__).resolve().parents[2]


def tiny(bucket: str, **kw: Any) -> TrainConfig:
    base: dict[str, Any] = dict(
        bucket=bucket, epochs=1, model=TINY, num_images=8, batch_size=4, final_samples=3,
        grid_size=4, progress=False,
    )
    return TrainConfig(**{**base, **kw})


@pytest.fixture
def store(live_server: Any) -> Store:
    endpoint = Endpoint(live_server.url, live_server.access_key, live_server.secret_key)
    return Store(endpoint.client())


def flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts/lists of a checkpoint flattened to {path: leaf}."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in flat(sub, f"{prefix}/{key}").items()}
    if isinstance(tree, list | tuple):
        return {k: v for i, sub in enumerate(tree) for k, v in flat(sub, f"{prefix}/{i}").items()}
    return {prefix: tree}


def assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    fa, fb = flat(a), flat(b)
    assert fa.keys() == fb.keys()
    for key, va in fa.items():
        if isinstance(va, torch.Tensor):
            assert va.dtype == fb[key].dtype and torch.equal(va, fb[key]), key
        else:
            assert va == fb[key], key


def keys(store: Store, bucket: str, prefix: str = "") -> list[str]:
    return [k for k, _, _ in store.list(bucket, prefix)]


def test_tiny_run_trains_against_the_store(store: Store, bucket: str, tmp_path: Path) -> None:
    cfg = tiny(bucket, cache_dir=tmp_path / "cache")
    result = train(cfg, store)
    assert result.uploaded_images == 8
    assert len(keys(store, bucket, cfg.data_prefix)) == 8
    assert len(list((tmp_path / "cache").rglob("*.png"))) == 8  # every batch image came from the store
    assert result.checkpoint_keys == ["runs/run/checkpoints/epoch-0001.pt"]
    stored = set(keys(store, bucket, "runs/run/"))
    assert {"runs/run/checkpoints/epoch-0001.pt", "runs/run/checkpoints/latest.pt",
            "runs/run/samples/grid-epoch-0001.png", "runs/run/losses.json"} <= stored
    assert len([k for k in stored if k.startswith("runs/run/samples/final/")]) == 3
    losses = json.loads(store.get(bucket, "runs/run/losses.json"))
    assert [s["step"] for s in losses["steps"]] == [1]
    assert all(key in losses["steps"][0] for key in ("d_loss", "g_loss", "d_real", "d_fake"))
    epoch, latest = (store.get(bucket, f"runs/run/checkpoints/{n}.pt") for n in ("epoch-0001", "latest"))
    assert epoch == latest


def trained_payload(cfg: TrainConfig) -> dict[str, Any]:
    pair = make_pair(cfg, cfg.model, 0, torch.device("cpu"))
    real = torch.rand(4, 3, 16, 16) * 2 - 1
    discriminator_step(pair, real, torch.randn(4, cfg.model.nz, 1, 1))
    generator_step(pair, torch.randn(4, cfg.model.nz, 1, 1))
    return payload(cfg, pair, checkpoints.Position(0, 0, "g", 1), None)


def test_checkpoint_round_trip_is_exact(store: Store, bucket: str) -> None:
    data = trained_payload(tiny(bucket))
    checkpoints.save(store, bucket, ["ck/a.pt"], data)
    assert_same(checkpoints.load(store, bucket, "ck/a.pt"), {"format": checkpoints.FORMAT, **data})


def test_large_checkpoint_goes_multipart_and_round_trips(store: Store, bucket: str) -> None:
    big = Store(store.client, multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    data = {"weights": torch.randn(6 * MiB // 4 + 123), "step": 7}
    checkpoints.save(big, bucket, ["ck/big.pt"], data)
    etag = store.client.head_object(Bucket=bucket, Key="ck/big.pt")["ETag"]
    assert etag.strip('"').endswith("-2")  # two parts
    assert_same(checkpoints.load(big, bucket, "ck/big.pt"), {"format": checkpoints.FORMAT, **data})


def test_resume_continues_exactly(store: Store, bucket: str, s3: Any) -> None:
    straight = f"{bucket}-a"
    s3.create_bucket(Bucket=straight)
    train(tiny(straight, epochs=2, num_images=16), store)
    train(tiny(bucket, epochs=1, num_images=16), store)
    resumed = train(tiny(bucket, epochs=2, num_images=16, resume=True), store)
    assert resumed.checkpoint_keys == ["runs/run/checkpoints/epoch-0002.pt"]
    want = checkpoints.load(store, straight, "runs/run/checkpoints/latest.pt")
    assert_same(checkpoints.load(store, bucket, "runs/run/checkpoints/latest.pt"), want)
    assert store.get(bucket, "runs/run/losses.json") == store.get(straight, "runs/run/losses.json")


def test_resume_after_a_discriminator_phase(store: Store, bucket: str) -> None:
    cfg = tiny(bucket, checkpoint_every="phase", num_images=16)
    train(cfg, store)  # 2 iterations: d, g, d, g
    final = checkpoints.load(store, bucket, "runs/run/checkpoints/e0001-i0002-g.pt")
    mid = store.get(bucket, "runs/run/checkpoints/e0001-i0002-d.pt")
    store.put("checkpoints", bucket, cfg.latest_key, mid)  # as if it stopped after that phase
    resumed = train(replace(cfg, resume=True), store)
    assert resumed.checkpoint_keys == ["runs/run/checkpoints/e0001-i0002-g.pt"]
    assert_same(checkpoints.load(store, bucket, cfg.latest_key), final)


def test_finetune_freezes_early_generator_blocks(store: Store, bucket: str) -> None:
    train(tiny(bucket, run="src"), store)
    source = checkpoints.load(store, bucket, "runs/src/checkpoints/epoch-0001.pt")
    cfg = tiny(bucket, run="ft", finetune_from="runs/src/checkpoints/epoch-0001.pt",
               freeze_blocks=2, upload_dataset=False)
    train(cfg, store)
    tuned = checkpoints.load(store, bucket, "runs/ft/checkpoints/epoch-0001.pt")
    assert tuned["frozen_blocks"] == 2
    for name, tensor in source["generator"].items():
        block = int(name.split(".")[1])
        same = torch.equal(tensor, tuned["generator"][name])
        assert same == (block < 2), name
    assert len(tuned["opt_g"]["state"]) < len(source["opt_g"]["state"])


def test_cli_trains_and_prints_losses(live_server: Any, bucket: str) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": live_server.access_key,
           "AWS_SECRET_ACCESS_KEY": live_server.secret_key}
    cmd = [sys.executable, "-m", "benchmarks.gan", "train", "--endpoint-url", live_server.url,
           "--bucket", bucket, "--epochs", "1", "--num-images", "8", "--image-size", "16",
           "--nz", "16", "--ngf", "4", "--ndf", "4", "--batch-size", "4", "--final-samples", "2"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 1 and summary["checkpoints"] == 1
    assert set(summary["last"]) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert "run epoch 1/1: d_loss=" in done.stdout


def test_versioned_run_keeps_every_checkpoint_as_a_version(store: Store, bucket: str, s3: Any) -> None:
    """--versioned: one key, one version per checkpoint, each readable; resume
    starts from the newest version."""
    cfg = tiny(bucket, epochs=2, versioned=True, max_iters_per_epoch=2)
    result = train(cfg, store)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    versions = s3.list_object_versions(Bucket=bucket, Prefix=cfg.run_key("checkpoints/"))["Versions"]
    assert {v["Key"] for v in versions} == {cfg.latest_key} and len(versions) == 2
    recorded = [k.split("?versionId=")[1] for k in result.checkpoint_keys]
    assert recorded == [v["VersionId"] for v in versions][::-1]
    first = checkpoints.deserialize(s3.get_object(Bucket=bucket, Key=cfg.latest_key, VersionId=recorded[0])["Body"].read())
    assert first["position"]["epoch"] == 0
    again = train(replace(cfg, epochs=3, resume=True), store)
    assert len(again.checkpoint_keys) == 1
    assert len(s3.list_object_versions(Bucket=bucket, Prefix=cfg.run_key("checkpoints/"))["Versions"]) == 3
