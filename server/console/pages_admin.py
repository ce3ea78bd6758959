"""The operator's pages: server status (with GC and lifecycle runs on demand),
the savings dashboard over time, users and keys.

Each asks the server's admin endpoints (server/admin/api.py) as the logged-in
user; they are root's, and the server, not this module, refuses anyone else.

Users and keys: the runtime user admin (server/admin/users_api.py): the list
is ``GET /_fragstore/users``; :data:`USER_ACTIONS` names the request of each
change. A new secret is in the answer once and shown once.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from server.console.charts import Series, line_chart, savings_bars
from server.console.savings import COLOURS, Savings, history_savings
from server.console.visit import Visit, console_url
from server.s3.errors import S3Error

# action -> (method, reserved path; {key} is the access key): the runtime user admin's requests
USER_ACTIONS: dict[str, tuple[str, str]] = {
    "add": ("POST", "/_fragstore/users"),
    "rotate": ("POST", "/_fragstore/users/{key}"),
    "remove": ("DELETE", "/_fragstore/users/{key}"),
}


async def status_page(v: Visit) -> Response:
    doc = (await v.s3.read("GET", path="/_fragstore/status")).json()
    return v.render("status.html", s=doc)


async def run_gc(v: Visit) -> Response:
    return await _run_job(v, "gc")


async def run_lifecycle(v: Visit) -> Response:
    return await _run_job(v, "lifecycle")


async def _run_job(v: Visit, job: str) -> Response:
    path = f"/_fragstore/{job}"
    try:
        report = (await v.s3.read("POST", path=path)).json()
    except S3Error as exc:
        v.flash(f"The {job} run was refused: {exc.code}: {exc.message}", "error")
        return v.redirect(console_url("/status"))
    if job == "gc":
        v.flash(f"GC done: {report.get('manifests_reclaimed', 0)} object versions reclaimed, "
                f"{report.get('fragments_freed', 0)} fragments and {report.get('bytes_reclaimed_on_disk', 0)} "
                "bytes of disk freed.")
    else:
        taken = sum(report.get("actions", {}).values())
        v.flash(f"Lifecycle run done: {taken} actions; {report.get('versions_scanned', 0)} versions looked at.")
    return v.redirect(console_url("/status"))


def _day_rows(days: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Savings]]:
    return [(day, history_savings(day)) for day in days]


async def savings_page(v: Visit) -> Response:
    doc = (await v.s3.read("GET", path="/_fragstore/history")).json()
    days: list[dict[str, Any]] = list(doc["days"])
    now = doc["now"]
    if not days or days[-1]["day"] != now["day"]:
        days.append({**now, "live": True})
    else:
        days[-1] = {**now, "live": True, "buckets": {**days[-1].get("buckets", {}), **now.get("buckets", {})}}
    labels = [d["day"] for d in days]
    lines = line_chart(labels, [
        Series("logical bytes (what clients stored)", "#b23c17", [d.get("logical") for d in days]),
        Series("stored bytes (after every effect)", COLOURS["stored"], [d.get("stored") for d in days]),
        Series("bytes on disk (packs and index)", "#455a64", [d.get("disk") for d in days]),
    ], "Logical, stored and on-disk bytes per day", chart_id="days")
    written = line_chart(labels, [Series("bytes written that day", "#b23c17", [d.get("written") for d in days])],
                         "Object bytes written per day", height=160, chart_id="written")
    latest = days[-1]
    bucket_rows = sorted(latest.get("buckets", {}).items())
    per_bucket = []
    for name, b in bucket_rows:
        history = [d.get("buckets", {}).get(name, {}).get("logical") for d in days]
        per_bucket.append((name, b, history))
    effects_chart = savings_bars([s for _, s in _day_rows(days[-14:])][::-1],
                                 "The last days' savings by effect, newest first", chart_id="effects")
    return v.render("savings.html", days=_day_rows(days)[::-1], lines=lines, written=written,
                    per_bucket=per_bucket, interval=doc.get("interval_seconds"), effects_chart=effects_chart)


async def users_page(v: Visit, *, created: dict[str, str] | None = None) -> Response:
    doc = (await v.s3.read("GET", path="/_fragstore/users")).json()
    return v.render("users.html", users=doc["users"], created=created)


async def user_action(v: Visit) -> Response:
    form = await v.form()
    action, access_key = form.get("action", ""), form.get("access_key", "").strip()
    if action not in USER_ACTIONS:
        v.flash("Unknown action.", "error")
        return v.redirect(console_url("/users"))
    method, path = USER_ACTIONS[action]
    query = {"access-key": access_key} if action == "add" and access_key else {}
    try:
        answer = await v.s3.read(method, path=path.format(key=quote(access_key, safe="")), query=query)
    except S3Error as exc:
        v.flash(f"User {access_key} not changed: {exc.code}: {exc.message}", "error")
        return v.redirect(console_url("/users"))
    doc = answer.json() if answer.body else {}
    if "secret" in doc:  # shown once, on this answer only
        return await users_page(v, created={"access_key": str(doc.get("access_key", access_key)),
                                            "secret_key": str(doc["secret"])})
    v.flash(f"User {access_key}: {action} done.")
    return v.redirect(console_url("/users"))
