"""The web console, served by fragstore at ``/_fragstore/console/`` (``--console off``: not served).

Server-rendered pages (Jinja2 templates, autoescaped), one stylesheet and one
small script, all served from this package: no CDN, no build step. Sign in
with an access key and its secret; every action is an S3 request dispatched
as that user through the same authorization as the S3 API
(server/console/s3call.py; the seam in dispatch is
server/s3/dispatch.py ``dispatch_as_session``).

    web.py          the front door: route, session, CSRF, errors
    routes.py       the URL table
    sessions.py     sessions, cookies, CSRF tokens, the login rate limit
    guard.py        headers of console pages; sandboxing objects a browser would run
    s3call.py       internal S3 requests as the logged-in user
    s3read.py       S3 XML answers back into values
    pages_*.py      pages and form actions; upload_api.py the upload script's JSON
    savings.py, charts.py, views.py   what was saved, SVG charts, number formats
    policy.py, presign.py             policy JSON checks, presigned links
    templates/, static/               HTML, CSS, JS

docs/CONSOLE.md says what it does and how it is built.
"""
