"""The upload script's endpoints (JSON): multipart uploads the browser drives
part by part, resumable, and single PUTs for small files.

The browser sends each part's bytes in the body of a console request; the
console passes that request's own stream to UploadPart (or PutObject) through
dispatch, so the handler reads it exactly as it reads an S3 client's body:
nothing is held whole in memory, the size is the declared Content-Length.

    POST /api/b/{bucket}/uploads       {"key", "content_type"} -> {"upload_id"}    CreateMultipartUpload
    GET  /api/b/{bucket}/uploads?key=K -> {"uploads": [{"upload_id", "initiated"}]} ListMultipartUploads
    GET  /api/b/{bucket}/parts?key=K&upload_id=U -> {"parts": [{"part_number", "size", "etag"}]}  ListParts
    PUT  /api/b/{bucket}/part?key=K&upload_id=U&part_number=N  (body) -> {"etag"}    UploadPart
    POST /api/b/{bucket}/complete?key=K&upload_id=U  {"parts": [{"part_number", "etag"}]} -> {"etag"}
    POST /api/b/{bucket}/abort?key=K&upload_id=U                                      AbortMultipartUpload
    PUT  /api/b/{bucket}/object?key=K  (body; Content-Type) -> {"etag"}              PutObject

Resuming (static/console.js): the script remembers, per bucket and key, the
upload id and the file's name, size and date in localStorage (no secret, no
data); dropping the same file again lists the upload's parts and sends only
the missing ones.
"""

from __future__ import annotations

from starlette.responses import Response

from server.console import s3read
from server.console.guard import BODY_READ
from server.console.s3call import Answer
from server.console.visit import BadForm, Visit
from server.s3.errors import S3Error
from server.s3.xmlrender import document

MAX_PARTS_LISTED = 10_000


def _key(v: Visit) -> str:
    key = v.query.get("key", "")
    if not key:
        raise BadForm("the key is missing")
    return key


async def create_upload(v: Visit) -> Response:
    doc = await v.json_body()
    key = str(doc.get("key", ""))
    if not key:
        raise BadForm("the key is missing")
    headers = {"content-type": str(doc.get("content_type") or "application/octet-stream")}
    answer = await v.s3.read("POST", v.params["bucket"], key, query={"uploads": ""}, headers=headers)
    return v.json({"upload_id": s3read.upload_id(answer), "key": key})


async def list_uploads(v: Visit) -> Response:
    key = _key(v)
    answer = await v.s3.read("GET", v.params["bucket"], query={"uploads": "", "prefix": key, "encoding-type": "url"})
    return v.json({"uploads": [{"upload_id": u.upload_id, "initiated": u.initiated}
                               for u in s3read.uploads(answer) if u.key == key]})


async def list_parts(v: Visit) -> Response:
    key, upload = _key(v), v.query.get("upload_id", "")
    found: list[dict[str, object]] = []
    marker = 0
    while len(found) < MAX_PARTS_LISTED:
        answer = await v.s3.read("GET", v.params["bucket"], key,
                                 query={"uploadId": upload, "part-number-marker": str(marker)})
        parts, truncated, marker = s3read.parts(answer)
        found += [{"part_number": p.number, "size": p.size, "etag": p.etag} for p in parts]
        if not truncated:
            break
    return v.json({"parts": found})


def _count_written(v: Visit, answer: Answer) -> None:
    length = v.request.headers.get("content-length", "0")
    if answer.status == 200 and length.isdigit():
        v.state.metrics.count_written(int(length))


async def upload_part(v: Visit) -> Response:
    key = _key(v)
    headers = {"content-length": v.request.headers.get("content-length", "")}
    if not headers["content-length"]:
        raise S3Error("MissingContentLength")
    query = {"uploadId": v.query.get("upload_id", ""), "partNumber": v.query.get("part_number", "")}
    v.request.scope[BODY_READ] = True  # the handler reads it (or the connection closes on an error)
    answer = await v.s3.read("PUT", v.params["bucket"], key, query=query, headers=headers,
                             stream=v.request.receive)
    _count_written(v, answer)
    return v.json({"etag": answer.headers.get("etag", "").strip('"')})


async def put_object(v: Visit) -> Response:
    key = _key(v)
    headers = {"content-length": v.request.headers.get("content-length", ""),
               "content-type": v.request.headers.get("content-type") or "application/octet-stream"}
    if not headers["content-length"]:
        raise S3Error("MissingContentLength")
    v.request.scope[BODY_READ] = True
    answer = await v.s3.read("PUT", v.params["bucket"], key, headers=headers, stream=v.request.receive)
    _count_written(v, answer)
    return v.json({"etag": answer.headers.get("etag", "").strip('"')})


async def complete_upload(v: Visit) -> Response:
    key = _key(v)
    doc = await v.json_body()
    try:
        parts = sorted((int(p["part_number"]), str(p["etag"])) for p in doc["parts"])
    except (KeyError, TypeError, ValueError):
        raise BadForm("parts must be a list of {part_number, etag}") from None
    body = document("CompleteMultipartUpload",
                    [("Part", [("PartNumber", n), ("ETag", f'"{etag}"')]) for n, etag in parts])
    answer = await v.s3.read("POST", v.params["bucket"], key, query={"uploadId": v.query.get("upload_id", "")},
                             body=body, headers={"content-type": "application/xml"})
    etag = next((e.text or "" for e in answer.xml().iter() if e.tag.endswith("ETag")), "")
    return v.json({"etag": etag.strip('"'), "key": key})


async def abort_upload(v: Visit) -> Response:
    key = _key(v)
    await v.s3.read("DELETE", v.params["bucket"], key, query={"uploadId": v.query.get("upload_id", "")})
    return v.json({"aborted": True})
