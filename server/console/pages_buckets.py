"""The buckets page: the caller's buckets with their numbers and savings; create, delete.

The list is ListBuckets and the numbers are ``/_fragstore/stats``, both asked
as the user, so both show what the server lets that user see. Unique bytes
per bucket need a scan of the bucket's manifests: on a small store (up to
:data:`AUTO_EXACT_FRAGMENTS` fragments) the page asks for them every time, on a
larger one when the user presses "Measure".
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from server.console import s3read
from server.console.charts import savings_bars
from server.console.savings import Savings, bucket_savings, store_savings
from server.console.visit import Visit, console_url
from server.s3.errors import S3Error

AUTO_EXACT_FRAGMENTS = 200_000
STATS = "/_fragstore/stats"


async def store_stats(v: Visit, *, measure: bool) -> tuple[dict[str, Any], bool]:
    """(the stats document for this user, whether per-bucket unique bytes are in it)."""
    doc = (await v.s3.read("GET", path=STATS)).json()
    if measure or int(doc["total"].get("fragments", 0)) <= AUTO_EXACT_FRAGMENTS:
        return (await v.s3.read("GET", path=STATS, query={"exact": "true"})).json(), True
    return doc, False


async def buckets_page(v: Visit) -> Response:
    listing = s3read.buckets(await v.s3.read("GET"))
    stats, exact = await store_stats(v, measure="measure" in v.query)
    by_name = {b["name"]: b for b in stats["buckets"]}
    total = stats["total"]
    rows = []
    for bucket in listing:
        numbers = by_name.get(bucket.name, {"name": bucket.name, "objects": None, "logical_bytes": None})
        rows.append((bucket, numbers, bucket_savings(numbers, total)))
    store = store_savings(total)
    charted: list[Savings] = [store, *(saving for _, _, saving in rows)]
    chart = savings_bars(charted, "Logical bytes of the store and of each bucket: the part stored and the "
                                  "parts each effect saved")
    return v.render("buckets.html", rows=rows, store=store, total=total, exact=exact, chart=chart,
                    effects=store.effects)


async def create_bucket(v: Visit) -> Response:
    name = (await v.form()).get("name", "").strip()
    try:
        await v.s3.read("PUT", name)
    except S3Error as exc:
        v.flash(f"Bucket “{name}” was not created: {exc.code}: {exc.message}", "error")
        return v.redirect(console_url("/buckets"))
    v.flash(f"Bucket “{name}” created.")
    return v.redirect(console_url(f"/b/{name}"))


async def delete_bucket(v: Visit) -> Response:
    name = (await v.form()).get("name", "")
    try:
        await v.s3.read("DELETE", name)
    except S3Error as exc:
        hint = " Delete its objects (and their versions) first." if exc.code == "BucketNotEmpty" else ""
        v.flash(f"Bucket “{name}” was not deleted: {exc.code}: {exc.message}{hint}", "error")
        return v.redirect(console_url("/buckets"))
    v.flash(f"Bucket “{name}” deleted.")
    return v.redirect(console_url("/buckets"))
