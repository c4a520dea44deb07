"""Real browser: Debian's Chromium driven by Playwright, axe-core for accessibility.

Never `playwright install`: the browser comes from the distribution (apt-get install chromium).
Without it these tests are skipped on a laptop and fail in CI (CI=true), where they must run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.browsing import AXE, DESKTOP, PHONE

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
#: Without the background-networking flags Chromium keeps trying to reach the internet.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM}: apt-get install chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed: pip install -e '.[test]' (never `playwright install`)"
    if not AXE.exists():
        return "axe-core not found in node_modules: npm ci (make install-test does it)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI must run the browser tests)", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def new_context(browser, live_server):
    """Factory: a browser context (a person's own browser) on the live server; closed after the test."""
    contexts = []

    def new_context(device: dict | None = None, *, locale: str = "en-GB", **options):
        # bypass_csp lets only the test inject axe-core; the site keeps its Content-Security-Policy.
        context = browser.new_context(
            **(device or PHONE), base_url=live_server, locale=locale, bypass_csp=True, accept_downloads=True, **options
        )
        context.set_default_timeout(10_000)
        # Nothing may leave the machine: any request to another host is refused unless a test routes it.
        context.route(lambda url: not url.startswith(live_server) and not url.startswith("https://wa.me/"),
                      lambda route: route.abort())
        contexts.append(context)
        return context

    yield new_context
    for context in contexts:
        context.close()


@pytest.fixture
def phone(new_context):
    """A page in a 390×844 phone with touch."""
    return new_context(PHONE).new_page()


@pytest.fixture
def desktop(new_context):
    return new_context(DESKTOP).new_page()
