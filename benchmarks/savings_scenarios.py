"""The six scenarios of the savings benchmark, run through the GAN workload.

1. ``one-run``: dataset upload, a training run with per-epoch checkpoints
   (and a ``latest`` copy each time), sample grids, final samples, losses.
2. ``sweep``: three more runs (two other seeds, one other learning rate), each
   uploading its own copy of the same dataset to its own bucket.
3. ``phase-checkpoints``: a run that checkpoints after every discriminator
   phase and every generator phase (reads scenario 1's dataset).
4. ``fine-tune``: from scenario 1's last checkpoint, generator's first blocks
   frozen (reads scenario 1's dataset).
5. ``re-upload``: every file of scenario 1 uploaded again under new keys.
6. ``versioned``: a run like scenario 1 (another seed, so other weights) that
   writes every checkpoint to one key of a bucket with S3 versioning on: the
   disk cost of K versions of one key, to set beside K separate keys.
7. ``lm-fine-tune``: a small transformer language model (benchmarks/gan/lm.py)
   pretrained briefly, then fine-tuned at a low learning rate with a
   checkpoint every few steps: bf16 safetensors weights (kind ``weights``,
   single PUTs) and the full training state, fp32 weights and AdamW
   (``torch.save``, kind ``state``, boto3 managed uploads: multipart above
   8 MiB).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from benchmarks.gan import lm
from benchmarks.gan.config import TrainConfig
from benchmarks.gan.models import ModelConfig
from benchmarks.gan.store import Store
from benchmarks.gan.train import train
from benchmarks.savings_baselines import files_under
from benchmarks.savings_meter import Meter


@dataclass(frozen=True)
class Sizes:
    """How big the benchmark is (stated in the report)."""

    image_size: int
    num_images: int
    width: int  # ngf = ndf
    batch_size: int
    epochs: int
    phase_iters: int
    finetune_epochs: int
    freeze_blocks: int
    final_samples: int
    grid_size: int
    threads: int  # torch CPU threads: 1 leaves the other core to the server

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


FULL = Sizes(32, 2048, 32, 32, 4, 5, 3, 2, 64, 64, 1)
QUICK = Sizes(16, 16, 8, 8, 1, 2, 1, 2, 4, 16, 1)

SCENARIOS = ("1-one-run", "2-sweep", "3-phase-checkpoints", "4-fine-tune", "5-re-upload", "6-versioned",
             "7-lm-fine-tune")
LM_BUCKET = "lm-fine-tune"
SWEEP = ((1, 2e-4), (2, 2e-4), (0, 1e-4))  # (seed, learning rate)


@dataclass(frozen=True)
class Context:
    store: Store
    meter: Meter
    sizes: Sizes
    progress: bool = False


def base_config(ctx: Context, bucket: str, run: str) -> TrainConfig:
    s = ctx.sizes
    model = ModelConfig(image_size=s.image_size, ngf=s.width, ndf=s.width)
    return TrainConfig(
        bucket=bucket, run=run, epochs=s.epochs, model=model, batch_size=s.batch_size,
        num_images=s.num_images, final_samples=s.final_samples, grid_size=s.grid_size,
        progress=ctx.progress, threads=s.threads,
    )


def one_run(ctx: Context) -> None:
    train(base_config(ctx, "base", "base"), ctx.store)


def sweep(ctx: Context) -> None:
    for i, (seed, lr) in enumerate(SWEEP, start=1):
        cfg = replace(base_config(ctx, f"sweep-{i}", f"sweep-{i}"), seed=seed, lr=lr)
        train(cfg, ctx.store)


def phase_checkpoints(ctx: Context) -> None:
    cfg = replace(
        base_config(ctx, "phase", "phase"), epochs=1, checkpoint_every="phase",
        max_iters_per_epoch=ctx.sizes.phase_iters, dataset_bucket="base", upload_dataset=False,
    )
    train(cfg, ctx.store)


def fine_tune(ctx: Context) -> None:
    source = base_config(ctx, "base", "base")
    cfg = replace(
        base_config(ctx, "finetune", "finetune"), epochs=ctx.sizes.finetune_epochs, lr=1e-4,
        finetune_from=f"s3://base/{source.epoch_checkpoint_key(source.epochs)}",
        freeze_blocks=ctx.sizes.freeze_blocks, dataset_bucket="base", upload_dataset=False,
    )
    train(cfg, ctx.store)


def re_upload(ctx: Context) -> None:
    """Scenario 1's files, byte for byte, under new keys in a new bucket."""
    ctx.store.ensure_bucket("copy")
    for kind in ("dataset", "checkpoints", "samples", "logs"):
        root = ctx.meter.kind_dir(SCENARIOS[0], kind)
        if not root.exists():
            continue
        items = [(f"copy/{p.relative_to(root).as_posix()}", p.read_bytes()) for p in files_under(root)]
        if kind == "checkpoints":
            for key, data in items:
                ctx.store.put_managed(kind, "copy", key, data)
        else:
            ctx.store.put_many(kind, "copy", items)


def versioned(ctx: Context) -> None:
    """Scenario 1's training (seed 3: weights of its own), every checkpoint a
    new version of one key."""
    cfg = replace(base_config(ctx, "versioned", "versioned"), seed=3, versioned=True,
                  dataset_bucket="base", upload_dataset=False)
    train(cfg, ctx.store)


def lm_sizes(sizes: Sizes) -> lm.LmSizes:
    return lm.QUICK_LM if sizes == QUICK else lm.LmSizes()


def lm_fine_tune(ctx: Context) -> None:
    """The LM's checkpoints: weights as single PUTs, training state managed."""
    ctx.store.ensure_bucket(LM_BUCKET)

    def save(key: str, data: bytes, managed: bool) -> None:
        if managed:
            ctx.store.put_managed("state", LM_BUCKET, key, data)
        else:
            ctx.store.put("weights", LM_BUCKET, key, data)

    lm.run(lm_sizes(ctx.sizes), save)


RUNNERS: dict[str, Callable[[Context], None]] = dict(
    zip(SCENARIOS, (one_run, sweep, phase_checkpoints, fine_tune, re_upload, versioned, lm_fine_tune), strict=True)
)
