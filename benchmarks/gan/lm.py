"""A small transformer language model, pretrained briefly and fine-tuned at a
low learning rate: the checkpoints of issue 15's fine-tune scenario.

The model is a byte-level causal transformer (4 pre-norm layers, width 256,
~3.3 M parameters). It is pretrained on one procedural text (a seeded grammar
of words), saved as bf16 safetensors, then fine-tuned on another with AdamW at
a low learning rate; every ``every`` steps it writes

- ``<run>/step-NNNN/model.safetensors``: the weights in bf16 (what one would
  publish or serve), a single PUT;
- ``<run>/step-NNNN/state.pt``: the full training state, ``torch.save`` of
  the fp32 weights and the AdamW state (what one would resume from), a
  boto3 managed upload (multipart above 8 MiB).

safetensors files are written here from the tensors' bytes (the format is a
little-endian u64 header length, a JSON header and the data): no extra
package.
"""

from __future__ import annotations

import io
import json
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

Save = Callable[[str, bytes, bool], None]
"""(key, bytes, managed): store one file (managed: boto3's managed transfer)."""

WORDS = ("the", "a", "model", "weights", "store", "fragment", "pack", "delta", "checkpoint", "tensor",
         "bucket", "object", "version", "learns", "keeps", "reads", "writes", "small", "large", "every",
         "step", "epoch", "loss", "falls", "rises", "quickly", "slowly", "and", "of", "in")


@dataclass(frozen=True)
class LmSizes:
    width: int = 256
    layers: int = 4
    heads: int = 4
    context: int = 64
    batch: int = 16
    pretrain_steps: int = 60
    finetune_steps: int = 40
    every: int = 5  # fine-tune steps between checkpoints
    pretrain_lr: float = 1e-3
    finetune_lr: float = 2e-5
    threads: int = 1


QUICK_LM = LmSizes(width=32, layers=1, heads=2, context=16, batch=4, pretrain_steps=3, finetune_steps=4, every=2)


class TinyLM(nn.Module):
    def __init__(self, s: LmSizes) -> None:
        super().__init__()
        self.tok = nn.Embedding(256, s.width)
        self.pos = nn.Embedding(s.context, s.width)
        layer = nn.TransformerEncoderLayer(s.width, s.heads, 4 * s.width, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, s.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(s.width)
        self.head = nn.Linear(s.width, 256, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.size(1)
        mask = nn.Transformer.generate_square_subsequent_mask(n)
        h = self.tok(x) + self.pos(torch.arange(n))
        return self.head(self.norm(self.blocks(h, mask=mask, is_causal=True)))


def text(seed: int, size: int) -> bytes:
    """``size`` bytes of a seeded grammar: each seed prefers other words."""
    rng = random.Random(seed)
    weights = [rng.random() ** 3 for _ in WORDS]
    out: list[str] = []
    length = 0
    while length < size:
        sentence = " ".join(rng.choices(WORDS, weights, k=rng.randint(4, 12))).capitalize() + ". "
        out.append(sentence)
        length += len(sentence)
    return "".join(out).encode()[:size]


def batches(data: bytes, s: LmSizes, seed: int) -> Callable[[int], tuple[torch.Tensor, torch.Tensor]]:
    corpus = torch.tensor(list(data), dtype=torch.long)

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed * 100_003 + step)
        starts = torch.randint(0, len(corpus) - s.context - 1, (s.batch,), generator=g)
        x = torch.stack([corpus[i : i + s.context] for i in starts])
        y = torch.stack([corpus[i + 1 : i + s.context + 1] for i in starts])
        return x, y

    return batch


def safetensors_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    """A safetensors file of ``tensors`` (contiguous, in name order)."""
    names = {torch.bfloat16: "BF16", torch.float32: "F32", torch.float16: "F16"}
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    blobs = []
    pos = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.view(torch.uint8).numpy().tobytes() if t.dim() else t.reshape(1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [pos, pos + len(raw)]}
        blobs.append(raw)
        pos += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def bf16_weights(model: nn.Module) -> bytes:
    return safetensors_bytes({k: v.to(torch.bfloat16) for k, v in model.state_dict().items()})


def training_state(model: nn.Module, opt: torch.optim.Optimizer, step: int) -> bytes:
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step}, buf)
    return buf.getvalue()


def parameters(s: LmSizes) -> int:
    torch.manual_seed(0)
    return sum(p.numel() for p in TinyLM(s).parameters())


def run(s: LmSizes, save: Save, run_prefix: str = "lm") -> list[float]:
    """Pretrain, save the base weights, fine-tune with checkpoints; the losses."""
    torch.set_num_threads(s.threads)
    torch.manual_seed(0)
    model = TinyLM(s)
    losses = []
    opt = torch.optim.AdamW(model.parameters(), lr=s.pretrain_lr)
    batch = batches(text(1, 200_000), s, 1)
    for step in range(s.pretrain_steps):
        losses.append(_step(model, opt, batch(step)))
    save(f"{run_prefix}/base/model.safetensors", bf16_weights(model), False)
    opt = torch.optim.AdamW(model.parameters(), lr=s.finetune_lr)
    batch = batches(text(2, 200_000), s, 2)
    for step in range(1, s.finetune_steps + 1):
        losses.append(_step(model, opt, batch(step)))
        if step % s.every == 0:
            save(f"{run_prefix}/finetune/step-{step:04d}/model.safetensors", bf16_weights(model), False)
            save(f"{run_prefix}/finetune/step-{step:04d}/state.pt", training_state(model, opt, step), True)
    return losses


def _step(model: nn.Module, opt: torch.optim.Optimizer, xy: tuple[torch.Tensor, torch.Tensor]) -> float:
    x, y = xy
    loss = nn.functional.cross_entropy(model(x).reshape(-1, 256), y.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    return float(loss.detach())
