"""uvicorn serving an ASGI app with the limited protocol (server/http/limits.py)
on 127.0.0.1, in a thread of the test process: for tests of the protocol alone."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from server.http.limits import LimitedHttpToolsProtocol
from tests.live_server import free_port


@contextmanager
def serving(app: Any) -> Iterator[int]:
    """Serve ``app`` until the block ends; yields the port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http=LimitedHttpToolsProtocol,
                                           lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            pytest.fail("uvicorn did not start")
        threading.Event().wait(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join()
