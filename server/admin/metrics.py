"""Prometheus metrics, served at ``GET /_fragstore/metrics``.

Request metrics are counted as requests finish (server/admin/observe.py): requests
by S3 operation and status, a latency histogram, bytes in and out. GC runs
are counted by server/admin/gcloop.py, lifecycle runs and their actions by
server/admin/lifecycleloop.py. The store's figures (logical and stored
bytes, ratios, fragments, packs, the writer's queue depth) are read from
``Store.stats()`` at scrape time, by a collector made for that scrape, so
nothing is updated on the request path for them.

Operation labels are the AWS operation names fragstore serves; every other
request (unimplemented or unroutable) counts as ``Other``, so a client cannot
grow the label set.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import prometheus_client
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from dedup.packstore import PackFigures
from dedup.store import Store
from dedup.types import GcReport, StoreStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the text format every Prometheus reads
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
OTHER = "Other"
WRITES = frozenset({"PutObject", "UploadPart", "PostObject"})  # their bodies are object bytes written

prometheus_client.disable_created_metrics()  # no *_created series: half the lines, no information


@dataclass(frozen=True)
class _Series:
    """The label children one (operation, status) pair updates."""

    requests: Counter
    latency: Histogram
    bytes_in: Counter
    bytes_out: Counter


class Metrics:
    """The server's metrics registry (one per app)."""

    def __init__(self, operations: Iterable[str]) -> None:
        self.operations = frozenset(operations)
        r = self.registry = CollectorRegistry()
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.requests = Counter("fragstore_requests", "Requests answered, by S3 operation and HTTP status.",
                                ["operation", "status"], registry=r)
        self.latency = Histogram("fragstore_request_duration_seconds",
                                 "Time from a request's arrival to the last byte of its answer.",
                                 ["operation"], buckets=LATENCY_BUCKETS, registry=r)
        self.bytes_in = Counter("fragstore_received_bytes", "Request body bytes received.", ["operation"], registry=r)
        self.bytes_out = Counter("fragstore_sent_bytes", "Response body bytes sent.", ["operation"], registry=r)
        self.in_flight = Gauge("fragstore_requests_in_flight", "Requests being served now.", registry=r)
        self.gc_runs = Counter("fragstore_gc_runs", "Garbage collections finished (dry runs not counted), by trigger.",
                               ["trigger"], registry=r)
        self.gc_failures = Counter("fragstore_gc_failures", "Garbage collections that failed, by trigger.",
                                   ["trigger"], registry=r)
        self.gc_freed_bytes = Counter("fragstore_gc_freed_bytes", "Fragment bytes freed by GC.", registry=r)
        self.gc_freed_fragments = Counter("fragstore_gc_freed_fragments", "Fragments freed by GC.", registry=r)
        self.gc_disk_bytes = Counter("fragstore_gc_reclaimed_disk_bytes", "Disk space GC gave back (pack files).",
                                     registry=r)
        self.gc_last = Gauge("fragstore_gc_last_run_timestamp_seconds", "When the last GC finished (Unix time).",
                             registry=r)
        self.lifecycle_runs = Counter("fragstore_lifecycle_runs", "Lifecycle runs finished, by trigger.",
                                      ["trigger"], registry=r)
        self.lifecycle_failures = Counter("fragstore_lifecycle_failures", "Lifecycle runs that failed, by trigger.",
                                          ["trigger"], registry=r)
        self.lifecycle_actions = Counter("fragstore_lifecycle_actions",
                                         "Lifecycle actions taken, by the AWS action that took them.",
                                         ["action"], registry=r)
        self.lifecycle_last = Gauge("fragstore_lifecycle_last_run_timestamp_seconds",
                                    "When the last lifecycle run finished (Unix time).", registry=r)
        self.written = Counter("fragstore_written_bytes",
                               "Object body bytes received by PutObject, UploadPart, PostObject and console uploads.",
                               registry=r)
        self.written_bytes = 0  # the same count, read by the savings history (server/admin/history.py)
        self._series: dict[tuple[str, int], _Series] = {}

    def label(self, operation: str) -> str:
        return operation if operation in self.operations else OTHER

    def observe(self, operation: str, status: int, seconds: float, bytes_in: int, bytes_out: int) -> None:
        """Count one finished request."""
        op = self.label(operation)
        series = self._series.get((op, status))
        if series is None:  # labels() costs a lock and a dict walk: once per (operation, status)
            series = self._series[(op, status)] = _Series(
                self.requests.labels(op, str(status)), self.latency.labels(op),
                self.bytes_in.labels(op), self.bytes_out.labels(op))
        series.requests.inc()
        series.latency.observe(seconds)
        if bytes_in:
            series.bytes_in.inc(bytes_in)
            if op in WRITES:
                self.count_written(bytes_in)
        if bytes_out:
            series.bytes_out.inc(bytes_out)

    def count_written(self, nbytes: int) -> None:
        """Object body bytes received (the console counts its uploads here too)."""
        self.written.inc(nbytes)
        self.written_bytes += nbytes

    def gc_done(self, report: GcReport, trigger: str) -> None:
        if report.dry_run:
            return
        self.gc_runs.labels(trigger).inc()
        self.gc_freed_bytes.inc(report.bytes_freed)
        self.gc_freed_fragments.inc(report.fragments_freed)
        self.gc_disk_bytes.inc(report.bytes_reclaimed_on_disk)
        self.gc_last.set_to_current_time()

    async def exposition(self, store: Store, per_bucket: bool = False) -> bytes:
        """The text a scrape answers: the registry, then the store's figures now."""
        scrape = CollectorRegistry(auto_describe=False)
        scrape.register(StoreCollector(await store.stats(), store.writer_queue_depth(), per_bucket))
        scrape.register(IndexCollector(store.index_backend, store.index_counters()))
        scrape.register(PackCollector(store.packs.figures()))
        return generate_latest(self.registry) + generate_latest(scrape)


class StoreCollector(Collector):
    """Gauges from one ``StoreStats`` snapshot."""

    def __init__(self, stats: StoreStats, queue_depth: int, per_bucket: bool) -> None:
        self.stats = stats
        self.queue_depth = queue_depth
        self.per_bucket = per_bucket

    def collect(self) -> Iterator[GaugeMetricFamily]:
        s = self.stats
        plain = (
            ("objects", "Objects stored.", s.objects),
            ("buckets", "Buckets.", len(s.buckets)),
            ("logical_bytes", "Sum of the sizes of all objects.", s.logical_bytes),
            ("unique_bytes", "Bytes of the distinct fragments (after dedup, before compression).", s.unique_bytes),
            ("stored_bytes", "Bytes of the distinct fragments as stored (compressed, with record headers).",
             s.stored_bytes),
            ("disk_bytes", "Bytes on disk: pack files plus the index.", s.disk_bytes),
            ("pack_file_bytes", "Bytes of the pack files.", s.pack_bytes),
            ("index_bytes", "Bytes of the index.", s.index_bytes),
            ("fragments", "Distinct fragments stored.", s.fragments),
            ("packs", "Pack files.", s.packs),
            ("dedup_ratio", "Logical bytes / unique fragment bytes.", s.dedup_ratio),
            ("compression_ratio", "Unique fragment bytes / stored bytes.", s.compression_ratio),
            ("logical_to_disk_ratio", "Logical bytes / bytes on disk.", s.total_ratio),
            ("writer_queue_depth", "Jobs waiting for the writer thread.", self.queue_depth),
        )
        for name, doc, value in plain:
            yield GaugeMetricFamily(f"fragstore_{name}", doc, value=value)
        if not self.per_bucket:
            return
        objects = GaugeMetricFamily("fragstore_bucket_objects", "Objects per bucket.", labels=["bucket"])
        logical = GaugeMetricFamily("fragstore_bucket_logical_bytes", "Logical bytes per bucket.", labels=["bucket"])
        for bucket in s.buckets:
            objects.add_metric([bucket.name], bucket.objects)
            logical.add_metric([bucket.name], bucket.logical_bytes)
        yield objects
        yield logical


class IndexCollector(Collector):
    """The index store's running totals, labelled with its backend (lmdb, postgresql):
    transactions by kind, errors, and the seconds write transactions waited for
    and held the writers' lock (with many gateways, the lock they take turns on)."""

    def __init__(self, backend: str, counters: Mapping[str, float]) -> None:
        self.backend = backend
        self.counters = counters

    def collect(self) -> Iterator[CounterMetricFamily]:
        c = self.counters
        if not c:
            return
        txns = CounterMetricFamily("fragstore_index_transactions", "Index transactions begun, by kind.",
                                   labels=["backend", "kind"])
        for kind in ("read", "write"):
            txns.add_metric([self.backend, kind], c.get(f"{kind}_transactions", 0))
        yield txns
        for name, doc in (("errors", "Index operations that failed (the database refused or was not reached)."),
                          ("write_wait_seconds", "Seconds write transactions waited for the writers' lock."),
                          ("write_held_seconds", "Seconds write transactions held the writers' lock.")):
            family = CounterMetricFamily(f"fragstore_index_{name}", doc, labels=["backend"])
            family.add_metric([self.backend], c.get(name, 0))
            yield family


class PackCollector(Collector):
    """The pack store's requests, errors, time and cache, by backend and request kind."""

    def __init__(self, figures: PackFigures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        f = self.figures
        labels = ["backend", "op"]
        requests = CounterMetricFamily("fragstore_pack_store_requests", "Requests to the pack store.", labels=labels)
        errors = CounterMetricFamily("fragstore_pack_store_errors", "Pack store requests that failed.", labels=labels)
        seconds = CounterMetricFamily("fragstore_pack_store_seconds",
                                      "Seconds spent in pack store requests (latency: this / requests).",
                                      labels=labels)
        for op in f.ops:
            requests.add_metric([f.kind, op.op], op.count)
            errors.add_metric([f.kind, op.op], op.errors)
            seconds.add_metric([f.kind, op.op], op.seconds)
        yield requests
        yield errors
        yield seconds
        hits = CounterMetricFamily("fragstore_pack_cache_hits", "Pack cache blocks found.", labels=["backend"])
        hits.add_metric([f.kind], f.cache_hits)
        misses = CounterMetricFamily("fragstore_pack_cache_misses", "Pack cache blocks fetched.", labels=["backend"])
        misses.add_metric([f.kind], f.cache_misses)
        cached = GaugeMetricFamily("fragstore_pack_cache_bytes", "Bytes in the pack cache.", labels=["backend"])
        cached.add_metric([f.kind], f.cache_bytes)
        yield hits
        yield misses
        yield cached
