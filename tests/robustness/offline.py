"""The engine opened directly on a stopped server's data directory: ``check``,
GC and stats, as ``fragstore check / gc / stats`` would run them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from dedup.store import Store
from dedup.types import CheckReport, GcReport, StoreConfig, StoreStats


async def _check(data_dir: Path, config: StoreConfig | None) -> CheckReport:
    store = await Store.open(data_dir, config)
    try:
        return await store.check()
    finally:
        await store.close()


async def _collect(data_dir: Path, config: StoreConfig | None) -> tuple[GcReport, StoreStats, CheckReport]:
    store = await Store.open(data_dir, config)
    try:
        report = await store.collect_garbage(grace_seconds=0)
        return report, await store.stats(exact=True), await store.check()
    finally:
        await store.close()


def check(data_dir: Path, config: StoreConfig | None = None) -> CheckReport:
    """Open (running crash recovery if needed) and check every invariant and fragment
    (``config``: where its packs are, for S3 packs)."""
    return asyncio.run(_check(data_dir, config))


def collect(data_dir: Path, config: StoreConfig | None = None) -> tuple[GcReport, StoreStats, CheckReport]:
    """GC with no grace period, then exact stats and a check."""
    return asyncio.run(_collect(data_dir, config))


def describe(report: CheckReport) -> str:
    return (f"checked={report.fragments_checked} corrupt={len(report.corrupt_fragments)} "
            f"missing={len(report.missing_fragments)} refcount_errors={report.refcount_errors} "
            f"orphans={report.orphan_fragments}")
