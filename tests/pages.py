"""Reading pages like a user does: find forms, their tokens and links."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "page has no form with a CSRF token"
    return match.group(1)


def confirmation_fields(html: str) -> dict[str, str]:
    """The hidden fields of a page's confirmation form (class bo-confirm): its CSRF token and what it carries.

    A page of another form: its CSRF token.
    """
    match = re.search(r'<form method="post" class="bo-confirm"[^>]*>(.*?)</form>', html, flags=re.S)
    if not match:
        return {"csrf_token": csrf_token(html)}
    return dict(re.findall(r'<input[^>]* name="(\w+)" type="hidden" value="([^"]*)"', match.group(1)))


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


def flashes(html: str) -> list[str]:
    """The flash messages at the top of a page (what just happened, or why not)."""
    return [text(message) for message in re.findall(r'<p class="flash flash-\w+"[^>]*>(.*?)</p>', html, flags=re.S)]


def field_error(html: str, field: str) -> str | None:
    """The error shown next to a form field, or None when the field has none."""
    match = re.search(rf'<p class="error" id="{re.escape(field)}-error">(.*?)</p>', html, flags=re.S)
    return text(match.group(1)) if match else None


def ticket_card(html: str, position: int) -> str:
    """The part of the booker's overview about one ticket."""
    match = re.search(rf'<li class="ticket[^"]*" id="ticket-{position}">(.*?)</li>', html, flags=re.S)
    assert match, f"overview shows no ticket {position}"
    return match.group(1)


def submit_form(client, path: str, *, action: str | None = None, **fields: str):
    """Open the page with a form, then post it (to `action`, else back to the page) with its CSRF token."""
    page = client.get(path)
    assert page.status_code == 200, f"{path} answered {page.status_code}"
    return client.post(action or path, data={"csrf_token": csrf_token(page.get_data(as_text=True)), **fields})


def whatsapp_text(location: str) -> str:
    """The message a wa.me click-to-chat link prefills."""
    from urllib.parse import parse_qs

    parts = urlsplit(location)
    assert parts.scheme == "https" and parts.netloc == "wa.me", f"not a WhatsApp link: {location}"
    [message] = parse_qs(parts.query)["text"]
    return message


def whatsapp_link(html: str) -> str:
    """The "Open WhatsApp" link of the page a WhatsApp share leads to."""
    [link] = [href for href in hrefs(html) if href.startswith("https://wa.me/")]
    return link


def share_via_whatsapp(client, overview_path: str, position: int) -> str:
    """Press the WhatsApp button of a ticket's share page; returns the share link's path."""
    page = client.get(f"{overview_path}/tickets/{position}/share").get_data(as_text=True)
    action = next(action for action in form_actions(page) if action.endswith("/share/whatsapp"))
    version = re.search(r'name="share_version" type="hidden" value="(\d+)"', page).group(1)
    response = client.post(action, data={"csrf_token": csrf_token(page), "share_version": version})
    assert response.status_code == 303, f"WhatsApp share answered {response.status_code}"
    whatsapp_page = client.get(response.headers["Location"])
    assert whatsapp_page.status_code == 200
    [link] = re.findall(r"https?://\S+/t/\S+", whatsapp_text(whatsapp_link(whatsapp_page.get_data(as_text=True))))
    return path_of(link)


def pdf_text(pdf: bytes) -> list[str]:
    """The text of each page of a PDF."""
    import pypdfium2

    return [page.get_textpage().get_text_range() for page in pypdfium2.PdfDocument(pdf)]
