"""Backoffice login: who gets in, for how long, and how guessing is slowed down."""

import re

import pytest

from portal.extensions import db
from portal.models import BackofficeUser, Organizer
from tests.pages import csrf_token, field_error, flashes, text


def log_in(client, email: str, password: str):
    page = client.get("/backoffice/login").get_data(as_text=True)
    return client.post("/backoffice/login", data={"csrf_token": csrf_token(page), "email": email, "password": password})


def log_in_again(app, email: str, password: str):
    """The same user logged in on another device (another browser)."""
    device = app.test_client()
    assert log_in(device, email, password).status_code == 303
    return device


def create_user(runner, *args: str):
    return runner.invoke(args=["organizer", "create-user", *args])


def test_every_backoffice_page_without_a_session_leads_to_the_login_page(client, make_order):
    order_id = make_order(tickets=1)
    for path in ("/backoffice/", "/backoffice/orders", f"/backoffice/orders/{order_id}", "/backoffice/shops",
                 f"/backoffice/orders/{order_id}/cancel", "/backoffice/orders/999999"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/backoffice/login?next=")
    # A POST without a session does nothing either (after the CSRF check, the login check).
    assert client.post(f"/backoffice/orders/{order_id}/cancel").status_code in (302, 400)


def test_login_page_has_email_password_and_log_in(client):
    response = client.get("/backoffice/login")
    html = response.get_data(as_text=True)
    assert re.search(r'<label for="email">Email</label>', html)
    assert re.search(r'<label for="password">Password</label>', html)
    assert 'type="password"' in html
    assert ">Log in</button>" in html
    assert response.headers["Cache-Control"] == "no-store"


def test_user_created_on_the_command_line_logs_in_and_out(app, runner, client):
    result = create_user(runner, "--organizer", "Harbour Events", "--email", "Anna@Harbour.example",
                         "--password", "a long enough secret")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.query(BackofficeUser).one()
        assert user.email == "anna@harbour.example"  # stored lower-case
        assert user.organizer.name == "Harbour Events"
        assert user.password_hash != "a long enough secret" and user.check_password("a long enough secret")

    response = log_in(client, "anna@harbour.example", "a long enough secret")
    assert response.status_code == 303
    assert response.headers["Location"] == "/backoffice/orders"
    html = client.get("/backoffice/orders").get_data(as_text=True)
    assert "anna@harbour.example" in text(html) and "Harbour Events" in text(html)

    # Logging out is a POST with the page's token; afterwards the pages want a login again.
    response = client.post("/backoffice/logout", data={"csrf_token": csrf_token(html)})
    assert response.status_code == 303
    assert client.get("/backoffice/orders").status_code == 302


def test_wrong_password_or_unknown_email_gets_the_same_answer(runner, client):
    create_user(runner, "--organizer", "Acme Events", "--email", "staff@acme.example", "--password", "right password 1")
    wrong_password = log_in(client, "staff@acme.example", "wrong password")
    unknown_email = log_in(client, "nobody@acme.example", "right password 1")
    for response in (wrong_password, unknown_email):
        assert response.status_code == 200
        assert flashes(response.get_data(as_text=True)) == ["The email address or password is not right."]
    assert client.get("/backoffice/orders").status_code == 302


def test_login_goes_back_to_the_page_asked_for_but_never_to_another_site(runner, client):
    create_user(runner, "--organizer", "Acme Events", "--email", "staff@acme.example", "--password", "right password 1")
    page = client.get("/backoffice/login?next=/backoffice/shops").get_data(as_text=True)
    response = client.post("/backoffice/login?next=/backoffice/shops",
                           data={"csrf_token": csrf_token(page), "email": "staff@acme.example", "password": "right password 1"})
    assert response.headers["Location"] == "/backoffice/shops"

    other = client.application.test_client()
    page = other.get("/backoffice/login").get_data(as_text=True)
    response = other.post("/backoffice/login?next=https://evil.example/backoffice/",
                          data={"csrf_token": csrf_token(page), "email": "staff@acme.example", "password": "right password 1"})
    assert response.headers["Location"] == "/backoffice/orders"


@pytest.mark.parametrize("target", ["/backoffice/orders%0d%0a", "//evil.example/backoffice/", "/backoffice/\\evil"])
def test_a_next_page_that_cannot_be_a_page_of_this_site_is_ignored_after_a_good_login(runner, client, target):
    create_user(runner, "--organizer", "Acme Events", "--email", "staff@acme.example", "--password", "right password 1")
    page = client.get(f"/backoffice/login?next={target}").get_data(as_text=True)
    response = client.post(f"/backoffice/login?next={target}",
                           data={"csrf_token": csrf_token(page), "email": "staff@acme.example", "password": "right password 1"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/backoffice/orders"


def test_login_starts_a_fresh_session(runner, client):
    """Whatever was in the session before login (e.g. planted by someone else) is dropped."""
    create_user(runner, "--organizer", "Acme Events", "--email", "staff@acme.example", "--password", "right password 1")
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    log_in(client, "staff@acme.example", "right password 1")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["backoffice_session"]


def test_a_copy_of_the_session_cookie_is_worth_nothing_after_logout(app, login):
    """Signed cookies alone would stay valid for hours: the login is kept, and ended, on the server."""
    client = login()
    copied = client.get_cookie("session").value
    page = client.get("/backoffice/orders").get_data(as_text=True)
    assert client.post("/backoffice/logout", data={"csrf_token": csrf_token(page)}).status_code == 303

    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/backoffice/orders")
    assert response.status_code == 302 and "/backoffice/login" in response.headers["Location"]


def test_changing_the_password_ends_the_other_sessions_but_not_this_one(app, login):
    client = login(password="the old password")
    other_device = log_in_again(app, client.user_email, "the old password")
    page = client.get("/backoffice/account").get_data(as_text=True)
    response = client.post("/backoffice/account", data={
        "csrf_token": csrf_token(page), "current_password": "the old password",
        "new_password": "a brand new password", "repeated_password": "a brand new password"})
    assert response.status_code == 303
    assert flashes(client.get("/backoffice/account").get_data(as_text=True)) == [
        "Your password has been changed. You were logged out everywhere else."]
    assert client.get("/backoffice/orders").status_code == 200
    assert other_device.get("/backoffice/orders").status_code == 302
    assert log_in(app.test_client(), client.user_email, "a brand new password").status_code == 303


def test_a_wrong_current_password_or_a_mismatch_changes_nothing(app, login):
    client = login(password="the old password")
    page = client.get("/backoffice/account").get_data(as_text=True)
    response = client.post("/backoffice/account", data={
        "csrf_token": csrf_token(page), "current_password": "not it at all",
        "new_password": "a brand new password", "repeated_password": "a brand new passwort"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "current_password") == "This is not your current password."
    assert field_error(html, "repeated_password") == "The two passwords differ."
    assert log_in(app.test_client(), client.user_email, "the old password").status_code == 303


def test_log_out_everywhere_ends_every_session_of_the_user(app, login):
    client = login(password="the old password")
    other_device = log_in_again(app, client.user_email, "the old password")
    page = client.get("/backoffice/account").get_data(as_text=True)
    assert client.post("/backoffice/logout/everywhere", data={"csrf_token": csrf_token(page)}).status_code == 303
    assert client.get("/backoffice/orders").status_code == 302
    assert other_device.get("/backoffice/orders").status_code == 302


def test_set_password_on_the_command_line_ends_every_session(app, runner, login):
    client = login(password="the old password")
    result = runner.invoke(args=["organizer", "set-password", "--email", client.user_email.upper(),
                                 "--password", "a brand new password"])
    assert result.exit_code == 0, result.output
    assert client.get("/backoffice/orders").status_code == 302
    assert log_in(app.test_client(), client.user_email, "a brand new password").status_code == 303
    assert "at least 10" in runner.invoke(args=["organizer", "set-password", "--email", client.user_email,
                                                "--password", "short"]).output
    assert "no backoffice user" in runner.invoke(args=["organizer", "set-password", "--email", "nobody@x.example",
                                                       "--password", "long enough password"]).output


def test_session_ends_after_the_configured_hours(app, login):
    from datetime import timedelta

    from portal.models import BackofficeSession

    client = login()
    with app.app_context():
        for started in db.session.query(BackofficeSession):
            started.created_at -= timedelta(hours=app.config["BACKOFFICE_SESSION_HOURS"], seconds=1)
        db.session.commit()
    assert client.get("/backoffice/orders").status_code == 302


def test_every_backoffice_page_is_never_cached(login, make_order):
    client = login()
    order_id = make_order(tickets=1)
    for path in ("/backoffice/orders", f"/backoffice/orders/{order_id}", "/backoffice/shops", "/backoffice/login"):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "no-store", path


def test_login_attempts_are_rate_limited_per_address(app, runner, client):
    create_user(runner, "--organizer", "Acme Events", "--email", "staff@acme.example", "--password", "right password 1")
    limit = int(app.config["BACKOFFICE_LOGIN_LIMIT"].split("/")[0])
    for attempt in range(limit):
        assert log_in(client, f"guess{attempt}@acme.example", "guess").status_code == 200
    response = log_in(client, "staff@acme.example", "right password 1")
    assert response.status_code == 429
    assert "Too many login attempts" in text(response.get_data(as_text=True))
    assert client.get("/backoffice/orders").status_code == 302  # not logged in, even with the right password


def test_login_attempts_are_rate_limited_per_account_across_addresses(app, runner):
    create_user(runner, "--organizer", "Acme Events", "--email", "staff@acme.example", "--password", "right password 1")
    limit = int(app.config["BACKOFFICE_LOGIN_LIMIT"].split("/")[0])
    for attempt in range(limit):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"192.0.2.{attempt + 1}"
        assert log_in(client, "staff@acme.example", "guess").status_code == 200
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert log_in(client, "staff@acme.example", "right password 1").status_code == 429


def test_a_backoffice_post_without_the_csrf_token_is_refused(app, login, make_order):
    client = login()
    order_id = make_order(tickets=2)
    response = client.post(f"/backoffice/orders/{order_id}/cancel")
    assert response.status_code in (302, 400)
    assert client.post("/backoffice/logout").status_code == 400
    with app.app_context():
        from portal.models import Order

        assert db.session.get(Order, order_id).status == "completed"
    assert client.get("/backoffice/orders").status_code == 200  # still logged in


def test_create_user_refuses_a_duplicate_email(runner):
    assert create_user(runner, "--organizer", "Acme Events", "--email", "staff@acme.example",
                       "--password", "right password 1").exit_code == 0
    result = create_user(runner, "--organizer", "Other Events", "--email", "STAFF@acme.example",
                         "--password", "another password")
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_create_user_reads_the_password_from_a_prompt_and_creates_the_organizer_once(app, runner):
    result = runner.invoke(args=["organizer", "create-user", "--organizer", "Acme Events", "--email", "a@acme.example"],
                           input="prompted password\nprompted password\n")
    assert result.exit_code == 0, result.output
    assert "prompted password" not in result.output
    create_user(runner, "--organizer", "Acme Events", "--email", "b@acme.example", "--password", "right password 1")
    with app.app_context():
        assert db.session.query(Organizer).count() == 1
        user = db.session.query(BackofficeUser).filter_by(email="a@acme.example").one()
        assert user.check_password("prompted password")


def test_create_user_refuses_a_short_password_and_a_bad_email(runner):
    assert create_user(runner, "--organizer", "Acme", "--email", "x@acme.example", "--password", "short").exit_code == 1
    assert create_user(runner, "--organizer", "Acme", "--email", "not an email", "--password", "long enough pw").exit_code == 1
