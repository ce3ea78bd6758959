"""IAM wildcards: ``*`` matches any run of characters (``/`` included), ``?``
exactly one; every other character stands for itself. Patterns are compiled
once and cached."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=4096)
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def matches(pattern: str, text: str, *, ignore_case: bool = False) -> bool:
    return _compiled(pattern, ignore_case).fullmatch(text) is not None


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text
