"""The S3 protocol: the routing table (request -> AWS operation name),
dispatch (authenticate -> authorize -> handler), the handlers by operation
family, XML in and out, and the one table of S3 errors."""
