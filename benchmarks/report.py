"""Writing a benchmark's report: printed as markdown, and kept as markdown and JSON in an output folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_report(out: Path, name: str, doc: dict[str, Any], markdown: Callable[[dict[str, Any]], str]) -> None:
    """Print ``markdown(doc)`` and write it to ``out/NAME.md``, ``doc`` to ``out/NAME.json``."""
    text = markdown(doc)
    print(text, end="")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text(text)
    (out / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
