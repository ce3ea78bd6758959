"""Fragment codecs, measured: ratio and speed of each compression policy.

    python -m benchmarks.codecs [--quick] [--rounds N]

Data: random bytes; PNG-like bytes (deflate over noisy pixels); a float32 GAN
checkpoint (``torch.save`` of generator, discriminator and both Adam states
after a few steps, into memory, as the GAN benchmark stores them); the same
weights in bf16; text. Each is cut into fragments with the store's chunker
parameters, at their offsets in the object.

Figures, per data set and policy, from the CPU time of the measuring thread
(best of ``--rounds``: the machine may be shared, and CPU time is steadier
than wall time there; on an idle machine the two agree):

- ratio: raw bytes / stored bytes (codec output; record headers left out);
- encode, decode: MB/s of raw bytes through ``codecs.encode`` / ``decode``;
- put: MB/s of the PUT pipeline modelled from its stages' costs, MD5 in one
  thread beside FastCDC + BLAKE3 + encode in another (dedup/ingest.py with
  the codec called where fragments are hashed), and its share of "off";
  "own" is the share if encode ran in threads of its own instead;
- get: MB/s of decode + BLAKE3 per fragment (dedup/reader.py), and its share
  of "off" (a floor: reading packs and HTTP add the same cost to both).

Then the storage ratio of per-epoch checkpoints of one GAN run: every
fragment stored once (dedup across epochs) in its policy's form, plus the
48-byte record header, against the raw bytes of all checkpoints.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import time
import zlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import blake3
import torch

from benchmarks.gan.models import ModelConfig, build
from benchmarks.gan.steps import Pair, discriminator_step, generator_step
from dedup import codecs, predict
from dedup.chunking import ChunkerParams, cut_points
from dedup.format import HEADER_SIZE
from dedup.types import StoreConfig

MB = 1e6
BATCH = 4 << 20
Fragments = list[tuple[int, memoryview]]


def chunker() -> ChunkerParams:
    cfg = StoreConfig()
    return ChunkerParams(cfg.min_fragment, cfg.avg_fragment, cfg.max_fragment)


def fragments(data: bytes) -> Fragments:
    ends, _ = cut_points(memoryview(data), chunker(), True)
    out, start = [], 0
    for end in ends:
        out.append((start, memoryview(data)[start:end]))
        start = end
    return out


# -- data ------------------------------------------------------------------------
def png_like(size: int) -> bytes:
    """Deflate over noisy pixels (40% of them one grey), as in a PNG."""
    grey = bytes(128 if v < 102 else v for v in range(256))
    pixels = random.Random(1).randbytes(2 * size).translate(grey)
    return zlib.compress(pixels, 6)[:size]


def gan_checkpoints(epochs: int, steps: int, width: int) -> tuple[list[bytes], bytes]:
    """Checkpoints of one small GAN run after each epoch (random images), and
    the last one's weights in bf16."""
    torch.manual_seed(0)
    cfg = ModelConfig(image_size=32, ngf=width, ndf=width)
    gen, disc = build(cfg, 0)
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
    pair = Pair(gen, disc, opt_g, opt_d, 0, list(gen.parameters()))
    out = []
    for _ in range(epochs):
        for _ in range(steps):
            real = torch.rand(16, 3, 32, 32) * 2 - 1
            pair.learn("d")
            discriminator_step(pair, real, torch.randn(16, cfg.nz, 1, 1))
            pair.learn("g")
            generator_step(pair, torch.randn(16, cfg.nz, 1, 1))
        state = {"model": cfg.to_dict(), "generator": gen.state_dict(), "discriminator": disc.state_dict(),
                 "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict()}
        out.append(saved(state))  # now: state_dict() holds the live tensors
    return out, saved(bf16(state))


def saved(obj: object) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def bf16(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    out = {}
    for net in ("generator", "discriminator"):
        out.update({f"{net}.{k}": v.to(torch.bfloat16) for k, v in state[net].items() if v.is_floating_point()})
    return out


def text(size: int) -> bytes:
    rng = random.Random(2)
    words = [b"epoch", b"step", b"loss", b"generator", b"discriminator", b"lr", b"ok", b"real", b"fake"]
    lines = (b" ".join(rng.choice(words) + b"=%d" % rng.randrange(10**rng.randrange(1, 6)) for _ in range(8))
             for _ in range(size // 40))
    return b"\n".join(lines)[:size]


# -- measurements ----------------------------------------------------------------
def cpu_seconds(rounds: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.thread_time()
        run()
        best = min(best, time.thread_time() - start)
    return best


def encode_all(policy: str, frags: Fragments) -> list[tuple[int, bytes | memoryview]]:
    return [codecs.encode(policy, raw, off) for off, raw in frags]


def decode_all(stored: list[tuple[int, bytes | memoryview]]) -> None:
    for codec, data in stored:
        codecs.decode(codec, memoryview(data))


def pipeline_costs(data: bytes, frags: Fragments, rounds: int) -> tuple[float, float]:
    """CPU seconds of MD5 over the data, and of FastCDC + BLAKE3."""
    view = memoryview(data)
    batches = [view[i : i + BATCH] for i in range(0, len(data), BATCH)]
    md5 = cpu_seconds(rounds, lambda: [hashlib.md5(b).digest() for b in batches])
    cdc = cpu_seconds(rounds, lambda: [cut_points(b, chunker(), True) for b in batches])
    b3 = cpu_seconds(rounds, lambda: [blake3.blake3(raw).digest() for _, raw in frags])
    return md5, cdc + b3


def measure(name: str, data: bytes, rounds: int) -> None:
    frags = fragments(data)
    size = len(data) / MB
    md5, hashing = pipeline_costs(data, frags, rounds)
    b3 = cpu_seconds(rounds, lambda: [blake3.blake3(raw).digest() for _, raw in frags])
    put_off, get_off = size / max(md5, hashing), size / b3
    for policy in codecs.POLICIES:
        stored = encode_all(policy, frags)
        for (off, raw), (codec, out) in zip(frags, stored, strict=True):
            assert bytes(codecs.decode(codec, memoryview(out))) == raw, (name, policy, off)
        ratio = len(data) / sum(len(out) for _, out in stored)
        enc = cpu_seconds(1 if policy == "max" else rounds, lambda p=policy: encode_all(p, frags))  # type: ignore[misc]
        dec = cpu_seconds(rounds, lambda s=stored: decode_all(s))  # type: ignore[misc]
        put = size / max(md5, hashing + enc)
        own = size / max(md5, hashing, enc)
        get = size / (b3 + dec)
        mix = ",".join(f"{c}:{n}" for c, n in sorted(Counter(c for c, _ in stored).items()))
        print(f"{name:9s} {policy:4s} {ratio:6.3f} {size / enc:8.0f} {size / dec:8.0f}"
              f" {put:5.0f} {put / put_off:5.2f}x {own / put_off:5.2f}x {get:6.0f} {get / get_off:5.2f}x  {mix}")


def epochs_ratio(checkpoints: list[bytes]) -> None:
    raw_total = sum(map(len, checkpoints))
    for policy in codecs.POLICIES:
        seen: set[bytes] = set()
        stored = 0
        for data in checkpoints:
            for off, raw in fragments(data):
                digest = blake3.blake3(raw).digest()
                if digest not in seen:
                    seen.add(digest)
                    stored += HEADER_SIZE + len(codecs.encode(policy, raw, off)[1])
        print(f"  {policy:4s} {raw_total / stored:6.3f}  ({raw_total / MB:.1f} MB in {stored / MB:.1f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    size = (4 if args.quick else 16) << 20
    torch.set_num_threads(1)
    checkpoints, last_bf16 = gan_checkpoints(args.epochs, 2 if args.quick else 5, 16 if args.quick else 32)
    data = {
        "random": random.Random(0).randbytes(size),
        "png-like": png_like(size),
        "float32": checkpoints[-1],
        "bf16": last_bf16,
        "text": text(size // 4),
    }
    print(f"zstandard {codecs.zstd.__version__}; numpy plane shuffle: {predict.numpy is not None}")
    print(f"{'data':9s} {'pol':4s} {'ratio':>6s} {'enc MB/s':>8s} {'dec MB/s':>8s} {'put MB/s, share':>18s}"
          f" {'own':>6s} {'get MB/s, share':>13s}  codecs (id:fragments)")
    for name, blob in data.items():
        measure(name, blob, rounds)
    print(f"\nper-epoch GAN checkpoints, {len(checkpoints)} epochs, dedup + codec + record headers:")
    epochs_ratio(checkpoints)


if __name__ == "__main__":
    main()
