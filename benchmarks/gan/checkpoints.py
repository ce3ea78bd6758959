"""Checkpoints in the store: ``torch.save`` to memory, managed-transfer upload.

A checkpoint is one ``torch.save`` archive of a dict::

    format         1
    model          ModelConfig as a dict (the architecture)
    generator      generator state_dict
    discriminator  discriminator state_dict
    opt_g, opt_d   Adam state_dicts
    position       {"epoch", "iteration", "phase", "step"}: what is complete
    frozen_blocks  generator blocks frozen by a fine-tune (0 for none)

It is serialised into a ``BytesIO``, never a named file: ``torch.save`` to a
path names the zip's records after the file ("epoch-0003/data/0"), so every
checkpoint would differ in its headers and dedup less. Two saves of the same
state produce the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import torch

from benchmarks.gan.store import Store

FORMAT = 1


@dataclass(frozen=True)
class Position:
    """Training progress a checkpoint captures. ``phase``: ``d`` or ``g`` (that
    phase of ``iteration`` is done) or ``epoch`` (all of ``epoch`` is done).
    ``epoch`` and ``iteration`` count from 0; ``step`` is global iterations done."""

    epoch: int
    iteration: int
    phase: str
    step: int

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "iteration": self.iteration, "phase": self.phase, "step": self.step}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Position:
        return cls(int(raw["epoch"]), int(raw["iteration"]), str(raw["phase"]), int(raw["step"]))


def serialize(payload: dict[str, Any]) -> bytes:
    """``torch.save`` into memory."""
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


def deserialize(data: bytes) -> dict[str, Any]:
    """``torch.load`` from memory onto the CPU (tensors and plain data only)."""
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def save(store: Store, bucket: str, keys: list[str], payload: dict[str, Any]) -> int:
    """Serialise once, upload under every key in ``keys``; returns the size."""
    data = serialize({"format": FORMAT, **payload})
    for key in keys:
        store.put_managed("checkpoints", bucket, key, data)
    return len(data)


def load(store: Store, bucket: str, key: str) -> dict[str, Any]:
    """Download and deserialise one checkpoint."""
    payload = deserialize(store.get_managed(bucket, key))
    if payload.get("format") != FORMAT:
        raise ValueError(f"s3://{bucket}/{key}: not a checkpoint of format {FORMAT}")
    return payload


def parse_location(location: str, default_bucket: str) -> tuple[str, str]:
    """``s3://bucket/key`` or a bare key (in ``default_bucket``) -> (bucket, key)."""
    if location.startswith("s3://"):
        bucket, _, key = location[5:].partition("/")
        if not bucket or not key:
            raise ValueError(f"bad checkpoint location {location!r}")
        return bucket, key
    return default_bucket, location
