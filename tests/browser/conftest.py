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


class WhatsAppStandIn:
    """wa.me and api.whatsapp.com as they answer today, on loopback over TLS.

    ``https://wa.me/?text=…`` answers 302 to ``https://api.whatsapp.com/send/?text=…``,
    which shows a page: so a browser that blocks the redirect (a CSP form-action that
    allows only wa.me) never gets there, as on a real phone.
    """

    HOSTS = ("wa.me", "api.whatsapp.com")

    def __init__(self) -> None:
        import ssl
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        import trustme

        #: (host, path) of every request, in order.
        self.visits: list[tuple[str, str]] = []
        visits = self.visits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host = self.headers.get("Host", "").split(":")[0]
                visits.append((host, self.path))
                if host == "wa.me":
                    query = urlsplit(self.path).query
                    self.send_response(302)
                    self.send_header("Location", f"https://api.whatsapp.com/send/?{query}&type=custom_url&app_absent=0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b"<!doctype html><html lang=en><title>Share on WhatsApp</title><p>Continue to chat</p></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        trustme.CA().issue_cert(*self.HOSTS).configure_cert(context)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def chromium_flags(self) -> list[str]:
        """Send Chromium's connections for these hosts here, and take the test certificate."""
        rules = ", ".join(f"MAP {host} 127.0.0.1:{self.port}" for host in self.HOSTS)
        return [f"--host-resolver-rules={rules}", "--ignore-certificate-errors"]


@pytest.fixture(scope="session")
def whatsapp() -> Iterator[WhatsAppStandIn]:
    stand_in = WhatsAppStandIn()
    yield stand_in
    stand_in.server.shutdown()


@pytest.fixture(scope="session")
def chromium_driver() -> Iterator[object]:
    """Playwright, for launching Debian's Chromium (once for the session, more for a test that needs its own flags)."""
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI must run the browser tests)", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright.chromium


@pytest.fixture(scope="session")
def browser(chromium_driver, whatsapp) -> Iterator[object]:
    browser = chromium_driver.launch(
        executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_FLAGS, *whatsapp.chromium_flags()]
    )
    yield browser
    browser.close()


@pytest.fixture
def new_context(browser, live_server):
    """Factory: a browser context (a person's own browser) on the live server; closed after the test.

    `in_browser` opens it in another browser than the session's (one launched with flags of its own).
    """
    contexts = []

    def new_context(
        device: dict | None = None, *, locale: str = "en-GB", bypass_csp: bool = True, in_browser=None, **options
    ):
        # bypass_csp lets the test inject axe-core (the site keeps sending its Content-Security-Policy);
        # a test of what the policy does itself passes bypass_csp=False.
        context = (in_browser or browser).new_context(
            **(device or PHONE), base_url=live_server, locale=locale, bypass_csp=bypass_csp, accept_downloads=True,
            **options,
        )
        context.set_default_timeout(10_000)
        # Nothing may leave the machine: any request to another host than the portal and the
        # WhatsApp stand-in (which Chromium resolves to loopback) is refused unless a test routes it.
        allowed = (live_server, *(f"https://{host}/" for host in WhatsAppStandIn.HOSTS))
        context.route(lambda url: not url.startswith(allowed), lambda route: route.abort())
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
