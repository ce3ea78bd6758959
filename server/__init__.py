"""fragstore's S3 front: HTTP, SigV4, XML. Imports only dedup's public API."""
