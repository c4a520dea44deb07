"""Security headers: what a browser is told about every page, so a stolen page or token URL is worth little."""

import re
from pathlib import Path

import pytest

from portal import create_app
from portal.config import TestConfig
from portal.extensions import db
from tests.conftest import links_in
from tests.pages import csrf_token, path_of, share_via_whatsapp

ROOT = Path(__file__).resolve().parent.parent

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


@pytest.fixture
def pages(app, client, smtp, deliver, make_order):
    """Paths of every kind of page: consumer (by link), backoffice, errors."""
    make_order(tickets=3)
    deliver()
    overview = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    share = share_via_whatsapp(client, overview, 1)
    return {
        "home": "/",
        "overview": overview,
        "claim": f"{overview}/tickets/2/claim",
        "share": f"{overview}/tickets/2/share",
        "recipient": share,
        "lost link": "/link",
        "bad link": "/o/not-a-real-link",
        "no such page": "/nothing-here",
        "backoffice login": "/backoffice/login",
    }


def test_every_page_has_a_content_security_policy_without_inline_code(client, pages):
    for name, path in pages.items():
        policy = client.get(path).headers.get("Content-Security-Policy")
        assert policy == CSP, name
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_forms_post_to_this_site_only_and_the_whatsapp_share_leads_to_a_page_of_its_own(client, pages):
    """Browsers hold every redirect after a form to form-action: the WhatsApp form never leads off the site."""
    page = client.get(pages["share"])
    response = client.post(f"{pages['share']}/whatsapp", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 303
    assert response.headers["Location"] == f"{pages['share']}/whatsapp"
    assert "form-action 'self';" in response.headers["Content-Security-Policy"]


def test_browsers_are_told_not_to_guess_content_types(client, pages):
    for name, path in pages.items():
        assert client.get(path).headers.getlist("X-Content-Type-Options") == ["nosniff"], name  # once


def test_no_page_can_be_shown_in_a_frame_of_another_site(client, pages):
    for name, path in pages.items():
        response = client.get(path)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], name
        assert response.headers.get("X-Frame-Options") == "DENY", name  # for browsers without CSP 2


def test_token_urls_never_travel_to_another_site_in_a_referer(client, pages):
    for name, path in pages.items():
        assert client.get(path).headers.get("Referrer-Policy") == "same-origin", name


def test_every_page_reached_by_a_link_is_never_cached(app, client, pages, make_order):
    for name in ("overview", "claim", "share", "recipient", "bad link"):
        assert client.get(pages[name]).headers.get("Cache-Control") == "no-store", name
    # The ticket files too: a PDF holds the holder's name and the barcode.
    overview = pages["overview"]
    claim_page = client.get(pages["claim"]).get_data(as_text=True)
    client.post(pages["claim"], data={"csrf_token": csrf_token(claim_page), "first_name": "Sam", "last_name": "de Vries",
                                      "email": "booker@example.com"})
    page = client.get(overview).get_data(as_text=True)
    for path in (f"{overview}/tickets/2/download", f"{overview}/download"):
        response = client.post(path, data={"csrf_token": csrf_token(page)})
        assert response.mimetype == "application/pdf"
        assert response.headers.get("Cache-Control") == "no-store", path
    # (The backoffice: tests/test_backoffice_auth.py::test_every_backoffice_page_is_never_cached.)


def test_plain_http_gets_no_hsts_and_no_secure_only_cookie(client):
    response = client.get("/backoffice/login")
    assert "Strict-Transport-Security" not in response.headers
    assert "Secure" not in response.headers["Set-Cookie"]


@pytest.fixture
def https_app(app_config):
    """The app as deployed behind one TLS-ending proxy."""
    app = create_app(TestConfig, {**app_config, "FORCE_HTTPS": True, "TRUSTED_PROXIES": 1})
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def test_behind_an_https_proxy_pages_send_hsts_and_a_secure_session_cookie(https_app):
    client = https_app.test_client()
    response = client.get(
        "/backoffice/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    )
    assert response.status_code == 200
    assert int(re.match(r"max-age=(\d+)", response.headers["Strict-Transport-Security"]).group(1)) >= 365 * 24 * 3600
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_with_force_https_plain_http_is_sent_to_https(https_app):
    response = https_app.test_client().get("/link", base_url="http://portal.test")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("https://")


def test_only_a_trusted_proxy_decides_the_client_address(https_app, app):
    """Behind the proxy, each client counts on its own; without one, a forged X-Forwarded-For changes nothing."""
    limit = int(app.config["LOST_LINK_LIMIT"].split("/")[0])
    data = {"order_number": "NX-2026-000001", "email": "nobody@example.org"}

    def ask(client, forwarded_for: str, **headers) -> int:
        page = client.get("/link", headers={"X-Forwarded-For": forwarded_for, **headers}).get_data(as_text=True)
        return client.post(
            "/link", data={**data, "csrf_token": csrf_token(page)}, headers={"X-Forwarded-For": forwarded_for, **headers}
        ).status_code

    proxied = https_app.test_client()
    # Over HTTPS, Flask-WTF wants a same-origin Referer on a POST: what Referrer-Policy same-origin sends.
    https = {"X-Forwarded-Proto": "https", "Referer": "https://localhost/link"}
    assert [ask(proxied, "203.0.113.1", **https) for _ in range(limit + 1)][-1] == 429
    assert ask(proxied, "203.0.113.2", **https) == 200  # another client behind the same proxy

    direct = app.test_client()  # TRUSTED_PROXIES = 0: the header is the attacker's, not a proxy's
    codes = [ask(direct, f"198.51.100.{n}") for n in range(limit + 1)]
    assert codes[-1] == 429


# --- No inline code: the CSP above would block it, so none may exist ---------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
JAVASCRIPT_URL = re.compile(r"""(href|action|src)\s*=\s*["']?\s*javascript:""", re.I)


def inline_code(html: str) -> list[str]:
    found = []
    for pattern in (INLINE_SCRIPT, INLINE_STYLE, INLINE_HANDLER, JAVASCRIPT_URL):
        found += [match.group(0) for match in pattern.finditer(html)]
    return found


def test_no_template_has_inline_scripts_styles_or_handlers():
    """Emails are exempt: mail clients ignore the CSP and need inline styles."""
    offenders = {}
    for template in (ROOT / "templates").rglob("*.html"):
        if "mail" in template.relative_to(ROOT / "templates").parts:
            continue
        found = inline_code(template.read_text())
        if found:
            offenders[str(template.relative_to(ROOT))] = found
    assert not offenders


def test_no_rendered_page_has_inline_code(client, pages, login, make_order):
    for name, path in pages.items():
        assert not inline_code(client.get(path).get_data(as_text=True)), name
    backoffice = login()
    order_id = make_order(tickets=1)
    for path in ("/backoffice/orders", f"/backoffice/orders/{order_id}", "/backoffice/shops",
                 f"/backoffice/orders/{order_id}/cancel", f"/backoffice/orders/{order_id}/tickets/1/edit"):
        response = backoffice.get(path)
        assert response.status_code == 200, path
        assert not inline_code(response.get_data(as_text=True)), path
