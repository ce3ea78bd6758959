"""One discriminator step and one generator step of the classic GAN recipe.

Discriminator: binary cross-entropy on real images (label 1) and generated
ones (label 0). Generator: the non-saturating loss, BCE of the
discriminator's verdict on fresh samples against label 1 ("call them real").
Each network is frozen (``requires_grad`` off) while the other learns; the
generator's permanently frozen blocks (fine-tune) stay frozen throughout.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import torch
from torch import nn

from benchmarks.gan.models import Discriminator, Generator, set_requires_grad

_bce = nn.BCEWithLogitsLoss()


def seeded(*parts: object) -> torch.Generator:
    """A CPU generator seeded from ``parts`` (stable across processes)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest, "big") >> 1)


def noise(count: int, nz: int, rng: torch.Generator, device: torch.device) -> torch.Tensor:
    """Normal noise (count, nz, 1, 1): the generator's input."""
    return torch.randn(count, nz, 1, 1, generator=rng).to(device)


@dataclass
class Pair:
    """The two networks, their optimisers and the generator's frozen prefix."""

    gen: Generator
    disc: Discriminator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    frozen_blocks: int = 0
    trainable_g: list[nn.Parameter] = field(default_factory=list)

    def train_mode(self) -> None:
        """Both nets in training mode, except frozen generator blocks (eval:
        their batch-norm statistics stay as loaded)."""
        self.gen.train()
        self.disc.train()
        for block in list(self.gen.blocks)[: self.frozen_blocks]:
            block.eval()

    def learn(self, net: str) -> None:
        """Unfreeze ``net`` ("d" or "g") and freeze the other."""
        set_requires_grad(self.disc, net == "d")
        set_requires_grad(self.gen, False)
        if net == "g":
            for p in self.trainable_g:
                p.requires_grad_(True)


@dataclass(frozen=True)
class DStats:
    loss: float
    real: float  # mean D(x) on real images
    fake: float  # mean D(G(z)) on generated images


def discriminator_step(pair: Pair, real: torch.Tensor, z: torch.Tensor) -> DStats:
    """One update of the discriminator on a real batch and a generated one."""
    with torch.no_grad():
        fake = pair.gen(z)
    pair.opt_d.zero_grad(set_to_none=True)
    real_logits, fake_logits = pair.disc(real), pair.disc(fake)
    loss = _bce(real_logits, torch.ones_like(real_logits)) + _bce(
        fake_logits, torch.zeros_like(fake_logits)
    )
    loss.backward()
    pair.opt_d.step()
    return DStats(
        loss.item(), torch.sigmoid(real_logits).mean().item(), torch.sigmoid(fake_logits).mean().item()
    )


def generator_step(pair: Pair, z: torch.Tensor) -> float:
    """One update of the generator with the non-saturating loss."""
    pair.opt_g.zero_grad(set_to_none=True)
    logits = pair.disc(pair.gen(z))
    loss = _bce(logits, torch.ones_like(logits))
    loss.backward()
    pair.opt_g.step()
    return loss.item()
