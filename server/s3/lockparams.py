"""Object Lock on the wire: the x-amz-object-lock-* request headers, the
Retention / LegalHold / ObjectLockConfiguration XML bodies, the response
headers of a locked version, and who may bypass GOVERNANCE retention."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from dedup import locks
from dedup.types import ObjectInfo, ObjectMeta
from server.http.dates import iso8601
from server.s3.errors import S3Error
from server.s3.xmlparse import child_text, children, expect_root
from server.s3.xmlrender import Node

MODE = "x-amz-object-lock-mode"
UNTIL = "x-amz-object-lock-retain-until-date"
HOLD = "x-amz-object-lock-legal-hold"
BYPASS = "x-amz-bypass-governance-retention"


def parse_date(value: str, what: str) -> float:
    """An ISO 8601 date (S3 sends ``2030-01-01T00:00:00.000Z``) as epoch seconds."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise S3Error("InvalidArgument", f"The {what} is not a valid ISO 8601 date",
                      extra={"ArgumentName": what, "ArgumentValue": value}) from None
    if parsed.tzinfo is None:
        raise S3Error("InvalidArgument", f"The {what} must name its time zone",
                      extra={"ArgumentName": what, "ArgumentValue": value})
    return parsed.timestamp()


def _mode(value: str, what: str) -> str:
    mode = value.strip().upper()
    if mode not in locks.MODES:
        raise S3Error("InvalidArgument", f"Unknown {what}: {value}", extra={"ArgumentName": what, "ArgumentValue": value})
    return mode


def _hold(value: str, what: str) -> bool:
    status = value.strip().upper()
    if status not in ("ON", "OFF"):
        raise S3Error("InvalidArgument", f"Legal Hold status must be ON or OFF: {value}",
                      extra={"ArgumentName": what, "ArgumentValue": value})
    return status == "ON"


def require_protected_body(headers: Mapping[str, str]) -> None:
    """A PutObject with Object Lock settings must protect its body (Content-MD5 or a checksum)."""
    if not any(n in headers for n in (MODE, UNTIL, HOLD)):
        return
    if "content-md5" not in headers and not any(n.startswith(("x-amz-checksum-", "x-amz-sdk-checksum")) or
                                                n == "x-amz-trailer" for n in headers):
        raise S3Error("InvalidRequest", "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object "
                      "requests with Object Lock parameters")


def from_headers(headers: Mapping[str, str], meta: ObjectMeta, now: float) -> ObjectMeta:
    """``meta`` with the retention and legal hold a write asks for."""
    mode, until, hold = headers.get(MODE), headers.get(UNTIL), headers.get(HOLD)
    if mode is None and until is None and hold is None:
        return meta
    if (mode is None) != (until is None):
        raise S3Error("InvalidArgument", "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both "
                      "be supplied", extra={"ArgumentName": MODE if mode is None else UNTIL})
    if mode is not None and until is not None:
        when = parse_date(until, UNTIL)
        if when <= now:
            raise S3Error("InvalidArgument", "The retain until date must be in the future!",
                          extra={"ArgumentName": UNTIL, "ArgumentValue": until})
        meta = replace(meta, lock_mode=_mode(mode, MODE), lock_until=when)
    if hold is not None:
        meta = replace(meta, legal_hold=_hold(hold, HOLD))
    return meta


def response_headers(info: ObjectInfo) -> dict[str, str]:
    meta = info.meta
    out: dict[str, str] = {}
    if meta.lock_mode:
        out[MODE], out[UNTIL] = meta.lock_mode, iso8601(meta.lock_until)
    if meta.legal_hold:
        out[HOLD] = "ON"
    return out


def bypass(headers: Mapping[str, str]) -> bool:
    """Whether the request asks to bypass GOVERNANCE retention; whether the
    caller may (s3:BypassGovernanceRetention) is the authorization step's
    answer (server/s3/access.py: ``Access.may_bypass``)."""
    return headers.get(BYPASS, "").strip().lower() == "true"


# -- XML bodies ------------------------------------------------------------------------
def parse_retention(body: bytes) -> tuple[str, float]:
    """(mode, retain-until) of a Retention body; ("", 0) removes the retention."""
    root = expect_root(body, "Retention")
    mode, until = child_text(root, "Mode"), child_text(root, "RetainUntilDate")
    if mode is None and until is None:
        return "", 0.0
    if mode is None or until is None:
        raise S3Error("MalformedXML")
    return _mode(mode, "Mode"), parse_date(until, "RetainUntilDate")


def retention_nodes(meta: ObjectMeta) -> list[Node]:
    return [("Mode", meta.lock_mode), ("RetainUntilDate", iso8601(meta.lock_until))]


def parse_legal_hold(body: bytes) -> bool:
    status = child_text(expect_root(body, "LegalHold"), "Status")
    if status is None:
        raise S3Error("MalformedXML")
    return _hold(status, "Status")


def parse_lock_configuration(body: bytes) -> dict[str, object] | None:
    """The default retention of an ObjectLockConfiguration body (None: no default)."""
    root = expect_root(body, "ObjectLockConfiguration")
    if (child_text(root, "ObjectLockEnabled") or "").strip() != "Enabled":
        raise S3Error("MalformedXML")
    rules = children(root, "Rule")
    if not rules:
        return None
    found = children(rules[0], "DefaultRetention")
    if len(rules) > 1 or len(found) != 1:
        raise S3Error("MalformedXML")
    default = found[0]
    mode, days, years = child_text(default, "Mode"), child_text(default, "Days"), child_text(default, "Years")
    if mode is None or (days is None) == (years is None):
        raise S3Error("MalformedXML")
    count = (days or years or "").strip()
    if not count.isdigit() or int(count) <= 0:
        raise S3Error("InvalidArgument", "Default retention period must be a positive integer value",
                      extra={"ArgumentName": "Days" if days is not None else "Years", "ArgumentValue": count})
    return {"mode": _mode(mode, "Mode"), ("days" if days is not None else "years"): int(count)}


def lock_configuration_nodes(default: Mapping[str, object] | None) -> list[Node]:
    nodes: list[Node] = [("ObjectLockEnabled", "Enabled")]
    if default:
        unit = "Days" if "days" in default else "Years"
        nodes.append(("Rule", [("DefaultRetention", [("Mode", str(default["mode"])),
                                                      (unit, str(default[unit.lower()]))])]))
    return nodes
