"""A bucket's objects: browse by prefix, search, download, delete, share, tags,
versions (and restoring one), each an S3 request made as the user."""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response

from server.console import s3read
from server.console.presign import EXPIRIES, MAX_EXPIRY, presigned_get
from server.console.s3call import Answer
from server.console.visit import Visit, console_url
from server.s3.errors import S3Error
from server.s3.xmlrender import document

PAGE_KEYS = 100  # keeps a listing page near 100 kB of HTML (each row has its delete form)
DELIMITER = "/"
TAG_LIMIT = 10


def crumbs(prefix: str) -> list[tuple[str, str]]:
    """(label, prefix) for each folder level of ``prefix``."""
    out, acc = [], ""
    for part in prefix.split(DELIMITER)[:-1]:
        acc += part + DELIMITER
        out.append((part or "(empty)", acc))
    return out


async def objects_page(v: Visit) -> Response:
    bucket = v.params["bucket"]
    prefix, search = v.query.get("prefix", ""), v.query.get("search", "")
    query = {"list-type": "2", "prefix": prefix + search, "delimiter": DELIMITER, "max-keys": str(PAGE_KEYS),
             "encoding-type": "url"}
    if v.query.get("token"):
        query["continuation-token"] = v.query["token"]
    page = s3read.objects_page(await v.s3.read("GET", bucket, query=query))
    uploads = s3read.uploads(await v.s3.read("GET", bucket, query={"uploads": "", "prefix": prefix,
                                                                    "encoding-type": "url", "max-uploads": "50"}))
    versioning = s3read.versioning_state(await v.s3.read("GET", bucket, query={"versioning": ""}))
    return v.render("objects.html", bucket=bucket, prefix=prefix, search=search, page=page, crumbs=crumbs(prefix),
                    uploads=uploads, versioning=versioning)


def _parent(key: str) -> str:
    return key.rsplit(DELIMITER, 1)[0] + DELIMITER if DELIMITER in key else ""


def _back(v: Visit, bucket: str, form: dict[str, str]) -> str:
    """Where an action on ``bucket`` returns: the object's page or the folder it was in."""
    if form.get("back") == "object" and form.get("key"):
        return console_url(f"/b/{bucket}/object", key=form["key"])
    return console_url(f"/b/{bucket}", prefix=form.get("prefix") or None)


async def delete_object(v: Visit) -> Response:
    bucket = v.params["bucket"]
    form = await v.form()
    key, version = form.get("key", ""), form.get("version_id") or None
    try:
        answer = await v.s3.read("DELETE", bucket, key, query={"versionId": version} if version else None)
    except S3Error as exc:
        v.flash(f"“{key}” was not deleted: {exc.code}: {exc.message}", "error")
        return v.redirect(_back(v, bucket, form))
    if version:
        v.flash(f"Deleted version {version} of “{key}”.")
        return v.redirect(_back(v, bucket, form))
    if answer.headers.get("x-amz-delete-marker") == "true":
        v.flash(f"Deleted “{key}”: a delete marker is its current version; its earlier versions remain.")
        return v.redirect(_back(v, bucket, form))
    v.flash(f"Deleted “{key}”.")
    return v.redirect(console_url(f"/b/{bucket}", prefix=form.get("prefix") or None))


async def object_page(v: Visit, *, link: str | None = None, link_expires: str | None = None) -> Response:
    bucket, key = v.params["bucket"], v.query.get("key", "")
    listed = await v.s3.read("GET", bucket, query={"versions": "", "prefix": key, "encoding-type": "url",
                                                    "max-keys": "1000"})
    versions, more = s3read.versions(listed, key)
    try:
        head: Answer | None = await v.s3.read("HEAD", bucket, key)
    except S3Error as exc:
        if exc.code != "NoSuchKey":
            raise
        if not versions:
            v.flash(f"There is no object “{key}” in {bucket}, nor any version of it.", "error")
            return v.redirect(console_url(f"/b/{bucket}", prefix=_parent(key) or None))
        head = None  # the current version is a delete marker: its versions are still there
    tags = s3read.tags(await v.s3.read("GET", bucket, key, query={"tagging": ""})) if head else []
    headers = head.headers if head else {}
    metadata = sorted((k[len("x-amz-meta-"):], val) for k, val in headers.items() if k.startswith("x-amz-meta-"))
    parent = _parent(key)
    return v.render("object.html", bucket=bucket, key=key, head=headers, tags=tags, metadata=metadata,
                    versions=versions, more_versions=more, parent=parent, expiries=EXPIRIES, link=link,
                    link_expires=link_expires, tag_limit=TAG_LIMIT)


async def download(v: Visit) -> Response:
    bucket, key = v.params["bucket"], v.query.get("key", "")
    name = key.rsplit(DELIMITER, 1)[-1] or "download"
    query = {"response-content-disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}"}
    if v.query.get("version_id"):
        query["versionId"] = v.query["version_id"]
    response = await v.s3.response("GET", bucket, key, query=query)
    response.headers.update({"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox",
                             "Cache-Control": "no-store"})
    return response


async def presign(v: Visit) -> Response:
    bucket = v.params["bucket"]
    form = await v.form()
    key, version = form.get("key", ""), form.get("version_id") or None
    try:
        expires = int(form.get("expires", "3600"))
    except ValueError:
        expires = -1
    v.query["key"] = key
    if not 1 <= expires <= MAX_EXPIRY:
        v.flash(f"A link lasts 1 second to {MAX_EXPIRY // 86400} days.", "error")
        return await object_page(v)
    await v.s3.read("HEAD", bucket, key, query={"versionId": version} if version else None)  # as the user: may they?
    secret = v.state.credentials.secret_for(v.access_key)
    if secret is None:
        raise S3Error("InvalidAccessKeyId")
    link = presigned_get(scheme=v.request.url.scheme, host=v.request.headers.get("host", "localhost"),
                         bucket=bucket, key=key, version_id=version, access_key=v.access_key, secret=secret,
                         region=v.state.config.region, expires=expires)
    shown = dict(EXPIRIES).get(str(expires), f"{expires} seconds")
    return await object_page(v, link=link, link_expires=shown)


def parse_tags(text: str) -> list[tuple[str, str]]:
    """``key=value`` lines (blank lines skipped); ValueError naming a bad line."""
    tags = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"line {number} is not key=value")
        tags.append((name.strip(), value.strip()))
    return tags


async def put_tags(v: Visit) -> Response:
    bucket = v.params["bucket"]
    form = await v.form()
    key = form.get("key", "")
    back = console_url(f"/b/{bucket}/object", key=key)
    try:
        tags = parse_tags(form.get("tags", ""))
    except ValueError as exc:
        v.flash(f"Tags not saved: {exc}.", "error")
        return v.redirect(back)
    try:
        if tags:
            body = document("Tagging", [("TagSet", [("Tag", [("Key", k), ("Value", val)]) for k, val in tags])])
            await v.s3.read("PUT", bucket, key, query={"tagging": ""}, body=body,
                            headers={"content-type": "application/xml"})
        else:
            await v.s3.read("DELETE", bucket, key, query={"tagging": ""})
    except S3Error as exc:
        v.flash(f"Tags not saved: {exc.code}: {exc.message}", "error")
        return v.redirect(back)
    v.flash("Tags saved.")
    return v.redirect(back)


async def restore_version(v: Visit) -> Response:
    """Restore = copy the old version over the key (a new current version)."""
    bucket = v.params["bucket"]
    form = await v.form()
    key, version = form.get("key", ""), form.get("version_id", "")
    back = console_url(f"/b/{bucket}/object", key=key)
    source = f"/{bucket}/{quote(key, safe='/')}?versionId={quote(version, safe='')}"
    try:
        await v.s3.read("PUT", bucket, key, headers={"x-amz-copy-source": source})
    except S3Error as exc:
        v.flash(f"Version {version} was not restored: {exc.code}: {exc.message}", "error")
        return v.redirect(back)
    v.flash(f"Version {version} restored as the current version of “{key}”.")
    return v.redirect(back)
