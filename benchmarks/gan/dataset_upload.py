"""Put the training dataset into the store as individual PNG objects.

Only keys not already under the dataset prefix are sent, so a resumed run (or
a second run on the same bucket) does not upload twice; a new bucket gets its
own full copy, as a team's new experiment would.
"""

from __future__ import annotations

from collections.abc import Iterator

from benchmarks.gan.config import TrainConfig
from benchmarks.gan.data import folder_dataset, procedural_dataset
from benchmarks.gan.store import Store


def dataset_items(cfg: TrainConfig) -> Iterator[tuple[str, bytes]]:
    """(relative name, PNG bytes) of the configured dataset."""
    if cfg.images_dir is not None:
        return folder_dataset(cfg.images_dir)
    return procedural_dataset(cfg.num_images, cfg.model.image_size, cfg.dataset_seed)


def upload_dataset(cfg: TrainConfig, store: Store) -> int:
    """Upload the images missing from ``cfg.data_bucket/cfg.data_prefix``; returns how many."""
    store.ensure_bucket(cfg.data_bucket)
    prefix = cfg.data_prefix
    present = {key for key, _, _ in store.list(cfg.data_bucket, prefix)}
    missing = (
        (prefix + name, data) for name, data in dataset_items(cfg) if prefix + name not in present
    )
    return store.put_many("dataset", cfg.data_bucket, missing)
