"""Settings of one training run and the object keys it writes.

Key layout inside the run's bucket::

    <dataset_prefix>/<000000>.png               dataset images (maybe another bucket)
    runs/<run>/checkpoints/epoch-0003.pt        per-epoch checkpoints
    runs/<run>/checkpoints/e0003-i0012-d.pt     per-phase checkpoints (d or g)
    runs/<run>/checkpoints/latest.pt            copy of the newest checkpoint
    runs/<run>/samples/grid-epoch-0003.png      sample grid after each epoch
    runs/<run>/samples/final/000000.png         generated images after training
    runs/<run>/losses.json                      per-step losses
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.gan.models import ModelConfig


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes a run. Defaults are the full benchmark's sizes."""

    bucket: str
    run: str = "run"
    epochs: int = 5
    model: ModelConfig = field(default_factory=ModelConfig)
    seed: int = 0
    lr: float = 2e-4
    beta1: float = 0.5
    d_steps: int = 2
    batch_size: int = 32
    max_iters_per_epoch: int | None = None
    checkpoint_every: str = "epoch"
    resume: bool = False
    finetune_from: str | None = None
    freeze_blocks: int = 2
    num_images: int = 2048
    dataset_seed: int = 0
    images_dir: Path | None = None
    dataset_bucket: str | None = None
    dataset_prefix: str | None = None
    upload_dataset: bool = True
    grid_size: int = 64
    final_samples: int = 64
    cache_dir: Path | None = None
    device: str = "auto"
    threads: int | None = None  # torch CPU threads (None: torch's default)
    progress: bool = True
    # every checkpoint to one key (latest_key) of a bucket with S3 versioning on:
    # the store keeps each as a version, instead of one key per checkpoint
    versioned: bool = False

    def __post_init__(self) -> None:
        if self.checkpoint_every not in ("epoch", "phase"):
            raise ValueError("checkpoint_every must be 'epoch' or 'phase'")
        if self.d_steps < 1 or self.epochs < 1 or self.batch_size < 2:
            raise ValueError("need d_steps >= 1, epochs >= 1, batch_size >= 2")

    @property
    def data_bucket(self) -> str:
        return self.dataset_bucket or self.bucket

    @property
    def data_prefix(self) -> str:
        if self.dataset_prefix:
            return self.dataset_prefix.rstrip("/") + "/"
        if self.images_dir is not None:
            return f"datasets/{self.images_dir.name}/"
        size = self.model.image_size
        return f"datasets/procedural-{size}px-{self.num_images}-s{self.dataset_seed}/"

    def run_key(self, name: str) -> str:
        return f"runs/{self.run}/{name}"

    def epoch_checkpoint_key(self, epoch: int) -> str:
        return self.run_key(f"checkpoints/epoch-{epoch:04d}.pt")

    def phase_checkpoint_key(self, epoch: int, iteration: int, phase: str) -> str:
        return self.run_key(f"checkpoints/e{epoch:04d}-i{iteration:04d}-{phase}.pt")

    @property
    def latest_key(self) -> str:
        return self.run_key("checkpoints/latest.pt")
