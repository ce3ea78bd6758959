"""The training loop: k discriminator steps, then one generator step, per iteration.

An epoch is one pass over a seeded permutation of the dataset in batches;
iteration ``i`` uses batches ``i*k .. i*k+k-1`` for its k discriminator steps.
All randomness (permutation, noise) is drawn from generators seeded by
(seed, epoch, iteration, phase), so a resumed run continues exactly as an
uninterrupted one would. Checkpoints go to the store after every epoch or
after every phase, each followed by a ``latest`` copy; after each epoch a
sample grid and the per-step losses; after training, generated images.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm import tqdm

from benchmarks.gan import checkpoints
from benchmarks.gan.batches import StoreImages
from benchmarks.gan.checkpoints import Position
from benchmarks.gan.config import TrainConfig
from benchmarks.gan.data import grid_image, png_bytes, tensor_to_image
from benchmarks.gan.dataset_upload import upload_dataset
from benchmarks.gan.state import Start, initial_state, payload
from benchmarks.gan.steps import discriminator_step, generator_step, noise, seeded
from benchmarks.gan.store import Store


@dataclass
class RunResult:
    """What a run did: its last position, its losses and the keys it wrote."""

    cfg: TrainConfig
    position: Position | None
    steps: list[dict[str, Any]]
    uploaded_images: int
    checkpoint_keys: list[str] = field(default_factory=list)
    sample_keys: list[str] = field(default_factory=list)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def train(cfg: TrainConfig, store: Store) -> RunResult:
    """Run (or resume, or fine-tune) one training job against the store."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    store.ensure_bucket(cfg.bucket)
    if cfg.versioned:
        store.enable_versioning(cfg.bucket)
    uploaded = upload_dataset(cfg, store) if cfg.upload_dataset else 0
    device = pick_device(cfg.device)
    start = initial_state(cfg, store, device)
    trainer = Trainer(start, store, device)
    trainer.result.uploaded_images = uploaded
    trainer.run()
    return trainer.result


class Trainer:
    """Holds one run's state while it trains."""

    def __init__(self, start: Start, store: Store, device: torch.device) -> None:
        self.cfg, self.pair, self.store, self.device = start.cfg, start.pair, store, device
        cfg = self.cfg
        self.images = StoreImages(store, cfg.data_bucket, cfg.data_prefix, cfg.model.image_size, cfg.cache_dir)
        self.batch = min(cfg.batch_size, len(self.images))
        batches = max(1, len(self.images) // self.batch)
        self.iters = max(1, batches // cfg.d_steps)
        if cfg.max_iters_per_epoch:
            self.iters = min(self.iters, cfg.max_iters_per_epoch)
        self.start, self.pending = start.position, start.pending
        self.steps = self._previous_steps()
        self.result = RunResult(cfg, start.position, self.steps, 0)

    def run(self) -> None:
        epoch, first_iter = self._resume_point()
        if self.start is not None and first_iter == 0 and epoch > 0:
            self._epoch_outputs(epoch - 1)  # a crash may have come between checkpoint and these
        for e in range(epoch, self.cfg.epochs):
            self._epoch(e, first_iter if e == epoch else 0)
        self._final_samples()

    def _resume_point(self) -> tuple[int, int]:
        pos = self.start
        if pos is None:
            return 0, 0
        if pos.phase == "d":
            return pos.epoch, pos.iteration
        if pos.phase == "g" and pos.iteration + 1 < self.iters:
            return pos.epoch, pos.iteration + 1
        return pos.epoch + 1, 0

    def _epoch(self, epoch: int, first: int) -> None:
        order = torch.randperm(len(self.images), generator=seeded(self.cfg.seed, "perm", epoch))
        bar = tqdm(
            range(first, self.iters), desc=f"{self.cfg.run} epoch {epoch + 1}/{self.cfg.epochs}",
            disable=not self.cfg.progress, file=sys.stderr, leave=False,
        )
        for it in bar:
            d_stats = self._pending_or_d_phase(epoch, it, order)
            g_loss = self._g_phase(epoch, it)
            self.steps.append({"epoch": epoch, "iteration": it, "step": len(self.steps) + 1, **d_stats, "g_loss": g_loss})
            bar.set_postfix(d=f"{d_stats['d_loss']:.3f}", g=f"{g_loss:.3f}")
        if self.cfg.checkpoint_every == "epoch":
            pos = Position(epoch, self.iters - 1, "epoch", len(self.steps))
            self._checkpoint(self.cfg.epoch_checkpoint_key(epoch + 1), pos, None)
        self._epoch_outputs(epoch)
        self._print_epoch(epoch)

    def _pending_or_d_phase(self, epoch: int, it: int, order: torch.Tensor) -> dict[str, float]:
        if self.pending is not None and self.start is not None and (epoch, it) == (self.start.epoch, self.start.iteration):
            pending, self.pending = self.pending, None
            return pending
        return self._d_phase(epoch, it, order)

    def _d_phase(self, epoch: int, it: int, order: torch.Tensor) -> dict[str, float]:
        cfg, pair = self.cfg, self.pair
        pair.train_mode()
        pair.learn("d")
        losses, reals, fakes = [], [], []
        batches = max(1, len(self.images) // self.batch)
        for j in range(cfg.d_steps):
            b = (it * cfg.d_steps + j) % batches
            idx = order[b * self.batch : (b + 1) * self.batch].tolist()
            real = self.images.batch(idx).to(self.device)
            z = noise(len(idx), cfg.model.nz, seeded(cfg.seed, "d", epoch, it, j), self.device)
            s = discriminator_step(pair, real, z)
            losses.append(s.loss), reals.append(s.real), fakes.append(s.fake)
        stats = {"d_loss": _mean(losses), "d_real": _mean(reals), "d_fake": _mean(fakes)}
        if cfg.checkpoint_every == "phase":
            pos = Position(epoch, it, "d", len(self.steps))
            self._checkpoint(cfg.phase_checkpoint_key(epoch + 1, it + 1, "d"), pos, stats)
        return stats

    def _g_phase(self, epoch: int, it: int) -> float:
        cfg, pair = self.cfg, self.pair
        pair.train_mode()
        pair.learn("g")
        z = noise(self.batch, cfg.model.nz, seeded(cfg.seed, "g", epoch, it), self.device)
        loss = generator_step(pair, z)
        if cfg.checkpoint_every == "phase":
            pos = Position(epoch, it, "g", len(self.steps) + 1)
            self._checkpoint(cfg.phase_checkpoint_key(epoch + 1, it + 1, "g"), pos, None)
        return loss

    def _checkpoint(self, key: str, pos: Position, pending: dict[str, float] | None) -> None:
        data = payload(self.cfg, self.pair, pos, pending)
        if self.cfg.versioned:  # one key; each checkpoint is a new version of it
            checkpoints.save(self.store, self.cfg.bucket, [self.cfg.latest_key], data)
            version = self.store.current_version(self.cfg.bucket, self.cfg.latest_key)
            self.result.checkpoint_keys.append(f"{self.cfg.latest_key}?versionId={version}")
        else:
            checkpoints.save(self.store, self.cfg.bucket, [key, self.cfg.latest_key], data)
            self.result.checkpoint_keys.append(key)
        self.result.position = pos

    def _generate(self, count: int, *tag: object) -> torch.Tensor:
        self.pair.gen.eval()
        with torch.no_grad():
            z = noise(count, self.cfg.model.nz, seeded(self.cfg.seed, *tag), self.device)
            return self.pair.gen(z).cpu()

    def _epoch_outputs(self, epoch: int) -> None:
        grid = png_bytes(grid_image(self._generate(self.cfg.grid_size, "grid")))
        key = self.cfg.run_key(f"samples/grid-epoch-{epoch + 1:04d}.png")
        self.store.put("samples", self.cfg.bucket, key, grid, "image/png")
        self.result.sample_keys.append(key)
        self._write_losses()

    def _final_samples(self) -> None:
        if self.cfg.final_samples <= 0:
            return
        images = self._generate(self.cfg.final_samples, "final")
        items = [
            (self.cfg.run_key(f"samples/final/{i:06d}.png"), png_bytes(tensor_to_image(img)))
            for i, img in enumerate(images)
        ]
        self.store.put_many("samples", self.cfg.bucket, items)
        self.result.sample_keys.extend(key for key, _ in items)

    def _write_losses(self) -> None:
        doc = {"run": self.cfg.run, "seed": self.cfg.seed, "lr": self.cfg.lr, "d_steps": self.cfg.d_steps, "steps": self.steps}
        body = json.dumps(doc, indent=1).encode()
        self.store.put("logs", self.cfg.bucket, self.cfg.run_key("losses.json"), body, "application/json")

    def _previous_steps(self) -> list[dict[str, Any]]:
        if self.start is None or not self.store.exists(self.cfg.bucket, self.cfg.run_key("losses.json")):
            return []
        doc = json.loads(self.store.get(self.cfg.bucket, self.cfg.run_key("losses.json")))
        return [s for s in doc.get("steps", []) if int(s["step"]) <= self.start.step]

    def _print_epoch(self, epoch: int) -> None:
        mine = [s for s in self.steps if s["epoch"] == epoch]
        if not mine or not self.cfg.progress:
            return
        keys = ("d_loss", "g_loss", "d_real", "d_fake")
        means = " ".join(f"{k}={_mean([s[k] for s in mine]):.4f}" for k in keys)
        print(f"{self.cfg.run} epoch {epoch + 1}/{self.cfg.epochs}: {means}", flush=True)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
