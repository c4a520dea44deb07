"""The booker kept informed: one gathered mail when friends fill in shared tickets, at most one an hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portal.extensions import db
from portal.models import Order
from portal.services import reminders
from tests.conftest import body, links_in
from tests.pages import path_of, submit_form, text, ticket_card

MINUTE = timedelta(minutes=1)


def send(app, now: datetime) -> reminders.Report:
    with app.app_context():
        return reminders.send_due(now)


def shared_links(client, smtp, deliver, overview: str, *friends: str) -> list[str]:
    """Share tickets 1, 2, … by email with the friends; the paths of the links they receive."""
    for position, friend in enumerate(friends, start=1):
        response = submit_form(
            client, f"{overview}/tickets/{position}/share", action=f"{overview}/tickets/{position}/share/email", email=friend
        )
        assert response.status_code == 303
    deliver()
    return [path_of(links_in(smtp.take_one(friend))[0]) for friend in friends]


def fill_in(client, smtp, deliver, share_path: str, first_name: str) -> None:
    email = f"{first_name.lower()}@example.org"
    assert submit_form(client, share_path, first_name=first_name, last_name="Bakker", email=email).status_code == 303
    deliver()
    smtp.take_one(email)  # their "ticket ready"


def test_the_booker_is_told_who_filled_in_which_ticket_and_what_is_still_open(app, client, make_order, smtp, deliver):
    make_order(tickets=3)
    deliver()
    overview = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    [noor] = shared_links(client, smtp, deliver, overview, "noor.friend@example.org")
    fill_in(client, smtp, deliver, noor, "Noor")
    filled_in_at = datetime.now(UTC)

    # Not at once: it waits for more completions to gather.
    assert send(app, filled_in_at + 30 * MINUTE).digests == 0
    assert send(app, filled_in_at + 55 * MINUTE).digests == 1
    deliver()
    mail = smtp.take_one("booker@example.com")
    assert "1 ticket for Harbour Jazz Nights has been filled in" in mail["Subject"]
    lines = body(mail)
    assert "Ticket 1 (Day ticket): filled in by Noor Bakker" in lines
    assert "Still to fill in:" in lines
    assert "Ticket 2 (Day ticket): not claimed or shared yet" in lines and "Ticket 3 (Day ticket)" in lines

    # Its link opens the overview, which shows when the ticket was shared and when it was filled in.
    link = path_of(next(link for link in links_in(mail) if "/o/" in link))
    card = text(ticket_card(client.get(link).get_data(as_text=True), 1))
    assert "Personalised by Noor Bakker" in card
    assert "Shared on " in card and "Personalised on " in card

    # Told once: later runs send nothing more.
    assert send(app, filled_in_at + 3 * timedelta(hours=1)).digests == 0


def test_completions_within_the_hour_are_gathered_in_one_mail(app, client, make_order, smtp, deliver):
    make_order(tickets=2)
    deliver()
    overview = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    noor, kim = shared_links(client, smtp, deliver, overview, "noor.friend@example.org", "kim.friend@example.org")
    fill_in(client, smtp, deliver, noor, "Noor")
    first = datetime.now(UTC)
    fill_in(client, smtp, deliver, kim, "Kim")

    assert send(app, first + 55 * MINUTE).digests == 1
    deliver()
    mail = smtp.take_one("booker@example.com")
    assert "2 tickets for Harbour Jazz Nights have been filled in" in mail["Subject"]
    assert "filled in by Noor Bakker" in body(mail) and "filled in by Kim Bakker" in body(mail)
    assert "Every ticket of your order is filled in now." in body(mail)


def test_at_most_one_such_mail_per_order_per_hour(app, client, make_order, smtp, deliver):
    order_id = make_order(tickets=2)
    deliver()
    overview = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    noor, kim = shared_links(client, smtp, deliver, overview, "noor.friend@example.org", "kim.friend@example.org")
    fill_in(client, smtp, deliver, noor, "Noor")
    told_at = datetime.now(UTC) + 55 * MINUTE
    assert send(app, told_at).digests == 1
    deliver()
    assert "filled in by Noor Bakker" in body(smtp.take_one("booker@example.com"))

    # Kim fills in; her completion has waited long enough at told_at + 55 minutes, but the last mail went out less
    # than an hour before: it goes at the hour.
    fill_in(client, smtp, deliver, kim, "Kim")
    with app.app_context():
        db.session.get(Order, order_id).ticket_at(2).personalised_at = told_at
        db.session.commit()
    assert send(app, told_at + 55 * MINUTE).digests == 0
    assert send(app, told_at + 60 * MINUTE).digests == 1
    deliver()
    mail = body(smtp.take_one("booker@example.com"))
    assert "filled in by Kim Bakker" in mail and "Noor" not in mail


def test_the_bookers_own_claims_are_not_news_to_them(app, client, make_order, smtp, deliver):
    make_order(tickets=1)
    deliver()
    overview = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    response = submit_form(client, f"{overview}/tickets/1/claim", first_name="Sam", last_name="de Vries", email="sam@example.com")
    assert response.status_code == 302
    deliver()
    smtp.take_one("sam@example.com")
    assert send(app, datetime.now(UTC) + timedelta(hours=2)).digests == 0


def test_a_cancelled_orders_booker_is_not_told(app, client, make_order, smtp, deliver, login):
    order_id = make_order(tickets=1)
    deliver()
    overview = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    [noor] = shared_links(client, smtp, deliver, overview, "noor.friend@example.org")
    fill_in(client, smtp, deliver, noor, "Noor")
    assert submit_form(login(), f"/backoffice/orders/{order_id}/cancel").status_code == 303
    deliver()
    smtp.take_one("booker@example.com")  # the cancellation
    smtp.take_one("noor@example.org")  # and the holder's
    assert send(app, datetime.now(UTC) + timedelta(hours=2)).digests == 0
