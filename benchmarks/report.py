"""Writing a benchmark's report: printed as markdown, and kept as markdown and JSON in an output folder."""

from __future__ import annotations

import json
import shlex
import sys
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


def command_line(module: str, as_module: bool, argv: list[str] | None) -> str:
    """How the benchmark was started, for its report: ``python -m MODULE ARGS``
    (or ``python path/to/module.py ARGS`` when run as a script)."""
    launcher = f"python -m {module}" if as_module else f"python {module.replace('.', '/')}.py"
    return f"{launcher} {shlex.join(sys.argv[1:] if argv is None else argv)}".strip()
