"""The aws CLI against the live server: aws s3 (mb, cp, sync, ls, rm, rb) and aws s3api,
over HTTP here and over HTTPS in test_tls.py.

Most commands run the CLI's own driver in this process (awscli.clidriver, what the
``aws`` script calls): starting a new interpreter per command costs a second or
more. test_cli_reports_errors runs the ``aws`` executable itself."""

from __future__ import annotations

import contextlib
import filecmp
import gc
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from awscli.clidriver import create_clidriver

from tests.live_server import LiveServer

AWS = str(Path(sys.executable).with_name("aws"))


def aws_env(server: LiveServer, home: Path) -> dict[str, str]:
    """Environment for the CLI: the server's keys, path-style addressing, no user config."""
    config = home / "aws-config"
    config.write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k == "AWS_DATA_PATH"}
    env.update(AWS_ACCESS_KEY_ID=server.access_key, AWS_SECRET_ACCESS_KEY=server.secret_key,
               AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(home / "no-credentials"),
               AWS_DEFAULT_REGION="us-east-1", AWS_RETRY_MODE="standard", AWS_MAX_ATTEMPTS="1")
    return env


@contextlib.contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_aws(server: LiveServer, home: Path, *args: str, binary: bool = False) -> str:
    """Run an aws CLI command (``binary``: the ``aws`` executable, else its driver
    in this process); fail the test with its output if it fails."""
    argv = ["--endpoint-url", server.url, *(["--no-verify-ssl"] if server.tls else []), *args]
    if binary:
        done = subprocess.run([AWS, *argv], env=aws_env(server, home), capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}\n{server.log()[-3000:]}"
        return done.stdout
    out, err = io.StringIO(), io.StringIO()
    with environment(aws_env(server, home)), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = create_clidriver().main(argv)
    gc.collect()  # close the driver's pooled connections, as an exiting process would
    assert code == 0, f"{' '.join(args)} failed:\n{out.getvalue()}\n{err.getvalue()}\n{server.log()[-3000:]}"
    return out.getvalue()


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "top.txt": b"top level\n",
        "a/one.bin": os.urandom(70_000),
        "a/b/two.txt": b"nested " * 100,
        "a/b/c/three with space.txt": b"spaces",
        "unicode/\u00e9t\u00e9.txt": b"summer",
        "empty.dat": b"",
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def same_tree(left: Path, right: Path) -> bool:
    cmp = filecmp.dircmp(left, right)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    if filecmp.cmpfiles(left, right, cmp.common_files, shallow=False)[1:] != ([], []):
        return False
    return all(same_tree(left / d, right / d) for d in cmp.common_dirs)


def cli_round_trip(server: LiveServer, tmp: Path, *, full: bool = True, binary: bool = False) -> None:
    """mb, cp (multipart both ways), sync of a nested tree up and back, ls, rm, rb.
    ``full=False`` keeps to the transfers (each start of the executable costs a second or more)."""

    def aws(*args: str) -> str:
        return run_aws(server, tmp, *args, binary=binary)

    bucket = f"cli-{uuid.uuid4().hex[:12]}"
    aws("s3", "mb", f"s3://{bucket}")
    big = tmp / "big.bin"
    big.write_bytes(os.urandom(20 * 1024 * 1024 + 12345))  # > 8 MiB: multipart
    aws("s3", "cp", str(big), f"s3://{bucket}/big.bin")
    aws("s3", "cp", f"s3://{bucket}/big.bin", str(tmp / "big.out"))
    assert (tmp / "big.out").read_bytes() == big.read_bytes()
    tree = tmp / "tree"
    make_tree(tree)
    aws("s3", "sync", str(tree), f"s3://{bucket}/tree")
    back = tmp / "back"
    aws("s3", "sync", f"s3://{bucket}/tree", str(back))
    assert same_tree(tree, back)
    if full:
        assert bucket in aws("s3", "ls")
        listing = aws("s3", "ls", "--recursive", f"s3://{bucket}/tree/")
        assert "three with space.txt" in listing and "big.bin" not in listing
        assert "upload:" not in aws("s3", "sync", str(tree), f"s3://{bucket}/tree")  # unchanged
        aws("s3", "rm", "--recursive", f"s3://{bucket}/")
        assert aws("s3", "ls", f"s3://{bucket}/") == ""
        aws("s3", "rb", f"s3://{bucket}")
    else:
        aws("s3", "rb", "--force", f"s3://{bucket}")
    assert bucket not in aws("s3", "ls")


def test_cli_s3_commands(live_server: LiveServer, tmp_path: Path) -> None:
    cli_round_trip(live_server, tmp_path)


def test_cli_s3api(live_server: LiveServer, tmp_path: Path, bucket: str) -> None:
    def api(*args: str) -> Any:
        out = run_aws(live_server, tmp_path, "s3api", *args, "--bucket", bucket, "--output", "json")
        return json.loads(out) if out.strip() else {}

    body = tmp_path / "body.txt"
    body.write_bytes(b"s3api body")
    put = api("put-object", "--key", "k", "--body", str(body), "--metadata", "a=1", "--content-type", "text/plain")
    assert put["ETag"]
    head = api("head-object", "--key", "k")
    assert head["ContentLength"] == 10 and head["Metadata"] == {"a": "1"} and head["ContentType"] == "text/plain"
    assert [o["Key"] for o in api("list-objects-v2")["Contents"]] == ["k"]
    api("copy-object", "--key", "k2", "--copy-source", f"{bucket}/k", "--metadata-directive", "REPLACE")
    upload = api("create-multipart-upload", "--key", "mp")
    part = api("upload-part", "--key", "mp", "--upload-id", upload["UploadId"], "--part-number", "1", "--body", str(body))
    parts = json.dumps({"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    api("complete-multipart-upload", "--key", "mp", "--upload-id", upload["UploadId"], "--multipart-upload", parts)
    out = tmp_path / "out.txt"
    run_aws(live_server, tmp_path, "s3api", "get-object", "--bucket", bucket, "--key", "mp", str(out))
    assert out.read_bytes() == b"s3api body"
    deleted = api("delete-objects", "--delete", json.dumps({"Objects": [{"Key": "k"}, {"Key": "k2"}, {"Key": "mp"}]}))
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["k", "k2", "mp"]


def test_cli_bucket_cors(live_server: LiveServer, tmp_path: Path, bucket: str) -> None:
    def api(*args: str) -> Any:
        out = run_aws(live_server, tmp_path, "s3api", *args, "--bucket", bucket, "--output", "json")
        return json.loads(out) if out.strip() else {}

    rules = {"CORSRules": [{"ID": "web uploads", "AllowedOrigins": ["https://app.example.com"],
                            "AllowedMethods": ["PUT", "POST"], "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"],
                            "MaxAgeSeconds": 3000}]}
    config = tmp_path / "cors.json"
    config.write_text(json.dumps(rules))
    api("put-bucket-cors", "--cors-configuration", f"file://{config}")
    assert api("get-bucket-cors") == rules
    answer = live_server.raw("OPTIONS", f"/{bucket}/k", sign=False, headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT"})
    assert answer.status == 200 and answer.headers["access-control-allow-methods"] == "PUT, POST"
    api("delete-bucket-cors")
    with pytest.raises(AssertionError, match="NoSuchCORSConfiguration"):
        api("get-bucket-cors")


def test_cli_reports_errors(live_server: LiveServer, tmp_path: Path) -> None:
    cmd = [AWS, "--endpoint-url", live_server.url, "s3api", "head-bucket", "--bucket", "no-such-bucket-cli"]
    done = subprocess.run(cmd, env=aws_env(live_server, tmp_path), capture_output=True, text=True)
    assert done.returncode != 0 and "404" in done.stderr


pytestmark = pytest.mark.skipif(not Path(AWS).exists(), reason="aws CLI not installed in the environment")


def test_cli_encryption_at_rest(live_server: LiveServer, tmp_path: Path, bucket: str) -> None:
    """aws s3 cp --sse AES256 and --sse-c (multipart both ways), and the
    bucket's default encryption through s3api, as the README shows them."""
    def aws(*args: str) -> str:
        return run_aws(live_server, tmp_path, *args)

    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))  # over the CLI's 8 MiB multipart threshold
    key = tmp_path / "customer.key"
    key.write_bytes(os.urandom(32))
    aws("s3", "cp", str(big), f"s3://{bucket}/s3.bin", "--sse", "AES256")
    head = json.loads(aws("s3api", "head-object", "--bucket", bucket, "--key", "s3.bin"))
    assert head["ServerSideEncryption"] == "AES256"
    aws("s3", "cp", str(big), f"s3://{bucket}/c.bin", "--sse-c", "AES256", "--sse-c-key", f"fileb://{key}")
    back = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://{bucket}/c.bin", str(back), "--sse-c", "AES256", "--sse-c-key", f"fileb://{key}")
    assert back.read_bytes() == big.read_bytes()
    aws("s3api", "put-bucket-encryption", "--bucket", bucket, "--server-side-encryption-configuration",
        '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}')
    aws("s3", "cp", str(key), f"s3://{bucket}/default.bin")
    head = json.loads(aws("s3api", "head-object", "--bucket", bucket, "--key", "default.bin"))
    assert head["ServerSideEncryption"] == "AES256"
