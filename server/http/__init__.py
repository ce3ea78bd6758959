"""HTTP: the protocol under S3. The limited httptools protocol (head limits,
idle timeouts, early answers with a lingering close), request bodies (length
limits, the body pipeline: aws-chunked decoding, payload digests and declared
checksums in :mod:`server.http.payload`; POST forms read as they stream in
:mod:`server.http.form`), byte ranges, dates and the
response classes. Nothing here knows an S3 operation."""
