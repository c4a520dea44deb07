"""Reading pages like a user does: find forms, their tokens and links."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "page has no form with a CSRF token"
    return match.group(1)


def path_of(url: str) -> str:
    """The path (and query) of an absolute link from an email, for the test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def form_actions(html: str) -> list[str]:
    return [unescape(action) for action in re.findall(r'<form method="post" action="([^"]+)"', html)]


def hrefs(html: str) -> list[str]:
    return [unescape(href) for href in re.findall(r'href="([^"]+)"', html)]


def text(html: str) -> str:
    """The visible text of a page, whitespace collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()
