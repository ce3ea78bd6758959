"""Choosing and opening the pack store of a data directory (dedup/packstore.py).

``StoreConfig.packs`` says where packs live: "" for pack files under
``<data>/packs`` (the default), ``s3://BUCKET/PREFIX`` for segments in an S3
bucket (dedup/s3packs.py, imported only then: boto3 loads nowhere else),
``rados://POOL/PREFIX`` for segments in a Ceph pool (dedup/radospacks.py).

A data directory created with S3 packs records the URL in ``<data>/PACKS``
(published like FORMAT), and every later open must name the same packs: a
directory whose index points into a bucket is never opened on local packs,
nor the reverse (WrongPackStore). A directory without the file holds local
packs. The file's second line is the directory's random id, which it writes
to ``PREFIX/OWNER`` in the bucket on its first open: a prefix already claimed
by another data directory is refused, since two indexes would number their
segments alike and take each other's for strays.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from dedup.errors import WrongPackStore
from dedup.fsutil import publish_file
from dedup.packs import LocalPacks
from dedup.packstore import PackStore
from dedup.types import StoreConfig

if TYPE_CHECKING:
    from dedup.radospacks import RadosPacks
    from dedup.s3packs import S3Packs

PACKS_FILE = "PACKS"
CACHE_DIR = "cache"


def parse_s3_url(url: str, scheme: str = "s3") -> tuple[str, str]:
    """(bucket, prefix) of ``s3://BUCKET/PREFIX`` (or ``rados://POOL/PREFIX``);
    the prefix "" or ending in "/"."""
    parts = urlsplit(url)
    if parts.scheme != scheme or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"{url!r} is not {scheme}://{'POOL' if scheme == 'rados' else 'BUCKET'}/PREFIX")
    prefix = parts.path.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return parts.netloc, prefix


def normalized(url: str) -> str:
    """The packs setting as recorded: "" (local) or s3://BUCKET/PREFIX/."""
    if not url:
        return ""
    scheme = "rados" if url.startswith("rados://") else "s3"
    bucket, prefix = parse_s3_url(url, scheme)
    return f"{scheme}://{bucket}/{prefix}"


def _lines(root: Path) -> list[str]:
    try:
        return (root / PACKS_FILE).read_text().split()
    except FileNotFoundError:
        return []


def recorded(root: Path) -> str:
    """The packs a data directory was created with ("" for local packs)."""
    lines = _lines(root)
    return lines[0] if lines else ""


def record_packs(root: Path, config: StoreConfig) -> None:
    """Write the PACKS file of a new data directory (none for local packs)."""
    if want := normalized(config.packs):
        publish_file(root / PACKS_FILE, f"{want}\n{uuid.uuid4().hex}\n".encode())


def open_packs(root: Path, config: StoreConfig, *, writer: bool = True) -> PackStore:
    """The pack store of the data directory ``root``. ``writer``: the caller
    writes (a local store probes hole punching by writing a file, and a remote
    one keeps its block cache; read-only use writes nothing)."""
    want = normalized(config.packs)
    have = recorded(root)
    if have != want:
        where = lambda u: u or f"local pack files under {root / 'packs'}"  # noqa: E731
        raise WrongPackStore(f"{root} keeps its packs in {where(have)}, not {where(want)}: "
                             f"set packs to {have or '(empty)'}")
    if not want:
        return LocalPacks(root / "packs", probe=writer)
    packs: S3Packs | RadosPacks
    if want.startswith("rados://"):
        from dedup.radospacks import RadosPacks  # librados only where packs are in RADOS

        packs = RadosPacks(*parse_s3_url(want, "rados"))
    else:
        from dedup.s3packs import S3Packs, S3Target  # boto3 only where packs are in S3

        bucket, prefix = parse_s3_url(want)
        target = S3Target(bucket, prefix, config.packs_endpoint, config.packs_access_key, config.packs_secret_key,
                          config.packs_region)
        packs = S3Packs(target, root / CACHE_DIR / "packs", config.packs_cache_bytes if writer else 0)
    lines = _lines(root)
    try:
        if len(lines) > 1:
            packs.claim(lines[1], write=writer)
    except BaseException:
        packs.close()
        raise
    return packs
