"""DCGAN-style generator and discriminator for small square images.

Both networks are built from "blocks" so that the fine-tune mode can freeze the
generator's early blocks by index. Image sizes are powers of two >= 8; the
generator upsamples a ``nz``-dimensional normal noise vector (as a 1x1 map)
to ``image_size`` x ``image_size`` RGB in [-1, 1].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    """Sizes that fix the architecture (stored in every checkpoint)."""

    image_size: int = 32
    nz: int = 100
    ngf: int = 32
    ndf: int = 32
    channels: int = 3

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, int]) -> ModelConfig:
        return cls(**{k: int(v) for k, v in raw.items() if k in cls.__dataclass_fields__})


def _levels(image_size: int) -> int:
    """Number of 2x up/down-sampling stages between 4x4 and ``image_size``."""
    if image_size < 8 or image_size & (image_size - 1):
        raise ValueError(f"image size must be a power of two >= 8, got {image_size}")
    return image_size.bit_length() - 3


class Generator(nn.Module):
    """Noise (N, nz, 1, 1) -> images (N, C, S, S) with tanh output."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        levels = _levels(cfg.image_size)
        width = cfg.ngf * 2 ** (levels - 1)
        blocks: list[nn.Module] = [_up_block(cfg.nz, width, stride=1, padding=0)]
        for _ in range(levels - 1):
            blocks.append(_up_block(width, width // 2, stride=2, padding=1))
            width //= 2
        blocks.append(nn.Sequential(nn.ConvTranspose2d(width, cfg.channels, 4, 2, 1, bias=False), nn.Tanh()))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.blocks(z)


class Discriminator(nn.Module):
    """Images (N, C, S, S) -> one logit per image (N,)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        levels = _levels(cfg.image_size)
        width = cfg.ndf
        blocks: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(cfg.channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2))
        ]
        for _ in range(levels - 1):
            blocks.append(_down_block(width, width * 2))
            width *= 2
        blocks.append(nn.Conv2d(width, 1, 4, 1, 0, bias=False))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x).flatten()


def _up_block(cin: int, cout: int, stride: int, padding: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, 4, stride, padding, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(True),
    )


def _down_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)
    )


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv ~ N(0, 0.02), batch-norm scale ~ N(1, 0.02)."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build(cfg: ModelConfig, seed: int) -> tuple[Generator, Discriminator]:
    """Both networks, initialised deterministically from ``seed``."""
    torch.manual_seed(seed)
    gen, disc = Generator(cfg), Discriminator(cfg)
    gen.apply(init_weights)
    disc.apply(init_weights)
    return gen, disc


def set_requires_grad(net: nn.Module, flag: bool) -> None:
    """Freeze (False) or unfreeze (True) every parameter of ``net``."""
    for p in net.parameters():
        p.requires_grad_(flag)
