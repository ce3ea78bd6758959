"""Render S3 response bodies: a tiny tree of (tag, value) pairs to XML bytes.

A value is text (str/int/bool), a list of child nodes, or None (element left
out); a tag may carry attributes after a space, written as they are. Text is escaped for XML 1.0; control characters S3 keys may hold are
written as character references, as S3 does (clients should ask for
encoding-type=url to get such keys back intact).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"

Value = str | int | bool | Sequence["Node"] | None
Node = tuple[str, Value]

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
_NEEDS_ESCAPE = re.compile(r"[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def escape(text: str) -> str:
    """XML text content for ``text``."""
    return _NEEDS_ESCAPE.sub(lambda m: _ESCAPES.get(m.group(), f"&#x{ord(m.group()):x};"), text)


def _text(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _render(out: list[str], tag: str, value: Value) -> None:
    if value is None:
        return
    close = tag.split(" ", 1)[0]  # a tag may carry attributes: 'Grantee xsi:type="Group"'
    if isinstance(value, (str, int, bool)):
        out.append(f"<{tag}>{_text(value)}</{close}>")
        return
    out.append(f"<{tag}>")
    for child_tag, child_value in value:
        _render(out, child_tag, child_value)
    out.append(f"</{close}>")


def document(root: str, children: Sequence[Node], *, namespace: bool = True) -> bytes:
    """A whole response body: XML declaration plus ``<root>`` (S3 namespace)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    attrs = f' xmlns="{S3_NAMESPACE}"' if namespace else ""
    out.append(f"<{root}{attrs}>")
    for tag, value in children:
        _render(out, tag, value)
    out.append(f"</{root}>")
    return "".join(out).encode("utf-8", "surrogatepass")


def text_document(root: str, text: str) -> bytes:
    """``<root xmlns=...>text</root>`` (GetBucketLocation's shape)."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{S3_NAMESPACE}">{escape(text)}</{root}>'
    ).encode()
