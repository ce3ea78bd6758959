"""Timestamps as S3 writes and reads them: RFC 1123 in headers, ISO 8601 in XML."""

from __future__ import annotations

import time
from email.utils import formatdate, parsedate_to_datetime


def rfc1123(ts: float) -> str:
    """``Wed, 12 Oct 2009 17:50:00 GMT`` (whole seconds, as Last-Modified)."""
    return formatdate(int(ts), usegmt=True)


def iso8601(ts: float) -> str:
    """``2009-10-12T17:50:30.000Z`` (milliseconds, as in listings)."""
    whole = int(ts)
    millis = int((ts - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def parse_http_date(value: str | None) -> float | None:
    """Seconds since the epoch, or None when absent or unparseable (S3 then
    ignores the condition, as RFC 9110 asks)."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()
