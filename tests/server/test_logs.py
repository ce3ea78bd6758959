"""Logs: one access line per request with the request id the answer carries;
JSON lines with --log-format json; no secret ever written."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import LiveServer, start_server

WAIT_LIMIT_S = 30.0


@pytest.fixture(scope="module")
def json_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = Path(tmp_path_factory.mktemp("jsonlogs")) / "data"
    with start_server(data, extra_args=["--log-format", "json", "--metrics-token", "token-never-logged"]) as server:
        yield server


def records(server: LiveServer) -> list[dict[str, Any]]:
    """Every line of the server's output, each a JSON object."""
    lines = [line for line in server.log().splitlines() if line.strip()]
    assert lines
    return [json.loads(line) for line in lines]


def access_lines(server: LiveServer, request_id: str) -> list[dict[str, Any]]:
    """The access lines of one request, once there is one (it is written as the
    answer's last byte goes out, so it may trail the answer a little)."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while True:
        found = [r for r in records(server) if r["logger"] == "fragstore.access" and r.get("request_id") == request_id]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def text_lines(server: LiveServer, request_id: str) -> list[str]:
    return server.log_lines(f"id={request_id}", WAIT_LIMIT_S)


def test_json_access_line_per_request(json_server: LiveServer) -> None:
    s3 = json_server.client()
    s3.create_bucket(Bucket="logged")
    body = os.urandom(12_345)
    put = s3.put_object(Bucket="logged", Key="dir/k ey", Body=body)
    request_id = put["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    [line] = access_lines(json_server, request_id)
    assert line["level"] == "info" and line["time"].endswith("Z")
    assert line["operation"] == "PutObject" and line["method"] == "PUT" and line["status"] == 200
    assert line["path"] == "/logged/dir/k%20ey" and line["query"] == ""
    assert line["bytes_in"] >= len(body) and line["access_key"] == json_server.access_key
    assert line["duration_ms"] >= 0 and line["client"].startswith("127.0.0.1:")

    get = s3.get_object(Bucket="logged", Key="dir/k ey")
    assert get["Body"].read() == body
    [line] = access_lines(json_server, get["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"])
    assert line["operation"] == "GetObject" and line["bytes_out"] == len(body)


def test_every_request_gets_one_line(json_server: LiveServer) -> None:
    refused = json_server.raw("GET", "/logged", sign=False)
    assert refused.status == 403
    [line] = access_lines(json_server, refused.headers["x-amz-request-id"])
    assert line["status"] == 403 and line["operation"] == "ListObjects" and line["access_key"] is None
    with urllib.request.urlopen(json_server.url + "/_fragstore/health") as health:
        request_id = health.headers["x-amz-request-id"]
    assert [line["operation"] for line in access_lines(json_server, request_id)] == ["Health"]


def test_no_secrets_in_logs(json_server: LiveServer) -> None:
    s3 = json_server.client()
    s3.create_bucket(Bucket="presigned-logs")
    s3.put_object(Bucket="presigned-logs", Key="k", Body=b"data")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "presigned-logs", "Key": "k"}, ExpiresIn=300)
    signature = url.split("X-Amz-Signature=")[1].split("&")[0]
    with urllib.request.urlopen(url) as response:
        assert response.read() == b"data"
        request_id = response.headers["x-amz-request-id"]
    [line] = access_lines(json_server, request_id)
    assert "X-Amz-Signature=REDACTED" in line["query"] and "X-Amz-Credential=REDACTED" in line["query"]
    json_server.raw("GET", "/_fragstore/metrics", sign=False, headers={"Authorization": "Bearer token-never-logged"})
    log = json_server.log()
    assert signature not in log
    assert json_server.secret_key not in log
    assert "token-never-logged" not in log
    assert "Signature=" not in log.replace("X-Amz-Signature=REDACTED", "")


def test_text_access_line_names_the_request(live_server: LiveServer, bucket: str) -> None:
    response = live_server.client().put_object(Bucket=bucket, Key="text-log", Body=b"abc")
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    [line] = text_lines(live_server, request_id)
    assert "fragstore.access" in line and f"PUT /{bucket}/text-log PutObject 200" in line
    assert live_server.secret_key not in live_server.log()
