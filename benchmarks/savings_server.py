"""A fresh fragstore server for the savings benchmark, as a child process.

Started with ``python -m server serve --data DIR --host 127.0.0.1 --port P``
and credentials in ``FRAGSTORE_ACCESS_KEY``/``FRAGSTORE_SECRET_KEY``; its
``/_fragstore/stats`` endpoint is read with a SigV4-signed GET (botocore's
signer), exactly as any S3 client would sign a request.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from benchmarks.child import ChildServer
from benchmarks.gan.store import Endpoint

REGION = "us-east-1"
STATS_FIELDS = (
    "objects", "logical_bytes", "fragments", "unique_bytes",
    "stored_bytes", "pack_bytes", "index_bytes", "packs",
    "delta_fragments", "delta_raw_bytes", "delta_stored_bytes",
)


class ServerProcess(ChildServer):
    """One ``python -m server serve`` child on a free loopback port."""

    def __init__(self, data_dir: Path, repo_root: Path, log_path: Path) -> None:
        super().__init__("fragstore", [sys.executable, "-m", "server", "serve", "--data", str(data_dir)],
                         log_path, repo_root)
        self.data_dir = data_dir

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.url, self.access_key, self.secret_key, REGION)

    def stats(self) -> dict[str, Any]:
        """The engine stats document, SigV4-signed like any S3 request."""
        request = AWSRequest(method="GET", url=self.url + "/_fragstore/stats")
        S3SigV4Auth(Credentials(self.access_key, self.secret_key), "s3", REGION).add_auth(request)
        prepared = urllib.request.Request(request.url, headers=dict(request.headers.items()))
        with urllib.request.urlopen(prepared, timeout=60) as resp:
            return json.loads(resp.read())


def engine_numbers(doc: dict[str, Any]) -> dict[str, int]:
    """The engine's byte counters from a stats document (flat, or nested one level)."""
    source = doc
    if "unique_bytes" not in doc:
        source = next((v for v in doc.values() if isinstance(v, dict) and "unique_bytes" in v), doc)
    return {name: int(source.get(name, 0) or 0) for name in STATS_FIELDS}
