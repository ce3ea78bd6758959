"""fragstore benchmarks: they talk to a running server through boto3 only."""
