"""Two app servers on one database behave as one: nothing a second server needs is kept in a process."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from portal import links
from portal.extensions import db
from portal.models import Order
from portal.services.organizers import create_backoffice_user
from tests.conftest import free_port
from tests.pages import csrf_token, form_actions, path_of, ticket_card, whatsapp_link, whatsapp_text

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def two_servers(app):
    """Two gunicorn processes (one worker each) on two ports, sharing the test's database and secret key."""
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "PORTAL_BASE_URL": app.config["PORTAL_BASE_URL"],
        "GUNICORN_ACCESS_LOG": "/dev/null",
    }
    servers, bases = [], []
    for _ in range(2):
        port = free_port()
        servers.append(
            subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
                 "--workers", "1", "wsgi:app"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )
        bases.append(f"http://127.0.0.1:{port}")
    try:
        for base in bases:
            for _ in range(200):
                try:
                    # What a load balancer asks before it sends a server any traffic.
                    if requests.get(base + "/healthz", timeout=5).text == "ok\n":
                        break
                except requests.ConnectionError:
                    pass
                time.sleep(0.1)
            else:
                pytest.fail(f"{base}/healthz never answered ok")
        yield bases
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=20)


def overview_path(app, order_id: int) -> str:
    with app.app_context():
        return path_of(links.overview_url(db.session.get(Order, order_id)))


def test_a_claim_made_on_one_server_shows_on_the_other(app, make_order, two_servers):
    a, b = two_servers
    overview = overview_path(app, make_order(tickets=2))
    booker = requests.Session()
    claim_page = booker.get(a + overview + "/tickets/1/claim", timeout=10).text
    response = booker.post(
        a + overview + "/tickets/1/claim",
        data={"csrf_token": csrf_token(claim_page), "first_name": "Robin", "last_name": "Jansen",
              "email": "robin@example.com", "phone": "06 12345678"},
        allow_redirects=False, timeout=10,
    )
    assert response.status_code in (302, 303)

    seen_on_b = requests.get(b + overview, timeout=10)
    assert seen_on_b.status_code == 200
    assert "Robin Jansen" in ticket_card(seen_on_b.text, 1)


def test_a_link_and_a_form_from_one_server_work_on_the_other(app, make_order, two_servers):
    a, b = two_servers
    overview = overview_path(app, make_order(tickets=2))
    booker = requests.Session()
    share_page = booker.get(a + overview + "/tickets/2/share", timeout=10).text
    action = next(action for action in form_actions(share_page) if action.endswith("/share/whatsapp"))
    # The form (and its CSRF token, kept in the signed session cookie) came from A; B accepts it.
    response = booker.post(b + action, data={"csrf_token": csrf_token(share_page)}, allow_redirects=False, timeout=10)
    assert response.status_code == 303
    whatsapp_page = booker.get(a + response.headers["Location"], timeout=10).text
    [link] = re.findall(r"https?://\S+/t/\S+", whatsapp_text(whatsapp_link(whatsapp_page)))

    # The share link B just issued opens on A, for someone with no cookies at all.
    recipient_page = requests.get(a + path_of(link), timeout=10)
    assert recipient_page.status_code == 200
    assert 'name="first_name"' in recipient_page.text


def test_a_backoffice_login_on_one_server_holds_on_the_other(app, make_order, two_servers):
    a, b = two_servers
    order_id = make_order(tickets=1)
    with app.app_context():
        create_backoffice_user(organizer_name="Acme Events", email="staff@acme.example", password="correct horse battery staple")
        db.session.commit()
    staff = requests.Session()
    login_page = staff.get(a + "/backoffice/login", timeout=10).text
    response = staff.post(
        a + "/backoffice/login",
        data={"csrf_token": csrf_token(login_page), "email": "staff@acme.example", "password": "correct horse battery staple"},
        allow_redirects=False, timeout=10,
    )
    assert response.status_code == 303

    order_page = staff.get(f"{b}/backoffice/orders/{order_id}", allow_redirects=False, timeout=10)
    assert order_page.status_code == 200
    assert "NX-2026-" in order_page.text
