"""The maintenance commands' way to a running server: when another process holds
the data directory's lock and ``<data>/server.json`` names a server, ``fragstore
stats|gc|check|lifecycle`` call its admin endpoints (server/admin/api.py), signed with SigV4
by botocore as the root user.

Root credentials: the data directory's root pair, resolved as the server
resolves it (server/auth/credentials.py): ``<data>/root-credentials``, which
FRAGSTORE_ACCESS_KEY / FRAGSTORE_SECRET_KEY may repeat but never contradict,
so the command and the server cannot disagree on the root key without a word.
Over HTTPS the server's certificate must be the one its server.json names
(pinned: it is the file the server itself was given), whatever host name it
carries.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import ssl
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from dedup.types import BucketStats, CheckReport, GcReport, LifecycleReport, StoreStats
from server.admin.runfile import RunInfo
from server.admin.runfile import read as read_runfile
from server.auth.credentials import ENV_PAIR, ROOT_FILE, CredentialsError, resolve_root

TIMEOUT_S = 3600.0  # a GC or a check of a large store takes a while
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class AdminError(Exception):
    """The server could not be reached or refused the request."""


def root_credentials(data_dir: Path) -> tuple[str, str]:
    """The pair to sign with; CredentialsError when there is none, or when the
    environment's pair is not the data directory's."""
    found = resolve_root(data_dir, os.environ)
    if found is None:
        raise CredentialsError(f"no root credentials to sign with: {data_dir / ROOT_FILE} does not exist "
                               f"and {ENV_PAIR} are unset")
    return found[0]


class _Signer(S3SigV4Auth):
    def payload(self, request: AWSRequest) -> str:
        return EMPTY_SHA256


class AdminClient:
    def __init__(self, info: RunInfo, data_dir: Path) -> None:
        self.info = info
        self.data_dir = data_dir
        access_key, secret_key = root_credentials(data_dir)
        self.access_key = access_key
        self._credentials = BotoCredentials(access_key, secret_key)

    def call(self, method: str, path: str, params: dict[str, str]) -> object:
        """Send one signed request; the decoded JSON answer."""
        target = path + (f"?{urlencode(params)}" if params else "")
        request = AWSRequest(method=method, url=self.info.url + target, headers={"Content-Length": "0"})
        _Signer(self._credentials, "s3", self.info.region).add_auth(request)
        conn = self._connect()
        try:
            conn.request(method, target, headers=dict(request.headers.items()))
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise AdminError(f"the server at {self.info.url} did not answer: {exc}") from None
        finally:
            conn.close()
        if response.status != 200:
            text = _error_text(response.status, body)
            if text.startswith(("InvalidAccessKeyId", "SignatureDoesNotMatch")):
                text += (f" (the root key pair of {self.data_dir}, access key {self.access_key}, is not the one "
                         "the server runs with: was root-credentials replaced while it ran? A server keeps the "
                         "pair it started with; restart it)")
            raise AdminError(f"the server at {self.info.url} refused: {text}")
        return json.loads(body)

    def _connect(self) -> http.client.HTTPConnection:
        url = urlsplit(self.info.url)
        host, port = url.hostname or "127.0.0.1", url.port
        try:
            if self.info.scheme != "https":
                conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT_S)
                conn.connect()
                return conn
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # pinned below instead
            tls = http.client.HTTPSConnection(host, port, timeout=TIMEOUT_S, context=context)
            tls.connect()
        except OSError as exc:
            raise AdminError(f"the server at {self.info.url} did not answer: {exc}") from None
        _check_pin(tls, self.info.tls_cert)
        return tls


def owner(data_dir: Path) -> AdminClient | None:
    """A client of the server that owns ``data_dir`` (said on stderr), or None
    (said too) when the directory is locked and no server.json names its owner."""
    info = read_runfile(data_dir)
    if info is None:
        print(f"fragstore: the data directory {data_dir} is in use by another process, "
              "and no server says it owns it", file=sys.stderr)
        return None
    print(f"fragstore: a server owns {data_dir}; asking it at {info.url}", file=sys.stderr)
    return AdminClient(info, data_dir)


def _check_pin(conn: http.client.HTTPSConnection, cert_file: str | None) -> None:
    presented = conn.sock.getpeercert(binary_form=True) if isinstance(conn.sock, ssl.SSLSocket) else None
    try:
        text = Path(cert_file).read_text() if cert_file else ""
        expected = ssl.PEM_cert_to_DER_cert(text[: text.index("-----END CERTIFICATE-----") + 25])
    except (OSError, ValueError):
        conn.close()
        raise AdminError(f"cannot read the server's certificate {cert_file} to check it") from None
    if presented != expected:
        conn.close()
        raise AdminError("the server's TLS certificate is not the one in server.json: refusing to send credentials")


def _error_text(status: int, body: bytes) -> str:
    try:
        root = ET.fromstring(body)
        return f"{root.findtext('Code')}: {root.findtext('Message')}"
    except ET.ParseError:
        return f"HTTP {status}"


def stats(client: AdminClient, exact: bool) -> StoreStats:
    doc = client.call("GET", "/_fragstore/stats", {"exact": "true"} if exact else {})
    assert isinstance(doc, dict)
    total = doc["total"]
    fields = ("objects", "logical_bytes", "fragments", "unique_bytes", "stored_bytes", "pack_bytes",
              "index_bytes", "packs", "dead_manifests", "pending_manifests", "uploads",
              "delta_fragments", "delta_raw_bytes", "delta_stored_bytes")
    buckets = tuple(BucketStats(b["name"], b["objects"], b["logical_bytes"], b.get("unique_bytes"),
                                b.get("delta_objects"), b.get("delta_fragments"), b.get("delta_raw_bytes"),
                                b.get("delta_stored_bytes"))
                    for b in doc["buckets"])
    counts = {f: int(total.get(f, 0)) for f in fields}

    def measured(name: str) -> int | None:
        return None if total.get(name) is None else int(total[name])

    return StoreStats(**counts, buckets=buckets, dead_unique_bytes=measured("dead_unique_bytes"),  # type: ignore[arg-type]
                      dead_stored_bytes=measured("dead_stored_bytes"),
                      delta_depths=tuple(int(n) for n in total.get("delta_depths", ())))


def collect_garbage(client: AdminClient, dry_run: bool, grace: float | None) -> tuple[GcReport, float | None]:
    """The report, and the grace period the server applied."""
    params = {"dry-run": "true"} if dry_run else {}
    if grace is not None:
        params["grace"] = repr(grace)
    doc = client.call("POST", "/_fragstore/gc", params)
    assert isinstance(doc, dict)
    applied = doc.pop("grace_seconds", None)
    return GcReport(**doc), applied


def run_lifecycle(client: AdminClient) -> LifecycleReport:
    doc = client.call("POST", "/_fragstore/lifecycle", {})
    assert isinstance(doc, dict)
    return LifecycleReport(**doc)


def check(client: AdminClient, repair: bool) -> CheckReport:
    doc = client.call("POST", "/_fragstore/check", {"repair": "true"} if repair else {})
    assert isinstance(doc, dict)
    return CheckReport(doc["fragments_checked"], tuple(doc["corrupt_fragments"]), tuple(doc["missing_fragments"]),
                       doc["refcount_errors"], doc["orphan_fragments"], doc["repaired"],
                       doc.get("locked_versions", 0), tuple(doc.get("lock_violations", ())))
