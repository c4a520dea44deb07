"""English and Dutch: complete catalogs, the language switcher, and dates and prices per language."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from portal.extensions import db
from portal.models import Order
from tests.conftest import body, links_in
from tests.pages import csrf_token, path_of, pdf_text, submit_form, text

ROOT = Path(__file__).resolve().parent.parent
DUTCH = ROOT / "translations" / "nl" / "LC_MESSAGES" / "messages.po"


def dutch_catalog():
    with DUTCH.open("rb") as stream:
        return read_po(stream, locale="nl")


def test_every_message_is_translated_into_dutch():
    catalog = dutch_catalog()
    untranslated = [message.id for message in catalog if message.id and not message.string]
    untranslated += [
        message.id for message in catalog if message.id and isinstance(message.string, tuple) and not all(message.string)
    ]
    fuzzy = [message.id for message in catalog if message.id and message.fuzzy]
    assert not untranslated, f"untranslated in Dutch: {untranslated}"
    assert not fuzzy, f"fuzzy (to be checked) in Dutch: {fuzzy}"
    assert not catalog.fuzzy, "the Dutch catalog's header is marked fuzzy"


def test_dutch_translations_keep_their_placeholders():
    problems = [(message.id, [str(error) for error in errors]) for message, errors in dutch_catalog().check()]
    assert not problems


def test_dutch_catalog_is_up_to_date_with_the_code_and_templates(tmp_path):
    extracted = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg",
         "-k", "_l", "-k", "lazy_gettext", "-o", str(extracted), "."],
        cwd=ROOT,
        check=True,
    )
    with extracted.open("rb") as stream:
        in_sources = {message.id for message in read_po(stream) if message.id}
    in_catalog = {message.id for message in dutch_catalog() if message.id}
    assert not in_sources - in_catalog, "new messages, run `make translations` and translate them"
    assert not in_catalog - in_sources, "messages no longer used, run `make translations`"


def test_compiled_catalog_is_current():
    compiled = DUTCH.with_suffix(".mo")
    assert compiled.exists() and compiled.stat().st_mtime >= DUTCH.stat().st_mtime, "run `make install`"


# --- Choosing the language -----------------------------------------------------


def overview_path(smtp, deliver, booker: str = "booker@example.com") -> str:
    deliver()
    return path_of(links_in(smtp.take_one(booker))[0])


def test_page_follows_the_browsers_language(client, make_order, smtp, deliver):
    make_order()
    overview = overview_path(smtp, deliver)
    dutch = client.get(overview, headers={"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="nl">' in dutch
    assert "Claimen" in text(dutch) and "Delen" in text(dutch)
    english = client.get(overview, headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert "Claim" in text(english) and "Claimen" not in text(english)


def test_without_a_browser_preference_the_shop_language_is_used(client, make_order, smtp, deliver):
    make_order(default_language="nl")
    overview = overview_path(smtp, deliver)
    page = client.get(overview, headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="nl">' in page and "Claimen" in text(page)


def test_switcher_sets_the_language_and_goes_back_to_the_page(client, make_order, smtp, deliver):
    order_id = make_order()
    overview = overview_path(smtp, deliver)
    page = client.get(overview, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'href="/language/nl"' in page and 'aria-current="true">English' in page
    with client.application.app_context():
        history_before = len(db.session.get(Order, order_id).events)

    response = client.get("/language/nl", headers={"Referer": f"http://localhost{overview}"})
    assert response.status_code == 303
    assert response.headers["Location"] == overview
    assert "lang=nl" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]

    # The cookie wins over the browser's language.
    page = client.get(overview, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="nl">' in page and "Claimen" in text(page)
    with client.application.app_context():
        assert len(db.session.get(Order, order_id).events) == history_before, "the switcher changed data"


@pytest.mark.parametrize(
    "referrer",
    [
        "https://evil.example/phish",
        "http://localhost//evil.example/x",  # the portal's own 404 page at a path a browser reads as another host
        "http://localhost/\\evil.example/x",
    ],
)
def test_switcher_never_sends_to_another_site(client, referrer):
    response = client.get("/language/nl", headers={"Referer": referrer})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert client.get("/language/xx").status_code == 404


def test_backoffice_has_the_switcher_too(login):
    staff = login()
    staff.set_cookie("lang", "nl")
    page = staff.get("/backoffice/orders").get_data(as_text=True)
    assert "Bestellingen" in text(page) and 'href="/language/en"' in page


# --- Dates, prices, emails and PDFs ----------------------------------------------


def test_dates_and_prices_follow_the_language_and_the_events_time_zone(client, make_order, smtp, deliver, app):
    # 18:30 UTC on 12 June 2027 is 20:30 in Amsterdam (summer time).
    make_order(event_starts_at=datetime(2027, 6, 12, 18, 30, tzinfo=UTC), timezone="Europe/Amsterdam")
    overview = overview_path(smtp, deliver)
    staff_page = text(client.get(overview, headers={"Accept-Language": "nl"}).get_data(as_text=True))
    assert "zaterdag 12 juni 2027, 20:30" in staff_page
    english = text(client.get(overview, headers={"Accept-Language": "en"}).get_data(as_text=True))
    assert "Saturday 12 June 2027, 20:30" in english


def test_backoffice_prices_in_dutch(login, make_order):
    order_id = make_order()
    staff = login()
    staff.set_cookie("lang", "nl")
    page = text(staff.get(f"/backoffice/orders/{order_id}").get_data(as_text=True))
    assert "€ 45,00" in page.replace("\xa0", " ")


def test_the_first_email_is_in_the_shops_language(client, make_order, smtp, deliver):
    make_order(default_language="nl")
    deliver()
    confirmation = smtp.take_one("booker@example.com")
    assert confirmation["Subject"] == "Je tickets voor Harbour Jazz Nights"
    assert "Bekijk je tickets" in body(confirmation)


def test_mails_and_tickets_follow_the_language_each_person_used(app, client, make_order, smtp, deliver, login):
    """The booker chose Nederlands with the switcher, the friend's browser asks for Dutch: the shop's English is only the default."""
    order_id = make_order(tickets=2)
    deliver()
    overview = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    booker = client
    booker.get(overview)
    booker.get("/language/nl", headers={"Referer": f"http://localhost{overview}"})

    # The booker claims ticket 1 on the Dutch page: the holder's mail and the PDF are Dutch.
    assert submit_form(booker, f"{overview}/tickets/1/claim", first_name="Sam", last_name="de Vries",
                       email="sam@example.org").status_code == 302
    # The share email goes out in the booker's language: the friend's is not known yet.
    share_page = booker.get(f"{overview}/tickets/2/share").get_data(as_text=True)
    booker.post(f"{overview}/tickets/2/share/email", data={"csrf_token": csrf_token(share_page), "email": "friend@example.org"})
    deliver()
    assert smtp.take_one("sam@example.org")["Subject"] == "Je ticket voor Harbour Jazz Nights is klaar"
    shared = smtp.take_one("friend@example.org")
    assert shared["Subject"] == "Sam heeft een ticket voor Harbour Jazz Nights met je gedeeld"
    booker_pdf = booker.post(f"{overview}/tickets/1/download", data={"csrf_token": csrf_token(booker.get(overview).get_data(as_text=True))})
    assert "Toon deze QR-code" in pdf_text(booker_pdf.data)[0]

    # The friend's browser asks for English: their mail and their ticket are in English.
    friend = app.test_client()
    link = path_of(next(url for url in links_in(shared) if "/t/" in url))
    page = friend.get(link, headers={"Accept-Language": "en-GB,en"}).get_data(as_text=True)
    friend.post(link, headers={"Accept-Language": "en-GB,en"}, data={
        "csrf_token": csrf_token(page), "first_name": "Ria", "last_name": "Zyx", "email": "ria@example.org"})
    deliver()
    assert smtp.take_one("ria@example.org")["Subject"] == "Your ticket for Harbour Jazz Nights is ready"
    page = friend.get(link, headers={"Accept-Language": "en-GB,en"}).get_data(as_text=True)
    friend_pdf = friend.post(f"{link}/download", headers={"Accept-Language": "en-GB,en"}, data={"csrf_token": csrf_token(page)})
    assert "Show this QR code" in pdf_text(friend_pdf.data)[0]

    # The organizer resends the order email: it goes out in the language the booker last used.
    staff = login()
    submit_form(staff, f"/backoffice/orders/{order_id}/resend")
    deliver()
    resent = smtp.take_one("booker@example.com")
    assert resent["Subject"] == "Je tickets voor Harbour Jazz Nights"
    tickets, calendar = resent.iter_attachments()
    assert all("Toon deze QR-code" in page for page in pdf_text(tickets.get_content()))
    assert "Je tickets: http://portal.test/o/" in calendar.get_content()  # the calendar file in Dutch too
