"""Add to calendar (.ics, RFC 5545) and the day-before mail with the ticket and a calendar file.

Every .ics is read back by the library that wrote it (icalendar) and by another (vobject).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import icalendar
import pypdfium2
import vobject
import zxingcpp

from portal.extensions import db
from portal.services.barcodes import signed_barcode
from portal.models import Order
from portal.services import reminders
from tests.conftest import body, links_in
from tests.pages import path_of, submit_form, text

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
#: The event: Saturday 12 June 2027, 20:00 to 23:30 in Amsterdam.
STARTS = datetime(2027, 6, 12, 20, 0, tzinfo=AMSTERDAM)
ENDS = datetime(2027, 6, 12, 23, 30, tzinfo=AMSTERDAM)


def read_back(content: bytes) -> dict[str, object]:
    """The event of an .ics as both libraries read it; they must agree."""
    [event] = icalendar.Calendar.from_ical(content).walk("VEVENT")
    mine = {
        "summary": str(event["SUMMARY"]),
        "location": str(event["LOCATION"]),
        "url": str(event["URL"]),
        "start": event.start,
        "end": event.end,
        "description": str(event["DESCRIPTION"]),
    }
    other = vobject.readOne(content.decode())
    theirs = {
        "summary": other.vevent.summary.value,
        "location": other.vevent.location.value,
        "url": other.vevent.url.value,
        "start": other.vevent.dtstart.value,
        "end": other.vevent.dtend.value,
        "description": other.vevent.description.value,
    }
    assert mine == theirs
    return mine


def calendar_attachment(message) -> bytes:
    [part] = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
    assert part.get_filename() == "event.ics"
    return part.get_payload(decode=True)


def event_shop(**settings) -> dict[str, object]:
    return {
        "event_name": "Summer Lights Festival",
        "venue": "Westergasfabriek, Amsterdam",
        "event_starts_at": STARTS.astimezone(UTC),
        "event_ends_at": ENDS.astimezone(UTC),
        "timezone": "Europe/Amsterdam",
        **settings,
    }


def test_add_to_calendar_on_the_overview_gives_the_event_in_its_time_zone_with_a_link_back(
    app, client, make_order, smtp, deliver
):
    make_order(tickets=2, **event_shop())
    deliver()
    confirmation = smtp.take_one("booker@example.com")
    overview = path_of(links_in(confirmation)[0])
    html = client.get(overview).get_data(as_text=True)
    assert "Add to calendar" in text(html)
    response = client.get(f"{overview}/calendar.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.headers["Cache-Control"] == "no-store"

    event = read_back(response.data)
    assert event["summary"] == "Summer Lights Festival"
    assert event["location"] == "Westergasfabriek, Amsterdam"
    assert event["start"] == STARTS and event["end"] == ENDS
    assert str(event["start"].tzinfo) == "Europe/Amsterdam"
    assert path_of(event["url"]) == overview
    assert client.get(path_of(event["url"])).status_code == 200
    # The file holds no personal data but the link to the booker's own page.
    for personal in ("Sam", "de Vries", "booker@example.com", "+31612345678"):
        assert personal.encode() not in response.data

    # The confirmation carries the same event, with the same link back.
    attached = read_back(calendar_attachment(confirmation))
    assert (attached["start"], path_of(attached["url"])) == (STARTS, overview)


def test_the_recipients_ticket_page_and_ready_mail_give_a_calendar_file_linking_to_their_own_page(
    app, client, make_order, smtp, deliver
):
    make_order(tickets=1, **event_shop())
    deliver()
    overview = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    submit_form(client, f"{overview}/tickets/1/share", action=f"{overview}/tickets/1/share/email", email="noor.friend@example.org")
    deliver()
    share_link = path_of(links_in(smtp.take_one("noor.friend@example.org"))[0])
    assert "Add to calendar" in text(client.get(share_link).get_data(as_text=True))
    event = read_back(client.get(f"{share_link}/calendar.ics").data)
    assert path_of(event["url"]) == share_link
    assert b"de Vries" not in client.get(f"{share_link}/calendar.ics").data

    submit_form(client, share_link, first_name="Noor", last_name="Bakker", email="noor@example.org")
    deliver()
    ready = smtp.take_one("noor@example.org")
    attached = read_back(calendar_attachment(ready))
    assert path_of(attached["url"]) == share_link and attached["start"] == STARTS
    assert b"Noor" not in calendar_attachment(ready)


def test_the_calendar_file_is_in_the_language_of_the_page(app, client, make_order, smtp, deliver):
    make_order(tickets=1, **event_shop())
    deliver()
    overview = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    dutch = client.get(f"{overview}/calendar.ics", headers={"Accept-Language": "nl"}).data
    assert read_back(dutch)["description"].startswith("Je tickets: http://portal.test/o/")


def test_a_link_that_does_not_work_gives_no_calendar_file(client):
    assert client.get("/o/not-a-token/calendar.ics").status_code == 404
    assert client.get("/t/not-a-token/calendar.ics").status_code == 404


# --- The day before ---------------------------------------------------------------


def personalised_order(app, client, make_order, smtp, deliver, **settings) -> tuple[int, str]:
    """An order of two tickets: 1 claimed by the booker (for Ada), 2 filled in by Noor; all mail read.

    The shop sends no reminders (none would be due: every ticket is filled in).
    """
    order_id = make_order(tickets=2, **event_shop(**settings))
    deliver()
    overview = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    submit_form(client, f"{overview}/tickets/1/claim", first_name="Ada", last_name="Test", email="ada@example.com")
    submit_form(client, f"{overview}/tickets/2/share", action=f"{overview}/tickets/2/share/email", email="noor.friend@example.org")
    deliver()
    smtp.take_one("ada@example.com")
    share_link = path_of(links_in(smtp.take_one("noor.friend@example.org"))[0])
    submit_form(client, share_link, first_name="Noor", last_name="Bakker", email="noor@example.org")
    deliver()
    smtp.take_one("noor@example.org")
    return order_id, share_link


def send(app, now: datetime) -> reminders.Report:
    with app.app_context():
        return reminders.send_due(now)


def test_the_day_before_each_holder_gets_time_place_their_ticket_and_a_calendar_file(app, client, make_order, smtp, deliver):
    order_id, share_link = personalised_order(app, client, make_order, smtp, deliver)
    # From 10:00 in Amsterdam on the day before; not a minute earlier.
    assert send(app, datetime(2027, 6, 11, 9, 59, tzinfo=AMSTERDAM)) == reminders.Report(digests=1)
    assert send(app, datetime(2027, 6, 11, 10, 0, tzinfo=AMSTERDAM)) == reminders.Report(day_before=2)
    deliver()
    assert "filled in" in smtp.take_one("booker@example.com")["Subject"]  # the booker's news of Noor
    with app.app_context():
        barcodes = {t.holder_email: signed_barcode(t) for t in db.session.get(Order, order_id).tickets}

    for holder in ("ada@example.com", "noor@example.org"):
        mail = smtp.take_one(holder)
        assert "Tomorrow: Summer Lights Festival" in mail["Subject"]
        lines = body(mail)
        assert "When: Saturday 12 June 2027, 20:00" in lines and "Where: Westergasfabriek, Amsterdam" in lines
        [pdf] = [p.get_payload(decode=True) for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"]
        [page] = pypdfium2.PdfDocument(io.BytesIO(pdf))
        assert [code.text for code in zxingcpp.read_barcodes(page.render(scale=200 / 72).to_pil())] == [barcodes[holder]]
        event = read_back(calendar_attachment(mail))
        assert event["start"] == STARTS
        # Each holder's links lead to their own ticket page.
        [own_page] = [path_of(link) for link in links_in(mail) if "/t/" in link]
        assert path_of(event["url"]) == own_page
        assert client.get(own_page).status_code == 200
    assert path_of(read_back(calendar_attachment(mail))["url"]) == share_link

    # Once: later runs that day send nothing more.
    assert send(app, datetime(2027, 6, 12, 19, 0, tzinfo=AMSTERDAM)).day_before == 0
    assert send(app, datetime(2027, 6, 12, 20, 0, tzinfo=AMSTERDAM)).day_before == 0


def test_without_downloads_the_day_before_mail_has_no_ticket_but_the_calendar_file(app, client, make_order, smtp, deliver):
    personalised_order(app, client, make_order, smtp, deliver, download_enabled=False)
    assert send(app, datetime(2027, 6, 11, 12, 0, tzinfo=AMSTERDAM)) == reminders.Report(digests=1, day_before=2)
    deliver()
    smtp.take_one("booker@example.com")
    for holder in ("ada@example.com", "noor@example.org"):
        mail = smtp.take_one(holder)
        assert [p.get_content_type() for p in mail.iter_attachments()] == ["text/calendar"]
        assert "Bring an ID in your name" in body(mail)


def test_a_new_holder_after_the_day_before_mail_gets_it_too_and_open_tickets_get_none(
    app, client, make_order, smtp, deliver, login
):
    order_id = make_order(tickets=2, **event_shop(reminder_days=""))
    deliver()
    smtp.take_one("booker@example.com")
    staff = login()
    form = {"first_name": "Ada", "last_name": "Test", "email": "ada@example.com"}
    assert submit_form(staff, f"/backoffice/orders/{order_id}/tickets/1/edit", **form).status_code == 200
    response = submit_form(staff, f"/backoffice/orders/{order_id}/tickets/1/edit", action=f"/backoffice/orders/{order_id}/tickets/1/edit/confirm", **form)
    assert response.status_code == 303
    assert send(app, datetime(2027, 6, 11, 10, 0, tzinfo=AMSTERDAM)).day_before == 1  # ticket 2 is open: no holder
    form = {"first_name": "Grace", "last_name": "Test", "email": "grace@example.com"}
    submit_form(staff, f"/backoffice/orders/{order_id}/tickets/1/edit", action=f"/backoffice/orders/{order_id}/tickets/1/edit/confirm", **form)
    assert send(app, datetime(2027, 6, 11, 11, 0, tzinfo=AMSTERDAM)).day_before == 1
    deliver()
    assert len(smtp.take("ada@example.com")) == 3  # ready, day before, "no longer yours"
    assert len(smtp.take("grace@example.com")) == 2  # ready, day before


def test_a_cancelled_order_gets_no_day_before_mail(app, client, make_order, smtp, deliver, login):
    order_id, _ = personalised_order(app, client, make_order, smtp, deliver)
    assert submit_form(login(), f"/backoffice/orders/{order_id}/cancel").status_code == 303
    deliver()
    smtp.take_one("booker@example.com")
    for holder in ("ada@example.com", "noor@example.org"):  # told that their ticket is no longer valid
        assert "has been cancelled" in smtp.take_one(holder)["Subject"]
    assert send(app, datetime(2027, 6, 11, 10, 0, tzinfo=AMSTERDAM)) == reminders.Report()
