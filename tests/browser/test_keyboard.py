"""Keyboard only: Tab reaches every action of the overview and the share page, and focus is visible."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.browsing import DESKTOP
from tests.browser.test_journeys import emailed_link

#: Everything a person can act on.
ACTIONABLE = "a[href], button:not([disabled]), input:not([type=hidden]), select, textarea, summary"


def tab_through(page) -> list[dict]:
    """Press Tab from the top of the page until focus comes round again; what got focus, in order."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    seen: list[dict] = []
    for _ in range(100):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => {
                const el = document.activeElement;
                if (!el || el === document.body) return null;
                const style = getComputedStyle(el);
                return {kb: el.dataset.kb, text: (el.innerText || el.value || el.getAttribute('aria-label') || '').trim(),
                        outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2};
            }"""
        )
        if focused is None or (seen and focused["kb"] == seen[0]["kb"]):
            break
        seen.append(focused)
    return seen


def assert_every_action_reached_with_visible_focus(page, what: str) -> list[str]:
    page.evaluate(f"document.querySelectorAll({ACTIONABLE!r}).forEach((el, i) => el.dataset.kb = i)")
    actions = page.evaluate(
        f"[...document.querySelectorAll({ACTIONABLE!r})].filter(el => el.offsetParent !== null)"
        ".map(el => el.dataset.kb)"
    )
    focused = tab_through(page)
    reached = {item["kb"] for item in focused}
    assert set(actions) <= reached, f"{what}: Tab never reaches {set(actions) - reached}"
    invisible = [item["text"] for item in focused if not item["outline"]]
    assert not invisible, f"{what}: no visible focus on {invisible}"
    return [item["text"] for item in focused]


def test_keyboard_reaches_every_action_on_the_overview_and_share_page(new_context, make_order, smtp, deliver):
    make_order(tickets=2)
    overview = emailed_link(smtp, deliver, "booker@example.com")
    page = new_context(DESKTOP).new_page()
    page.goto(overview)

    # Claim ticket 1 with the keyboard alone.
    labels = assert_every_action_reached_with_visible_focus(page, "the overview")
    assert labels.count("Claim") == 2 and labels.count("Share") == 2
    page.locator("#ticket-1").get_by_role("link", name="Claim", exact=True).focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Submit").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#ticket-1 .status")).to_have_text("Personalised")
    deliver()
    smtp.take_one("booker@example.com")

    labels = assert_every_action_reached_with_visible_focus(page, "the overview with a personalised ticket")
    for action in ("Download", "Contact consumer desk", "Share", "Nederlands"):
        assert action in labels, f"Tab never reaches {action}"
    assert "Download all" not in labels  # one ticket is ready: its own button downloads it

    page.locator("#ticket-2").get_by_role("link", name="Share", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Share ticket 2")).to_be_visible()
    labels = assert_every_action_reached_with_visible_focus(page, "the share page")
    for action in ("WhatsApp", "Send", "Copy link", "Back to your tickets"):
        assert action in labels, f"Tab never reaches {action}"
