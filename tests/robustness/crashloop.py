"""The kill loop: drive the real server with :mod:`loadgen`, SIGKILL it at a
random moment, restart it, and check that nothing acknowledged was lost.

Each round: load for a random time, SIGKILL mid-traffic, restart (the server
recovers by itself), read every key back through the S3 API against the
ledger, stop the server (SIGTERM) and run the engine's ``check`` on the data
directory; every few rounds a GC. At the end: abort leftover multipart
uploads, GC, and compare the bytes kept with what the live objects need
(nothing more); then delete everything, GC again, and count what is left.
Used by tests/robustness/test_robust_crash.py (short) and benchmarks/soak.py.
With ``FRAGSTORE_INDEX`` in ``env`` and ``index`` in ``config`` the server is a
gateway of cluster mode and the offline checks open the same index.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dedup.types import StoreConfig
from tests.live_server import LiveServer, start_server
from tests.robustness import offline
from tests.robustness.ledger import Ledger
from tests.robustness.loadgen import CLIENT_CONFIG, Load, LoadShape
from tests.robustness.verify import Findings, verify

BUCKET = "crash-loop"


@dataclass(frozen=True)
class CrashPlan:
    kills: int
    clients: int = 6
    keys_per_client: int = 10
    min_load_s: float = 0.2
    max_load_s: float = 2.0
    gc_every: int = 5
    shape: LoadShape = LoadShape()
    seed: int = 0


@dataclass
class CrashFigures:
    kills: int = 0
    findings: Findings = field(default_factory=Findings)
    checks: int = 0
    check_failures: list[str] = field(default_factory=list)
    ops: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    client_crashes: list[str] = field(default_factory=list)  # load generator bugs, not server ones
    acked_writes: int = 0
    acked_deletes: int = 0
    unacknowledged: int = 0
    logged_errors: int = 0
    live_bytes: int = 0           # logical bytes of the live objects at the end
    extra_unique_bytes: int = -1  # unique bytes kept beyond what live objects name, after GC
    logical_mismatch: int = -1    # engine's logical bytes minus the ledger's, at the end
    leftover_fragments: int = -1  # after deleting everything and a GC
    leftover_stored_bytes: int = -1
    leftover_pack_bytes: int = -1

    def summary(self) -> str:
        f = self.findings
        return (
            f"kills={self.kills} objects_checked={f.objects_checked} lost={f.lost} corrupt={f.corrupt} "
            f"resurrected={f.resurrected} unexpected={f.unexpected} checks={self.checks} "
            f"check_failures={len(self.check_failures)} acked_writes={self.acked_writes} "
            f"acked_deletes={self.acked_deletes} unacknowledged={self.unacknowledged} "
            f"server_5xx={self.outcomes['5xx']} unexpected_4xx={self.outcomes['4xx']} "
            f"bad_acks={self.outcomes['bad-ack']} client_crashes={len(self.client_crashes)} "
            f"logged_errors={self.logged_errors} "
            f"live_bytes={self.live_bytes} extra_unique_bytes={self.extra_unique_bytes} "
            f"logical_mismatch={self.logical_mismatch} leftover_fragments={self.leftover_fragments} "
            f"leftover_stored_bytes={self.leftover_stored_bytes} leftover_pack_bytes={self.leftover_pack_bytes}"
        )


class CrashLoop:
    def __init__(self, root: Path, plan: CrashPlan, say: Callable[[str], None] = lambda _: None,
                 env: dict[str, str] | None = None, config: StoreConfig | None = None) -> None:
        """``env``: the server's extra environment; ``config``: the engine
        settings of the offline checks (both name the packs where they are in S3)."""
        self.env = env
        self.config = config
        self.data = root / "data"
        self.all_logs = root / "server-all.log"
        self.plan = plan
        self.say = say
        self.rng = random.Random(plan.seed)
        self.ledger = Ledger()
        self.figures = CrashFigures()
        self.server = self._start()

    def _start(self) -> LiveServer:
        return start_server(self.data, env=self.env)

    def _client(self) -> Any:
        return self.server.client(config=CLIENT_CONFIG)

    def _stop(self, kill: bool) -> None:
        if kill:
            self.server.process.kill()
            self.server.process.wait()
        self.server.stop()
        text = self.server.log()
        self.figures.logged_errors += sum(" ERROR " in line for line in text.splitlines())
        with self.all_logs.open("a") as out:
            out.write(text)

    def _check(self, where: str) -> None:
        report = offline.check(self.data, self.config)
        self.figures.checks += 1
        if not report.ok:
            self.figures.check_failures.append(f"{where}: {offline.describe(report)}")

    def run(self) -> CrashFigures:
        plan = self.plan
        self._client().create_bucket(Bucket=BUCKET)
        load = Load(self._client, BUCKET, self.ledger, clients=plan.clients,
                    keys_per_client=plan.keys_per_client, seed=plan.seed, shape=plan.shape)
        try:
            for round_no in range(1, plan.kills + 1):
                self._round(load, round_no)
            self._finish()
        finally:
            if self.server.process.poll() is None:
                self._stop(kill=False)
        f = self.figures
        f.ops, f.outcomes, f.errors, f.client_crashes = load.ops(), load.outcomes(), load.errors(), load.crashes()
        f.acked_writes, f.acked_deletes = self.ledger.acked_writes, self.ledger.acked_deletes
        f.unacknowledged = self.ledger.unacknowledged
        return f

    def _round(self, load: Load, round_no: int) -> None:
        load.retarget(self._client)
        load.start()
        time.sleep(self.rng.uniform(self.plan.min_load_s, self.plan.max_load_s))
        load.stop()
        self._stop(kill=True)
        load.join()
        self.figures.kills += 1
        self.server = self._start()
        found = verify(self._client(), BUCKET, self.ledger)
        self.figures.findings.add(found)
        self._stop(kill=False)
        self._check(f"round {round_no}")
        if self.plan.gc_every and round_no % self.plan.gc_every == 0:
            _gc, _stats, report = offline.collect(self.data, self.config)
            if not report.ok:
                self.figures.check_failures.append(f"round {round_no} after GC: {offline.describe(report)}")
        self.server = self._start()
        self.say(f"round {round_no}: {found.objects_checked} checked, {found.bad} bad; "
                 f"{sum(load.ops().values())} ops so far")

    def _finish(self) -> None:
        s3 = self._client()
        for upload in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])
        self.figures.findings.add(verify(s3, BUCKET, self.ledger))
        self._stop(kill=False)
        _gc, stats, report = offline.collect(self.data, self.config)
        if not report.ok:
            self.figures.check_failures.append(f"final: {offline.describe(report)}")
        live = self.ledger.present()
        self.figures.live_bytes = sum(v.size for v in live.values())
        needed = sum(b.unique_bytes or 0 for b in stats.buckets)
        self.figures.extra_unique_bytes = stats.unique_bytes - needed
        self.figures.logical_mismatch = stats.logical_bytes - self.figures.live_bytes
        self.server = self._start()
        s3 = self._client()
        keys = sorted(live)
        for start in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]]})
        self._stop(kill=False)
        _gc, stats, report = offline.collect(self.data, self.config)
        if not report.ok:
            self.figures.check_failures.append(f"emptied: {offline.describe(report)}")
        self.figures.leftover_fragments = stats.fragments
        self.figures.leftover_stored_bytes = stats.stored_bytes
        self.figures.leftover_pack_bytes = stats.pack_bytes
