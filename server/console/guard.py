"""What keeps the console safe on an origin it shares with stored objects, and
the headers of every console answer.

The console is served on the S3 endpoint's own origin. An object a browser
would run as a page (HTML, XHTML, SVG, XML), opened from a presigned link,
would then run with the console's origin: it could open a console page and
act as whoever is logged in. So while the console is on, such answers carry
``Content-Security-Policy: sandbox``: the browser shows them in an opaque
origin, without scripts, and the console is out of their reach. Other types
are untouched (a PDF or an image shows as before). For a complete separation,
put the console behind another host name (docs/CONSOLE.md).

Console pages themselves allow only their own scripts and styles (no inline
script, no framing, forms posting only to the console), are never cached, and
send no referrer outside the origin.
"""

from __future__ import annotations

from collections.abc import Mapping

BODY_READ = "fragstore.console.body_read"  # scope key: the console has read the request body

ACTIVE_TYPES = ("text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
                "application/xslt+xml", "text/xsl")
OBJECT_READS = frozenset({"GetObject"})

PAGE_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def is_active(content_type: str | None) -> bool:
    """Whether a browser would run content of this type as a document with scripts."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ACTIVE_TYPES or media.endswith("+xml")


def user_content_headers(operation: str, content_type: str | None) -> dict[str, str]:
    """Headers that keep an object answer from running with the console's origin."""
    if operation in OBJECT_READS and is_active(content_type):
        return {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}
    return {}
