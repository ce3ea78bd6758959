"""Who is asking: SigV2 and SigV4 (header and presigned), aws-chunked
signatures, POST Object form signatures and policies, and the credentials
that sign them. Authentication runs once per request, before dispatch
(server/s3/dispatch.py), through server/auth/authenticate.py (or
post_auth.py for a form)."""
