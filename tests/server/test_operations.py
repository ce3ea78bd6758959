"""The README's list of operations is the routing table's (server/s3/operations.py)."""

from __future__ import annotations

from pathlib import Path

from server.s3.dispatch import HANDLERS
from server.s3.operations import BEGIN, END, markdown, named
from server.s3.routing import RESERVED, RESERVED_USER

ROOT = Path(__file__).resolve().parents[2]


def test_readme_lists_the_operations_of_the_routing_table() -> None:
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    assert readme[start:end] == markdown(), "regenerate: python -m server.s3.operations"


def test_every_handler_is_an_operation_the_routing_table_names() -> None:
    """...or one of fragstore's own endpoints under /_fragstore/."""
    assert set(HANDLERS) - named() <= set(RESERVED.values()) | set(RESERVED_USER.values())
