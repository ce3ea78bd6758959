"""Logging: text or JSON lines, the request id on every line logged during a
request, and one access line per request (logger ``fragstore.access``).

The access line never carries a secret: the Authorization header is not
logged at all, and in the query string the values of signature and credential
parameters (presigned URLs) are replaced by ``REDACTED``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

TRACE = 5  # uvicorn's "trace" level
ACCESS = logging.getLogger("fragstore.access")
REDACTED = "REDACTED"
_SECRET_PARAMS = frozenset({
    "x-amz-signature", "x-amz-credential", "x-amz-security-token", "signature", "awsaccesskeyid",
})

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("fragstore_request_id", default=None)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        if rid and record.name != ACCESS.name:  # the access line names it already
            line = f"{line} [request {rid}]"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, and
    the fields of an access line."""

    def format(self, record: logging.LogRecord) -> str:
        created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        doc: dict[str, object] = {
            "time": f"{created}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            doc["request_id"] = rid
        fields = getattr(record, "access", None)
        if isinstance(fields, Mapping):
            doc.update(fields)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def setup(level: str, fmt: str) -> None:
    """Send every logger (uvicorn's too) to stderr in ``fmt`` (text | json)."""
    logging.addLevelName(TRACE, "TRACE")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(TRACE if level.lower() == "trace" else level.upper())


def safe_query(query: str) -> str:
    """The query string with the values of signature and credential parameters redacted."""
    if not query:
        return ""
    parts = []
    for name, value in parse_qsl(query, keep_blank_values=True, encoding="latin-1"):
        shown = REDACTED if name.lower() in _SECRET_PARAMS else value
        parts.append(f"{quote(name, safe='-_.~', encoding='latin-1')}={quote(shown, safe='-_.~/', encoding='latin-1')}")
    return "&".join(parts)


def printable(text: str) -> str:
    """Control characters and spaces percent-encoded, so a line stays one line."""
    if text.isprintable() and " " not in text:
        return text
    return "".join(c if 0x20 < ord(c) != 0x7F else f"%{ord(c):02X}" for c in text)


@dataclass(frozen=True)
class AccessRecord:
    request_id: str
    client: str
    method: str
    path: str  # the raw (percent-encoded) path, without the query
    query: str  # see safe_query
    operation: str
    status: int
    bytes_in: int
    bytes_out: int
    seconds: float
    access_key: str | None


def access(record: AccessRecord) -> None:
    """Log the access line of one request."""
    if not ACCESS.isEnabledFor(logging.INFO):
        return
    target = printable(record.path) + (f"?{record.query}" if record.query else "")
    millis = record.seconds * 1000
    fields = {
        "client": record.client, "method": record.method, "path": printable(record.path),
        "query": record.query, "operation": record.operation, "status": record.status,
        "bytes_in": record.bytes_in, "bytes_out": record.bytes_out,
        "duration_ms": round(millis, 3), "access_key": record.access_key,
    }
    args = (record.client, record.method, target, record.operation or "-", record.status,
            record.bytes_in, record.bytes_out, millis, record.request_id, record.access_key or "-")
    # makeRecord + handle: what ACCESS.info() does, less its walk of the stack for the caller.
    ACCESS.handle(ACCESS.makeRecord(
        ACCESS.name, logging.INFO, __file__, 0, "%s %s %s %s %d in=%d out=%d %.1fms id=%s key=%s", args, None,
        extra={"access": fields, "request_id": record.request_id},
    ))
