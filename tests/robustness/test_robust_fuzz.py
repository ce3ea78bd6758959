"""A short fuzz run: a few hundred hypothesis-made raw requests against one
server; none may get a 5xx (501 NotImplemented aside), the server must stay up
and log no error. benchmarks/fuzz.py is the long run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.live_server import LiveServer, start_server
from tests.robustness.fuzzing import (
    FuzzTally,
    RawRequest,
    healthy,
    logged_errors,
    prepare,
    raw_requests,
    send,
)

EXAMPLES = 400


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Any]]:
    with start_server(tmp_path_factory.mktemp("fuzz") / "data") as server:
        s3 = server.client()
        prepare(server, s3)
        yield server, s3


def test_fuzzed_requests_get_no_5xx(fuzzed: tuple[LiveServer, Any]) -> None:
    server, s3 = fuzzed
    tally = FuzzTally()

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(raw_requests())
    def one(request: RawRequest) -> None:
        if tally.tried % 50 == 0:
            assert healthy(server), f"server down after {tally.tried} requests"
            prepare(server, s3)
        send(server, request, tally)
        assert not tally.server_errors, tally.server_errors[-1]

    one()
    assert tally.tried >= EXAMPLES and tally.answered > EXAMPLES // 2, tally.summary()
    assert healthy(server)
    assert tally.timeouts == 0, tally.summary()
    server.stop()
    logged = logged_errors(server.log())
    assert logged == [], logged[:5]
