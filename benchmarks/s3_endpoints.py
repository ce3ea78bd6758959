"""The S3 endpoints the throughput benchmark measures: fragstore and the null endpoint
started as child processes, and a peer (another S3 server) to compare with.

Each endpoint has one boto3 client (the same config for all), a bucket made for the
run, and the processes whose CPU time and memory count as the server's:

* fragstore, the null endpoint: the server process (and any children);
* ``--peer rgw``: a single-node Ceph started from Debian's packages by the same code
  as the tests' fixture (``tests/services/ceph.py``): radosgw, ceph-osd, ceph-mon and
  ceph-mgr (each under its ``timeout`` wrapper, which costs nothing): all the work an
  RGW PUT or GET causes, the OSD's BlueStore writes included;
* ``--peer fragstore-sse``: a second fragstore, its bucket under default
  encryption SSE-S3 (every object encrypted at rest): the cost of encryption;
* ``--peer URL``: an existing endpoint; its CPU and memory are measured only where
  ``--peer-pids`` names its processes on this machine.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from benchmarks.child import ChildServer

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "bench"
REGION = "us-east-1"
CLIENT_CONFIG = Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                       retries={"total_max_attempts": 1}, max_pool_connections=16,
                       connect_timeout=60, read_timeout=600)
ROUTINE_HEADERS = {"amz-sdk-invocation-id", "amz-sdk-request", "authorization", "host", "user-agent", "x-amz-date"}
SHOWN_VALUES = {"expect", "x-amz-sdk-checksum-algorithm", "x-amz-checksum-algorithm", "x-amz-checksum-mode",
                "transfer-encoding", "content-encoding", "x-amz-trailer"}


class Endpoint:
    """What the benchmark needs of a server: ``client``, ``bucket``, ``pids()`` (roots of the
    process trees that count; empty when unknown), ``check()`` and ``stop()``."""

    name: str  # "fragstore", "null" or "peer"
    label: str  # as the report names it
    url: str
    access_key: str
    secret_key: str
    bucket: str = BUCKET
    processes: str = ""  # which processes count, in words

    def connect(self, bucket: str = BUCKET) -> None:
        self.bucket = bucket
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=self.url, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name=REGION, config=CLIENT_CONFIG)
        self.sent_headers: dict[str, list[str]] = {}
        self.client.meta.events.register("before-send.s3", self._note_headers)
        self.client.create_bucket(Bucket=bucket)

    def _note_headers(self, request: Any, event_name: str = "", **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if operation not in self.sent_headers:
            headers = {k.lower(): v.decode() if isinstance(v, bytes) else str(v) for k, v in request.headers.items()}
            sha = headers.pop("x-amz-content-sha256", "")
            notes = [f"x-amz-content-sha256: {'<SHA-256 of the body>' if len(sha) == 64 else sha}"]
            for name in sorted(set(headers) - ROUTINE_HEADERS):
                value = headers[name]
                notes.append(f"{name}: {value}" if name in SHOWN_VALUES else name)
            self.sent_headers[operation] = notes

    def pids(self) -> list[int]:
        return []

    def check(self) -> None:
        """Raise if the server is known to have died."""

    def stop(self) -> None:
        """Stop what this benchmark started."""


class Server(ChildServer, Endpoint):
    """A benchmarked server started as a child process, with its boto3 client and a bucket."""

    def __init__(self, name: str, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        super().__init__(name, args, log, ROOT, env)
        self.label = name
        self.processes = f"the {name} server process"
        self.wait_healthy()
        self.connect()

    def pids(self) -> list[int]:
        return [self.pid]

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} server exited with {self.proc.returncode}")


class SsePeer(Server):
    """A second fragstore whose run bucket encrypts every new object (SSE-S3 by
    bucket default encryption, so the requests are exactly the other servers')."""

    def __init__(self, work: Path) -> None:
        super().__init__("peer", [sys.executable, "-m", "server", "serve", "--data", str(work / "data-sse")],
                         work / "fragstore-sse.log")
        self.label = "fragstore SSE-S3"
        self.client.put_bucket_encryption(Bucket=self.bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})


class RgwPeer(Endpoint):
    """A single-node Ceph with radosgw, started for this run in ``directory`` and removed after."""

    def __init__(self, directory: Path, block_gib: float) -> None:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from tests.services import ceph

        if why := ceph.unavailable():
            raise SystemExit(f"s3_throughput: --peer rgw: {why}")
        self.cluster = ceph.start_ceph(directory, block_gib=block_gib)
        try:
            self.name, self.label, self.url = "peer", "RGW", self.cluster.endpoint
            self.access_key, self.secret_key = self.cluster.access_key, self.cluster.secret_key
            self.version = ceph.version()
            self.processes = "radosgw + ceph-osd + ceph-mon + ceph-mgr (one BlueStore OSD on a sparse file)"
            self.bring_up_s = self.cluster.timings.get("total", 0.0)
            self.connect()
        except BaseException:
            self.cluster.stop()
            raise

    def pids(self) -> list[int]:
        return [pid for pids in self.cluster.pids().values() for pid in pids]

    def check(self) -> None:
        self.cluster.check()

    def stop(self) -> None:
        self.cluster.stop()


class UrlPeer(Endpoint):
    """An S3 endpoint that runs already; a bucket of its own is made for the run."""

    def __init__(self, url: str, access_key: str, secret_key: str, pids: list[int], label: str) -> None:
        self.name, self.label, self.url = "peer", label, url.rstrip("/")
        self.access_key, self.secret_key = access_key, secret_key
        self._pids = pids
        self.processes = (f"PIDs {', '.join(map(str, pids))} and their children" if pids
                          else "unknown (no --peer-pids): no CPU or memory figures")
        self.connect(f"{BUCKET}-{secrets.token_hex(4)}")

    def pids(self) -> list[int]:
        return self._pids
