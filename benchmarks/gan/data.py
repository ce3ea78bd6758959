"""Images as bytes and tensors: the procedural dataset, local folders, PNG codecs.

The procedural dataset is deterministic: image ``i`` of seed ``s`` is drawn from
a numpy generator seeded with ``(s, i)`` and encoded as PNG by Pillow, so every
upload of "the same dataset" sends byte-identical objects. Each image is a
two-colour gradient background with one to three filled shapes (ellipse,
rectangle, triangle), rendered at 4x and downsampled for smooth edges.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
_SUPERSAMPLE = 4


def procedural_image(index: int, size: int, seed: int = 0) -> Image.Image:
    """Image ``index`` of the procedural dataset, ``size`` x ``size`` RGB."""
    rng = np.random.default_rng([seed, index])
    big = size * _SUPERSAMPLE
    img = _gradient(rng, big)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(1, 4))):
        _shape(draw, rng, big)
    return img.resize((size, size), Image.Resampling.LANCZOS)


def _gradient(rng: np.random.Generator, big: int) -> Image.Image:
    start, end = rng.integers(0, 256, size=(2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:big, 0:big] / max(big - 1, 1)
    t = (np.cos(angle) * xs + np.sin(angle) * ys + 1.0) / 2.0
    pixels = start[None, None, :] * (1 - t[..., None]) + end[None, None, :] * t[..., None]
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB")


def _shape(draw: ImageDraw.ImageDraw, rng: np.random.Generator, big: int) -> None:
    colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
    cx, cy = rng.uniform(0.2, 0.8, size=2) * big
    radius = rng.uniform(0.12, 0.35) * big
    box = (cx - radius, cy - radius, cx + radius, cy + radius)
    kind = int(rng.integers(0, 3))
    if kind == 0:
        draw.ellipse(box, fill=colour)
    elif kind == 1:
        draw.rectangle(box, fill=colour)
    else:
        turn = rng.uniform(0, 2 * np.pi)
        corners = [
            (cx + radius * np.cos(turn + a), cy + radius * np.sin(turn + a))
            for a in (0.0, 2 * np.pi / 3, 4 * np.pi / 3)
        ]
        draw.polygon(corners, fill=colour)


def png_bytes(img: Image.Image) -> bytes:
    """Encode ``img`` as PNG (deterministic for a given Pillow build)."""
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def procedural_dataset(count: int, size: int, seed: int = 0) -> Iterator[tuple[str, bytes]]:
    """(file name, PNG bytes) for each image of the procedural dataset."""
    for i in range(count):
        yield f"{i:06d}.png", png_bytes(procedural_image(i, size, seed))


def folder_dataset(folder: Path) -> Iterator[tuple[str, bytes]]:
    """(relative name, PNG bytes) for every image under ``folder``, sorted.

    PNG files are sent as they are; other formats are converted to PNG.
    """
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        rel = path.relative_to(folder).as_posix()
        if path.suffix.lower() == ".png":
            yield rel, path.read_bytes()
        else:
            with Image.open(path) as img:
                yield rel.rsplit(".", 1)[0] + ".png", png_bytes(img.convert("RGB"))


def decode_image(data: bytes, size: int) -> torch.Tensor:
    """PNG (or any Pillow format) bytes -> float tensor (3, size, size) in [-1, 1].

    Non-square images are centre-cropped before resizing.
    """
    with Image.open(io.BytesIO(data)) as img:
        rgb = img.convert("RGB")
    side = min(rgb.size)
    left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
    rgb = rgb.crop((left, top, left + side, top + side))
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BICUBIC)
    array = np.asarray(rgb, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def tensor_to_image(t: torch.Tensor) -> Image.Image:
    """(3, H, W) tensor in [-1, 1] -> RGB image."""
    array = ((t.detach().cpu().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).numpy(), "RGB")


def grid_image(batch: torch.Tensor, columns: int = 8, pad: int = 2) -> Image.Image:
    """Tile a batch (N, 3, H, W) into one image with ``columns`` per row."""
    n, _, h, w = batch.shape
    cols = min(columns, n)
    rows = (n + cols - 1) // cols
    canvas = Image.new("RGB", (cols * (w + pad) + pad, rows * (h + pad) + pad), (0, 0, 0))
    for i in range(n):
        r, c = divmod(i, cols)
        canvas.paste(tensor_to_image(batch[i]), (pad + c * (w + pad), pad + r * (h + pad)))
    return canvas
