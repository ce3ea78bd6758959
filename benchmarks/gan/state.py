"""Where a run starts: fresh weights, the run's latest checkpoint, or a fine-tune.

- fresh: both networks initialised from the seed, Adam over all parameters;
- ``--resume``: everything (weights, batch-norm statistics, both optimisers,
  position, frozen blocks) from ``runs/<run>/checkpoints/latest.pt``;
- fine-tune: weights from a stored checkpoint, the generator's first
  ``freeze_blocks`` blocks frozen (their batch-norm layers in eval mode), a new
  generator optimiser over the remaining parameters, the discriminator's
  optimiser state carried over; the position starts at zero.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from benchmarks.gan import checkpoints
from benchmarks.gan.checkpoints import Position
from benchmarks.gan.config import TrainConfig
from benchmarks.gan.models import ModelConfig, build
from benchmarks.gan.steps import Pair
from benchmarks.gan.store import Store


@dataclass
class Start:
    """The state a run begins from."""

    cfg: TrainConfig
    pair: Pair
    position: Position | None  # None: nothing done yet
    pending: dict[str, float] | None  # D stats of a half-done iteration (phase "d")


def initial_state(cfg: TrainConfig, store: Store, device: torch.device) -> Start:
    if cfg.resume and store.exists(cfg.bucket, cfg.latest_key):
        return _resumed(cfg, checkpoints.load(store, cfg.bucket, cfg.latest_key), device)
    if cfg.finetune_from:
        bucket, key = checkpoints.parse_location(cfg.finetune_from, cfg.bucket)
        return _finetune(cfg, checkpoints.load(store, bucket, key), device)
    return Start(cfg, make_pair(cfg, cfg.model, 0, device), None, None)


def make_pair(cfg: TrainConfig, model: ModelConfig, frozen: int, device: torch.device) -> Pair:
    gen, disc = build(model, cfg.seed)
    gen, disc = gen.to(device), disc.to(device)
    for block in list(gen.blocks)[:frozen]:
        for p in block.parameters():
            p.requires_grad_(False)
    trainable = [p for block in list(gen.blocks)[frozen:] for p in block.parameters()]
    betas = (cfg.beta1, 0.999)
    opt_g = torch.optim.Adam(trainable, lr=cfg.lr, betas=betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=betas)
    return Pair(gen, disc, opt_g, opt_d, frozen, trainable)


def _resumed(cfg: TrainConfig, ckpt: dict[str, Any], device: torch.device) -> Start:
    model = ModelConfig.from_dict(ckpt["model"])
    pair = make_pair(cfg, model, int(ckpt.get("frozen_blocks", 0)), device)
    _load_weights(pair, ckpt)
    pair.opt_g.load_state_dict(ckpt["opt_g"])
    pair.opt_d.load_state_dict(ckpt["opt_d"])
    pending = ckpt.get("pending")
    return Start(replace(cfg, model=model), pair, Position.from_dict(ckpt["position"]), pending)


def _finetune(cfg: TrainConfig, ckpt: dict[str, Any], device: torch.device) -> Start:
    model = ModelConfig.from_dict(ckpt["model"])
    pair = make_pair(cfg, model, cfg.freeze_blocks, device)
    _load_weights(pair, ckpt)
    pair.opt_d.load_state_dict(ckpt["opt_d"])
    for group in pair.opt_d.param_groups:
        group["lr"] = cfg.lr
    return Start(replace(cfg, model=model), pair, None, None)


def _load_weights(pair: Pair, ckpt: dict[str, Any]) -> None:
    pair.gen.load_state_dict(ckpt["generator"])
    pair.disc.load_state_dict(ckpt["discriminator"])


def payload(cfg: TrainConfig, pair: Pair, position: Position, pending: dict[str, float] | None) -> dict[str, Any]:
    """The dict a checkpoint stores (see :mod:`benchmarks.gan.checkpoints`)."""
    out: dict[str, Any] = {
        "model": cfg.model.to_dict(),
        "generator": pair.gen.state_dict(),
        "discriminator": pair.disc.state_dict(),
        "opt_g": pair.opt_g.state_dict(),
        "opt_d": pair.opt_d.state_dict(),
        "position": position.to_dict(),
        "frozen_blocks": pair.frozen_blocks,
    }
    if pending is not None:
        out["pending"] = pending
    return out
