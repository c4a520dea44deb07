"""Reminders before the personalisation deadline (or the event): who gets which, when, and each only once.

Time is a parameter: `flask reminders send --now …` asks what is due then.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Order, OutgoingMessage, TimedMail
from portal.services import orders, personalisation, reminders
from tests.backoffice_pages import order_path, page, timeline
from tests.conftest import body, links_in
from tests.pages import csrf_token, path_of, share_via_whatsapp, submit_form

ROOT = Path(__file__).resolve().parent.parent
DAY = timedelta(days=1)


@pytest.fixture
def deadline():
    """The shop's personalisation deadline: three weeks from now, on the minute."""
    return (datetime.now(UTC) + timedelta(days=21)).replace(second=0, microsecond=0)


@pytest.fixture
def booking(app, make_order, smtp, deliver, deadline):
    """Factory: an order of a shop with the deadline; its confirmation read. Returns (order id, overview path)."""

    def booking(tickets: int = 3, booker_email: str = "booker@example.com", **shop_settings):
        settings = {"personalisation_deadline": deadline, **shop_settings}
        order_id = make_order(tickets=tickets, booker_email=booker_email, **settings)
        deliver()
        return order_id, path_of(links_in(smtp.take_one(booker_email))[0])

    return booking


def send(app, now: datetime) -> reminders.Report:
    with app.app_context():
        return reminders.send_due(now)


def share_by_email(client, overview: str, position: int, to: str) -> None:
    response = submit_form(client, f"{overview}/tickets/{position}/share", action=f"{overview}/tickets/{position}/share/email", email=to)
    assert response.status_code == 303


def claim(client, overview: str, position: int, name: str = "Ada") -> None:
    response = submit_form(
        client, f"{overview}/tickets/{position}/claim", first_name=name, last_name="Test", email=f"{name.lower()}@example.com"
    )
    assert response.status_code == 302


def fill_in(client, share_path: str, name: str = "Noor") -> None:
    response = submit_form(client, share_path, first_name=name, last_name="Bakker", email=f"{name.lower()}@example.org")
    assert response.status_code == 303


def test_the_booker_is_reminded_seven_days_and_one_day_before_the_deadline_listing_what_is_missing(
    app, client, booking, smtp, deliver, deadline
):
    order_id, overview = booking(tickets=3)
    claim(client, overview, 1)
    share_by_email(client, overview, 2, "friend@example.org")
    deliver()
    smtp.take_one("ada@example.com")
    smtp.take_one("friend@example.org")

    assert send(app, deadline - 7 * DAY - timedelta(minutes=1)) == reminders.Report()
    assert send(app, deadline - 7 * DAY) == reminders.Report(booker_reminders=1, recipient_reminders=1)
    deliver()
    smtp.take_one("friend@example.org")
    reminder = smtp.take_one("booker@example.com")
    assert "Reminder" in reminder["Subject"] and "Harbour Jazz Nights" in reminder["Subject"]
    lines = body(reminder)
    assert "2 tickets of your order" in lines
    assert "Ticket 2 (Day ticket): shared with friend@example.org, not filled in yet" in lines
    assert "Ticket 3 (Day ticket): not claimed or shared yet" in lines
    assert "Ticket 1 " not in lines  # personalised: not missing
    assert "Fill in by" in lines

    # Its link is the booker's overview, which works.
    link = path_of(next(link for link in links_in(reminder) if "/o/" in link))
    assert link == overview and client.get(link).status_code == 200

    # Between the points nothing more; at the second point the second reminder.
    assert send(app, deadline - 2 * DAY) == reminders.Report()
    assert send(app, deadline - DAY + timedelta(hours=1)) == reminders.Report(booker_reminders=1, recipient_reminders=1)
    deliver()
    assert "Reminder" in smtp.take_one("booker@example.com")["Subject"]
    assert "Reminder" in smtp.take_one("friend@example.org")["Subject"]


def test_each_person_gets_each_reminder_once_however_often_it_runs(app, client, booking, smtp, deliver, deadline):
    order_id, overview = booking(tickets=2)
    share_by_email(client, overview, 1, "friend@example.org")
    deliver()
    smtp.take_one("friend@example.org")

    first = send(app, deadline - 7 * DAY + timedelta(hours=1))
    assert (first.booker_reminders, first.recipient_reminders) == (1, 1)
    for hours in (2, 3, 30):
        assert send(app, deadline - 7 * DAY + timedelta(hours=hours)) == reminders.Report()
    deliver()
    smtp.take_one("booker@example.com")
    smtp.take_one("friend@example.org")

    html = page(login_client(app), order_path(order_id))
    entries = timeline(html)
    assert sum("Booker reminded to fill in the tickets, 7 days before the deadline" in e for e in entries) == 1
    assert sum("Recipient of ticket 1 reminded to fill it in, 7 days before the deadline" in e for e in entries) == 1


def login_client(app):
    """A backoffice user of the test shops' organizer."""
    from portal.services.organizers import create_backoffice_user

    with app.app_context():
        create_backoffice_user(organizer_name="Acme Events", email="staff@acme.example", password="correct horse battery")
        db.session.commit()
    client = app.test_client()
    response = submit_form(client, "/backoffice/login", email="staff@acme.example", password="correct horse battery")
    assert response.status_code == 303
    return client


def test_an_order_that_arrives_after_a_point_gets_only_the_points_still_ahead(app, booking, smtp, deliver, deadline, make_order):
    first_id, _ = booking(tickets=1)
    with app.app_context():
        shop_id = db.session.get(Order, first_id).shop_id
        # The second order arrived after the 7-day point had passed.
        late = make_order(tickets=1, shop_id=shop_id, booker_email="late@example.com")
        db.session.get(Order, late).personalisation_opened_at = deadline - 5 * DAY
        db.session.commit()
    deliver()
    smtp.take_one("late@example.com")

    assert send(app, deadline - 4 * DAY).booker_reminders == 1  # the first order's 7-day reminder, not the late one's
    deliver()
    smtp.take_one("booker@example.com")
    assert send(app, deadline - DAY).booker_reminders == 2  # the 1-day point is ahead of both
    deliver()
    smtp.take_one("booker@example.com")
    smtp.take_one("late@example.com")


def test_a_run_after_several_points_sends_only_the_latest_one(app, booking, smtp, deliver, deadline):
    booking(tickets=1)
    assert send(app, deadline - timedelta(hours=3)).booker_reminders == 1
    assert send(app, deadline - timedelta(hours=2)).booker_reminders == 0
    deliver()
    smtp.take_one("booker@example.com")
    with app.app_context():
        assert db.session.scalars(select(TimedMail.point)).all() == [1]


def test_no_reminder_once_every_ticket_is_personalised(app, client, booking, smtp, deliver, deadline):
    _, overview = booking(tickets=2)
    claim(client, overview, 1, "Ada")
    claim(client, overview, 2, "Grace")
    deliver()
    smtp.take_one("ada@example.com")
    smtp.take_one("grace@example.com")
    assert send(app, deadline - DAY) == reminders.Report()


def test_no_reminder_after_a_cancel(app, booking, deadline):
    order_id, _ = booking(tickets=2)
    with app.app_context():
        orders.cancel(db.session.get(Order, order_id), actor_label="staff@acme.example")
        db.session.commit()
    assert send(app, deadline - DAY) == reminders.Report()
    # (The cancellation notice is queued, not delivered: the smtp guard sees no mail.)


def test_no_reminder_after_the_deadline(app, booking, deadline):
    booking(tickets=2)
    assert send(app, deadline) == reminders.Report()
    assert send(app, deadline + DAY) == reminders.Report()


def test_without_a_deadline_the_points_count_back_from_the_event(app, booking, smtp, deliver):
    order_id, _ = booking(tickets=1, personalisation_deadline=None)
    with app.app_context():
        starts = db.session.get(Order, order_id).shop.event_starts_at
    assert send(app, starts - 7 * DAY - timedelta(minutes=1)).booker_reminders == 0
    assert send(app, starts - 7 * DAY).booker_reminders == 1
    deliver()
    reminder = smtp.take_one("booker@example.com")
    assert "Fill in by" not in body(reminder)
    assert send(app, starts) == reminders.Report()


def test_the_reminder_points_are_the_shops_setting(app, booking, smtp, deliver, deadline):
    booking(tickets=1, reminder_days="3")
    assert send(app, deadline - 7 * DAY).booker_reminders == 0
    assert send(app, deadline - 3 * DAY).booker_reminders == 1
    deliver()
    smtp.take_one("booker@example.com")
    assert send(app, deadline - DAY).booker_reminders == 0


def test_a_recipient_is_reminded_with_their_own_link_until_they_fill_it_in(app, client, booking, smtp, deliver, deadline):
    _, overview = booking(tickets=2)
    share_by_email(client, overview, 1, "friend@example.org")
    deliver()
    share_link = path_of(links_in(smtp.take_one("friend@example.org"))[0])

    assert send(app, deadline - 7 * DAY).recipient_reminders == 1
    deliver()
    smtp.take_one("booker@example.com")
    reminder = smtp.take_one("friend@example.org")
    assert "Reminder" in reminder["Subject"]
    assert "Sam" not in body(reminder) and "de Vries" not in body(reminder)  # nothing of the booker
    link = path_of(next(link for link in links_in(reminder) if "/t/" in link))
    assert link == share_link
    fill_in(client, link)
    deliver()
    smtp.take_one("noor@example.org")

    # Filled in: the recipient gets no more; the booker still does (ticket 2 is open), besides the news of ticket 1.
    assert send(app, deadline - DAY) == reminders.Report(booker_reminders=1, digests=1)
    deliver()
    news, reminder = sorted(smtp.take("booker@example.com"), key=lambda mail: "Reminder" in mail["Subject"])
    assert "Ticket 1 (Day ticket): filled in by Noor Bakker" in body(news)
    assert "Ticket 1 " not in body(reminder) and "Ticket 2 (Day ticket): not claimed or shared yet" in body(reminder)


def test_a_ticket_shared_by_whatsapp_is_in_the_bookers_reminder_but_no_one_else_can_be_written_to(
    app, client, booking, smtp, deliver, deadline
):
    _, overview = booking(tickets=1)
    share_via_whatsapp(client, overview, 1)
    report = send(app, deadline - DAY)
    assert (report.booker_reminders, report.recipient_reminders) == (1, 0)
    deliver()
    assert "Ticket 1 (Day ticket): shared via WhatsApp, not filled in yet" in body(smtp.take_one("booker@example.com"))


def test_a_new_share_is_a_new_recipient_who_gets_their_own_reminders(app, client, booking, smtp, deliver, deadline):
    _, overview = booking(tickets=1)
    share_by_email(client, overview, 1, "first@example.org")
    assert send(app, deadline - 7 * DAY).recipient_reminders == 1
    share_by_email(client, overview, 1, "second@example.org")
    deliver()
    assert len(smtp.take("first@example.org")) == 2  # the share and its reminder
    smtp.take_one("second@example.org")
    smtp.take_one("booker@example.com")
    # The first recipient's link no longer works, so they are not reminded again; the second one is, at each point.
    assert send(app, deadline - 6 * DAY) == reminders.Report(recipient_reminders=1)
    assert send(app, deadline - DAY) == reminders.Report(booker_reminders=1, recipient_reminders=1)
    deliver()
    smtp.take_one("booker@example.com")
    assert ["Reminder" in m["Subject"] for m in smtp.take("second@example.org")] == [True, True]
    assert smtp.take("first@example.org") == []


def test_reminders_are_written_in_the_language_the_person_used(app, client, booking, smtp, deliver, deadline):
    _, overview = booking(tickets=2)
    page_html = client.get(f"{overview}/tickets/1/share", headers={"Accept-Language": "nl"}).get_data(as_text=True)
    client.post(f"{overview}/tickets/1/share/email", headers={"Accept-Language": "nl"},
                data={"csrf_token": csrf_token(page_html), "email": "vriend@example.org"})
    deliver()
    smtp.take_one("vriend@example.org")  # the share
    send(app, deadline - DAY)
    deliver()
    assert "Herinnering" in smtp.take_one("booker@example.com")["Subject"]
    assert "Herinnering" in smtp.take_one("vriend@example.org")["Subject"]


# --- The command, from cron and from several machines at once ------------------------


def flask(app, *args: str, smtp=None) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app.config["SECRET_KEY"],
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_reminders_send_takes_now_in_iso_8601_utc_without_an_offset(app, runner, booking, smtp, deliver, deadline):
    booking(tickets=1)
    early = (deadline - 7 * DAY - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    result = runner.invoke(args=["reminders", "send", "--now", early])
    assert result.exit_code == 0, result.output
    assert "booker reminders: 0" in result.output
    # The same moment written in Amsterdam time (an offset) is one hour or two later in UTC.
    in_amsterdam = (deadline - 7 * DAY).astimezone(__import__("zoneinfo").ZoneInfo("Europe/Amsterdam")).isoformat()
    result = runner.invoke(args=["reminders", "send", "--now", in_amsterdam])
    assert result.exit_code == 0 and "booker reminders: 1" in result.output, result.output
    deliver()
    smtp.take_one("booker@example.com")


def test_reminders_send_refuses_a_now_that_is_not_a_date(runner):
    result = runner.invoke(args=["reminders", "send", "--now", "tomorrow"])
    assert result.exit_code == 2
    assert "ISO 8601" in result.output


def test_runs_at_once_on_several_machines_never_queue_a_mail_twice(app, booking, make_order, deadline):
    """Four `reminders send` processes at the same moment: every reminder once (PostgreSQL: conditional INSERTs wait)."""
    order_id, _ = booking(tickets=2)
    with app.app_context():
        shop_id = db.session.get(Order, order_id).shop_id
        order = db.session.get(Order, order_id)
        personalisation.share_by_email(order, order.ticket_at(1), "friend@example.org", language="en")
        db.session.commit()
    for n in range(2, 21):
        make_order(tickets=2, shop_id=shop_id, booker_email=f"booker{n}@example.com")
    now = (deadline - DAY).strftime("%Y-%m-%dT%H:%M:%S")
    runs = [flask(app, "reminders", "send", "--now", now) for _ in range(4)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0] * 4, outputs
    booker_counts = [int(out.split("booker reminders: ")[1].split(",")[0]) for out, _ in outputs]
    recipient_counts = [int(out.split("recipient reminders: ")[1].split(",")[0]) for out, _ in outputs]
    assert (sum(booker_counts), sum(recipient_counts)) == (20, 1)
    with app.app_context():
        queued = Counter(
            db.session.execute(
                select(OutgoingMessage.kind, OutgoingMessage.recipient).where(OutgoingMessage.kind.like("%reminder"))
            ).all()
        )
        assert len(queued) == 21 and set(queued.values()) == {1}
        assert db.session.scalar(select(func.count()).select_from(TimedMail)) == 21


def test_the_outbox_worker_sends_due_reminders_itself_so_no_cron_is_needed(app, make_order, smtp, deliver):
    import signal
    import time

    soon = datetime.now(UTC) + timedelta(hours=12)
    order_id = make_order(tickets=1, personalisation_deadline=soon)
    with app.app_context():
        # The order arrived three days ago: the 1-day point (12 hours ago) passed after it.
        db.session.get(Order, order_id).personalisation_opened_at = datetime.now(UTC) - 3 * DAY
        db.session.commit()
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp.port),
        "REMINDERS_INTERVAL_SECONDS": "1",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "worker", "--interval", "0.2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(smtp.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3)  # a few more rounds of the worker: nothing more is due
    finally:
        worker.send_signal(signal.SIGTERM)
        output, errors = worker.communicate(timeout=30)
    assert worker.returncode == 0, errors
    subjects = sorted(message["Subject"].strip() for message in smtp.take("booker@example.com"))
    assert subjects == ["Reminder: fill in the names on your tickets for Harbour Jazz Nights", "Your tickets for Harbour Jazz Nights"]
    assert "booker reminders: 1" in output


def test_runs_started_at_the_same_instant_in_threads_queue_each_mail_once(app, booking, make_order, deadline):
    """Four runs released by one barrier, each with its own connection: the database lets one queue each mail."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    order_id, _ = booking(tickets=1)
    with app.app_context():
        shop_id = db.session.get(Order, order_id).shop_id
    for n in range(2, 31):
        make_order(tickets=1, shop_id=shop_id, booker_email=f"booker{n}@example.com")
    barrier = threading.Barrier(4)

    def run() -> reminders.Report:
        with app.app_context():
            barrier.wait()
            return reminders.send_due(deadline - DAY)

    with ThreadPoolExecutor(max_workers=4) as pool:
        reports = list(pool.map(lambda _: run(), range(4)))
    assert sum(report.booker_reminders for report in reports) == 30
    with app.app_context():
        recipients = db.session.scalars(select(OutgoingMessage.recipient).where(OutgoingMessage.kind == "booker_reminder")).all()
    assert len(recipients) == len(set(recipients)) == 30
