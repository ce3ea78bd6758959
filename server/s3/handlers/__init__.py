"""S3 operation handlers: parse the request, make one engine call, render.

Each handler takes a :class:`server.s3.context.RequestContext` and returns a
Starlette Response. Handlers never build error responses: they raise
S3Error (or let an engine exception through) and server/app.py renders it.
"""
