"""Start the real fragstore server in a subprocess, for tests that drive it from outside.

    with start_server(tmp_path / "data") as server:
        s3 = server.client()
        s3.create_bucket(Bucket="b")

The server runs ``python -m server serve`` on 127.0.0.1 and a free port, with a
test key pair in FRAGSTORE_ACCESS_KEY / FRAGSTORE_SECRET_KEY, and is ready when
``GET /_fragstore/health`` answers. Its output goes to ``<data>.log``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parent.parent
ACCESS_KEY = "FRAGSTORETESTKEY"
SECRET_KEY = "fragstore-test-secret-0123456789abcdef"
REGION = "us-east-1"
STARTUP_LIMIT_S = 60.0


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any FRAGSTORE_* variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAGSTORE_")}
    env.update(extra)
    return env


def fragstore(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real ``fragstore`` command (``python -m server``) to completion."""
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A running server; stop it with ``stop()`` or by leaving the ``with`` block."""

    def __init__(self, data_dir: Path, *, tls: bool, env: dict[str, str] | None, extra_args: list[str],
                 log_path: Path | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.env = {**os.environ, "FRAGSTORE_ACCESS_KEY": ACCESS_KEY, "FRAGSTORE_SECRET_KEY": SECRET_KEY}
        self.env.update(env or {})
        self.access_key = self.env.get("FRAGSTORE_ACCESS_KEY", "")
        self.secret_key = self.env.get("FRAGSTORE_SECRET_KEY", "")
        self.log_path = log_path or data_dir.with_name(data_dir.name + ".log")
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "server", "serve", "--data", str(data_dir),
                "--host", "127.0.0.1", "--port", str(self.port), *extra_args]
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready()
        if not (self.access_key and self.secret_key):  # generated on first start
            pair = (data_dir / "root-credentials").read_text().strip()
            self.access_key, _, self.secret_key = pair.partition(":")

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/_fragstore/health", timeout=2, context=self._ssl_context()) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not become ready:\n{self.log()}")

    def log(self) -> str:
        """Everything the server process has written so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def log_lines(self, text: str, wait_s: float = 10.0) -> list[str]:
        """The log lines holding ``text``, once there is one (an access line is
        written after its answer has gone out), or none after ``wait_s``."""
        deadline = time.monotonic() + wait_s
        while True:
            found = [line for line in self.log().splitlines() if text in line]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def client(self, **kw: Any) -> Any:
        """A boto3 S3 client for this server: path style, SigV4 (presigned URLs too), us-east-1, no retries."""
        config = Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"total_max_attempts": 1})
        if "config" in kw:
            config = config.merge(kw.pop("config"))
        options: dict[str, Any] = {
            "endpoint_url": self.url,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": REGION,
            "config": config,
            "verify": False if self.tls else None,
        }
        options.update(kw)
        return boto3.session.Session().client("s3", **options)

    def raw(self, method: str, target: str, **kw: Any) -> RawResponse:
        """See :func:`raw_request`."""
        return raw_request(self, method, target, **kw)

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after 30 s); idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.stop()


def start_server(
    data_dir: Path, *, tls: bool = False, env: dict[str, str] | None = None, extra_args: list[str] | None = None,
    log_path: Path | None = None,
) -> LiveServer:
    """Start a server on ``data_dir``. With ``tls``, a self-signed certificate is
    made beside the data directory (``openssl``) and passed with --tls-cert/--tls-key.
    Its output goes to ``log_path`` (default ``<data>.log``; give each of many
    servers on one data directory its own)."""
    extra = list(extra_args or [])
    if tls and "--tls-cert" not in extra:
        cert, key = self_signed_certificate(data_dir.parent)
        extra += ["--tls-cert", str(cert), "--tls-key", str(key)]
    return LiveServer(data_dir, tls=tls, env=env, extra_args=extra, log_path=log_path)


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 / localhost, made with the openssl CLI."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    if not cert.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True, capture_output=True,
        )
    return cert, key


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class _Signer(S3SigV4Auth):
    """botocore's S3 signer with the payload line given (any hash, UNSIGNED-PAYLOAD...)."""

    def __init__(self, credentials: Credentials, payload_hash: str) -> None:
        super().__init__(credentials, "s3", REGION)
        self._payload_hash = payload_hash

    def payload(self, request: AWSRequest) -> str:
        return self._payload_hash


def sign_headers(server: LiveServer, method: str, target: str, headers: dict[str, str], payload_hash: str,
                 access_key: str | None = None, secret_key: str | None = None, host: str | None = None) -> dict[str, str]:
    """``headers`` plus SigV4 ones for ``method target`` (target = raw path and query),
    for the server's own address or for ``host`` (a Host header value)."""
    base = f"{server.url.split(':')[0]}://{host}" if host else server.url
    request = AWSRequest(method=method, url=base + target, headers=dict(headers))
    credentials = Credentials(access_key or server.access_key, secret_key or server.secret_key)
    _Signer(credentials, payload_hash).add_auth(request)
    return dict(request.headers.items())


def raw_request(
    server: LiveServer, method: str, target: str, *, headers: dict[str, str] | None = None,
    body: bytes = b"", sign: bool = True, payload_hash: str | None = None, content_length: bool = True,
    host: str | None = None, access_key: str | None = None, secret_key: str | None = None,
) -> RawResponse:
    """One request sent with http.client exactly as given (signed by default):
    for what boto3 will not send (odd methods, bad lengths, hand-made XML, a
    virtual-hosted Host header)."""
    headers = dict(headers or {})
    if host:
        headers["Host"] = host
    if content_length and not any(k.lower() == "content-length" for k in headers):
        headers["Content-Length"] = str(len(body))
    if sign:
        payload = payload_hash or hashlib.sha256(body).hexdigest()
        headers = sign_headers(server, method, target, headers, payload, access_key, secret_key, host)
    conn: http.client.HTTPConnection
    if server.tls:
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=server._ssl_context(), timeout=60)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.putrequest(method, target, skip_host=any(k.lower() == "host" for k in headers), skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        if body:
            conn.send(body)
        response = conn.getresponse()
        data = response.read()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()
