"""Who is asking: SigV4 (header and presigned), aws-chunked signatures and the
credentials that sign them. Authentication runs once per request, before
dispatch (server/s3/dispatch.py)."""
