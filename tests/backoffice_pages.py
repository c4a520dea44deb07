"""Reading backoffice pages like an organizer does: the ⋯ menus, the timeline, confirmations."""

from __future__ import annotations

import re

from tests.pages import confirmation_fields, csrf_token, text


def order_path(order_id: int) -> str:
    return f"/backoffice/orders/{order_id}"


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, f"{path} answered {response.status_code}"
    return response.get_data(as_text=True)


def confirm(client, path: str, **fields: str):
    """Open an action's confirmation page and press its button (with the page's CSRF token and hidden fields)."""
    return client.post(path, data={**confirmation_fields(page(client, path)), **fields})


def menu(html: str, menu_id: str = "order-actions") -> str:
    """The HTML of one ⋯ menu's list."""
    match = re.search(rf'<ul class="bo-menu-list" id="{menu_id}">(.*?)</ul>', html, flags=re.S)
    assert match, f"page has no menu {menu_id}"
    return match.group(1)


def menu_entry(html: str, label: str, menu_id: str = "order-actions") -> str:
    """One item of a ⋯ menu: its link or disabled button, and the reason it is disabled."""
    for item in re.findall(r"<li>(.*?)</li>", menu(html, menu_id), flags=re.S):
        if re.search(rf">{re.escape(label)}</(a|button)>", item):
            return item
    raise AssertionError(f"menu {menu_id} has no item {label!r}")


def is_disabled(entry: str) -> bool:
    return "<button" in entry and " disabled" in entry


def timeline(html: str) -> list[str]:
    """The history timeline's entries as text, newest first (as the page shows them)."""
    match = re.search(r'<ol class="bo-timeline">(.*?)</ol>', html, flags=re.S)
    assert match, "page has no timeline"
    return [text(item) for item in re.findall(r"<li>(.*?)</li>", match.group(1), flags=re.S)]


def search_orders(client, q: str, **filters: str) -> str:
    """Search the orders list as its form does (posted, so the words stay out of the address); the list shown."""
    html = page(client, "/backoffice/orders")
    response = client.post("/backoffice/orders", data={"csrf_token": csrf_token(html), "q": q, **filters})
    assert response.status_code == 303 and "q=" not in response.headers["Location"]
    return page(client, response.headers["Location"])
