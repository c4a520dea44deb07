"""Where a redirect taken from the request (a Referer, a ?next=) may lead: a path of this site only."""

from __future__ import annotations

from urllib.parse import urlsplit


def local_path(target: str | None) -> str | None:
    """`target` when it is a path on this site that no browser reads as another site, else None.

    Refused: another scheme or host; a path starting ``//`` (``//evil.example/x`` is
    protocol-relative); any backslash (browsers read ``/\\evil.example`` as ``//``); and
    anything unprintable (a line break cannot go into a Location header).
    """
    if not target or not target.isprintable() or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return target
