"""Command line of the GAN workload.

    python -m benchmarks.gan train --endpoint-url URL --bucket NAME --epochs N [...]

Credentials come from ``--access-key``/``--secret-key`` or the usual
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` environment variables.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from benchmarks.gan.config import TrainConfig
from benchmarks.gan.models import ModelConfig
from benchmarks.gan.store import Endpoint, MiB, Store
from benchmarks.gan.train import train


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gan", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a DCGAN against the store")
    _store_args(t)
    _model_args(t)
    _training_args(t)
    _data_args(t)
    return p


def _store_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("store")
    g.add_argument("--endpoint-url", required=True)
    g.add_argument("--bucket", required=True)
    g.add_argument("--access-key", default=None)
    g.add_argument("--secret-key", default=None)
    g.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    g.add_argument("--multipart-mb", type=int, default=8, help="managed-transfer threshold and part size")


def _model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--image-size", type=int, default=32)
    g.add_argument("--nz", type=int, default=100, help="noise dimensions")
    g.add_argument("--ngf", type=int, default=32, help="generator width")
    g.add_argument("--ndf", type=int, default=32, help="discriminator width")


def _training_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--run", default="run", help="run name (key prefix runs/<run>/)")
    g.add_argument("--epochs", type=int, default=5)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--lr", type=float, default=2e-4)
    g.add_argument("--d-steps", "-k", type=int, default=2, help="discriminator steps per generator step")
    g.add_argument("--batch-size", type=int, default=32)
    g.add_argument("--max-iters-per-epoch", type=int, default=None)
    g.add_argument("--checkpoint-every", choices=("epoch", "phase"), default="epoch")
    g.add_argument("--versioned", action="store_true",
                   help="write every checkpoint to one key (latest.pt) of a bucket with versioning on")
    g.add_argument("--resume", action="store_true", help="continue from runs/<run>/checkpoints/latest.pt")
    g.add_argument("--finetune-from", default=None, help="checkpoint key or s3://bucket/key")
    g.add_argument("--freeze-blocks", type=int, default=2, help="generator blocks frozen when fine-tuning")
    g.add_argument("--final-samples", type=int, default=64, help="generated images stored after training")
    g.add_argument("--device", default="auto", help="auto, cpu or cuda")
    g.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    g.add_argument("--quiet", action="store_true", help="no progress bars or epoch lines")


def _data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("dataset")
    g.add_argument("--num-images", type=int, default=2048, help="size of the procedural dataset")
    g.add_argument("--dataset-seed", type=int, default=0)
    g.add_argument("--images-dir", type=Path, default=None, help="a local folder of images instead")
    g.add_argument("--dataset-bucket", default=None, help="bucket holding the dataset (default --bucket)")
    g.add_argument("--dataset-prefix", default=None)
    g.add_argument("--no-upload", action="store_true", help="the dataset is already in the store")
    g.add_argument("--cache-dir", type=Path, default=None, help="keep downloaded images here too")


def config_from(args: argparse.Namespace) -> TrainConfig:
    model = ModelConfig(image_size=args.image_size, nz=args.nz, ngf=args.ngf, ndf=args.ndf)
    return TrainConfig(
        bucket=args.bucket, run=args.run, epochs=args.epochs, model=model, seed=args.seed,
        lr=args.lr, d_steps=args.d_steps, batch_size=args.batch_size,
        max_iters_per_epoch=args.max_iters_per_epoch, checkpoint_every=args.checkpoint_every,
        resume=args.resume, finetune_from=args.finetune_from, freeze_blocks=args.freeze_blocks,
        num_images=args.num_images, dataset_seed=args.dataset_seed, images_dir=args.images_dir,
        dataset_bucket=args.dataset_bucket, dataset_prefix=args.dataset_prefix,
        upload_dataset=not args.no_upload, final_samples=args.final_samples,
        cache_dir=args.cache_dir, device=args.device, threads=args.threads, progress=not args.quiet,
        versioned=args.versioned,
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    cfg = config_from(args)
    endpoint = Endpoint(args.endpoint_url, args.access_key, args.secret_key, args.region)
    part = args.multipart_mb * MiB
    store = Store(endpoint.client(), multipart_threshold=part, multipart_chunksize=part)
    result = train(cfg, store)
    last = result.steps[-1] if result.steps else {}
    summary = {
        "run": cfg.run, "bucket": cfg.bucket, "steps": len(result.steps),
        "uploaded_images": result.uploaded_images, "checkpoints": len(result.checkpoint_keys),
        "last": {k: last[k] for k in ("d_loss", "g_loss", "d_real", "d_fake") if k in last},
    }
    print(json.dumps(summary))
    return 0
