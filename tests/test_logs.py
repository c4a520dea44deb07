"""Link tokens and personal data never reach a log: not the app server's access or error log, not the dev server's."""

import logging
import re
import os
import subprocess
import sys
from pathlib import Path

import requests

from portal.logs import redact
from tests.conftest import links_in
from tests.pages import path_of

ROOT = Path(__file__).resolve().parent.parent


def booker_link(smtp, deliver, make_order) -> str:
    make_order(tickets=1)
    deliver()
    return path_of(links_in(smtp.take_one("booker@example.com"))[0])


def test_redact_replaces_the_token_of_both_link_kinds():
    assert redact("GET /o/WzEsMV0.abc/tickets/2/claim HTTP/1.1") == "GET /o/[token]/tickets/2/claim HTTP/1.1"
    assert redact("http://x.test/t/WzIsMV0.def?x=1") == "http://x.test/t/[token]?x=1"
    assert redact("GET /static/css/portal.css") == "GET /static/css/portal.css"


def test_dev_server_log_shows_paths_without_tokens(live_server, smtp, deliver, make_order, caplog):
    path = booker_link(smtp, deliver, make_order)
    token = path.split("/")[2]
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        assert requests.get(live_server + path, timeout=10).status_code == 200
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/o/[token]" in logged
    assert token not in logged


def test_gunicorn_access_log_shows_paths_without_tokens(smtp, deliver, make_order, gunicorn):
    path = booker_link(smtp, deliver, make_order)
    token = path.split("/")[2]
    server = gunicorn(workers=1)
    url = server.url + path
    assert requests.get(url, headers={"Referer": url}, timeout=5).status_code == 200
    server.stop()
    logged = server.logs[0].read_text()  # the access log
    assert "/o/[token]" in logged
    assert token not in logged


def test_full_journey_under_gunicorn_leaves_no_token_email_or_phone_in_any_log(app, smtp, gunicorn, tmp_path):
    """Demo order → overview → claim → share by email → recipient submits → downloads → lost link, all logged."""
    import json
    import re

    from tests.pages import csrf_token

    server = gunicorn(workers=2, args=["--log-level", "debug"])
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": app.config["SECRET_KEY"],
           "PORTAL_BASE_URL": app.config["PORTAL_BASE_URL"], "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port)}
    cli_output: list[str] = []

    def flask(*args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        if args[0] != "demo":  # the demo command prints its link and password on purpose; the worker's log must not
            cli_output.append(result.stdout + result.stderr)
        return result.stdout

    booker_email, holder_email, friend_email = "zed.booker@example.com", "claire.zyx@example.net", "ria.zyx@example.net"
    holder_phone, friend_phone = "06 4444 5555", "+31 6 5555 6666"
    demo = json.loads(flask("demo", "--json", "--tickets", "3", "--email", booker_email))
    overview = path_of(demo["overview_url"])
    booker = requests.Session()

    def post(session, path: str, page_path: str | None = None, **fields):
        page = session.get(server.url + (page_path or path), timeout=30)
        assert page.status_code == 200, page_path or path
        return session.post(server.url + path, data={"csrf_token": csrf_token(page.text), **fields}, timeout=30)

    assert booker.get(server.url + overview, timeout=30).status_code == 200
    claimed = post(booker, f"{overview}/tickets/1/claim", first_name="Claire", last_name="Zyxwinkel",
                   email=holder_email, phone=holder_phone)
    assert claimed.status_code == 200 and "Ticket 1 is now personalised" in claimed.text
    shared = post(booker, f"{overview}/tickets/2/share/email", f"{overview}/tickets/2/share", email=friend_email)
    assert shared.status_code == 200
    flask("outbox", "send")
    smtp.take_one(booker_email), smtp.take_one(holder_email)
    share_link = path_of(next(link for link in links_in(smtp.take_one(friend_email)) if "/t/" in link))

    recipient = requests.Session()
    submitted = post(recipient, share_link, first_name="Ria", last_name="Zyxwinkel", email=friend_email,
                     phone=friend_phone)
    assert "Your ticket is personalised" in submitted.text
    assert post(recipient, f"{share_link}/download", share_link).headers["Content-Type"] == "application/pdf"
    assert post(booker, f"{overview}/download", overview).headers["Content-Type"] == "application/pdf"
    assert post(booker, "/link", order_number=demo["order_number"], email=booker_email).status_code == 200
    assert requests.get(server.url + share_link + "x", timeout=30).status_code == 404  # a damaged link
    flask("outbox", "send")
    smtp.take_one(friend_email), smtp.take_one(booker_email)
    server.stop()

    logged = server.log_text() + "\n".join(cli_output)
    assert "/o/[token]" in logged and "/t/[token]" in logged  # the requests are there, without their keys
    secrets = {
        "overview token": overview.split("/")[2],
        "share token": share_link.split("/")[2],
        "demo password": demo["organizer_password"],
        **{email: email for email in (booker_email, holder_email, friend_email)},
    }
    for phone in ("+31612345678", holder_phone, friend_phone, "+31644445555", "+31655556666"):
        secrets[phone] = phone
        secrets[phone + " (digits)"] = re.sub(r"\D", "", phone)
    secrets["surname"] = "Zyxwinkel"
    leaked = {name: line for line in logged.splitlines() for name, secret in secrets.items() if secret in line}
    assert not leaked


def test_a_crash_on_a_link_page_is_logged_without_the_token(app, client, smtp, deliver, make_order, caplog, monkeypatch):
    from portal.consumer import views

    path = booker_link(smtp, deliver, make_order)
    token = path.split("/")[2]
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: log it and answer 500

    def crash(token):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views.personalisation, "order_for_overview", crash)
    with caplog.at_level(logging.ERROR):
        response = client.get(path)
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Exception on /o/[token] [GET]" in logged
    assert token not in logged


def test_a_failed_statement_never_shows_its_values(app):
    """Database errors end up in logs: their text carries no personal data."""
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from portal.extensions import db

    with app.app_context(), pytest.raises(DBAPIError) as failure:
        db.session.execute(text("INSERT INTO no_such_table (email) VALUES (:email)"), {"email": "noor@example.org"})
    assert "noor@example.org" not in str(failure.value)


def test_a_backoffice_search_leaves_no_name_or_address_in_any_log(app, gunicorn, make_order):
    """Searched, logged out, logged in again: not in the request lines, the Referers, nor a login?next=."""
    from portal.services.organizers import create_backoffice_user
    from portal.extensions import db
    from tests.pages import csrf_token

    make_order(tickets=1, booker_email="jan.jansen@example.nl")
    with app.app_context():
        create_backoffice_user(organizer_name="Acme Events", email="staff@acme.example", password="correct horse 1")
        db.session.commit()
    server = gunicorn(workers=1, args=["--log-level", "debug"])
    staff = requests.Session()

    def post(path: str, page_path: str, **fields):
        page = staff.get(server.url + page_path, timeout=30)
        return staff.post(server.url + path, data={"csrf_token": csrf_token(page.text), **fields},
                          headers={"Referer": page.url}, timeout=30)

    def log_in(next_page: str = "/backoffice/login"):
        response = post(next_page, next_page, email="staff@acme.example", password="correct horse 1")
        assert response.status_code == 200 and "Orders" in response.text

    log_in()
    for words in ("jan.jansen@example.nl", "Jan Jansen", "jansen"):
        listing = post("/backoffice/orders", "/backoffice/orders", q=words)
        assert listing.status_code == 200
        for order in re.findall(r'href="(/backoffice/orders/\d+)"', listing.text):
            staff.get(server.url + order, headers={"Referer": listing.url}, timeout=30)
    post("/backoffice/logout", "/backoffice/orders")
    asked = staff.get(server.url + "/backoffice/orders", allow_redirects=False, timeout=30)
    next_page = asked.headers["Location"].removeprefix(server.url)
    assert next_page.startswith("/backoffice/login?next=")
    log_in(next_page)
    server.stop()

    logged = server.log_text()
    assert re.search(r"GET /backoffice/orders/\d+ ", logged)  # the order was found and opened
    assert "jansen" not in logged.lower()
