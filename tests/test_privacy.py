"""Privacy: personal data is forgotten after the event, and the timeline never keeps it in clear."""

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import Order, OrderEvent, OutgoingMessage
from portal.services import history
from tests.backoffice_pages import confirm, order_path, page, timeline
from tests.conftest import links_in
from tests.pages import csrf_token, path_of, share_via_whatsapp, submit_form

HOLDER = {"first_name": "Noor", "last_name": "Bakker", "email": "noor@example.org", "phone": "+31 6 23456789"}
PII = ("Sam", "de Vries", "booker@example.com", "+31612345678", "Noor", "Bakker", "noor@example.org",
       "+31623456789", "friend@example.org", "Grace", "grace@example.org")


def personalised_order(client, smtp, deliver, make_order, **shop_settings) -> tuple[int, str]:
    """An order whose ticket 1 the booker claimed, ticket 2 a recipient personalised, ticket 3 is shared by email."""
    order_id = make_order(tickets=4, **shop_settings)
    deliver()
    overview = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    submit_form(client, f"{overview}/tickets/1/claim", first_name="Sam", last_name="de Vries",
                email="booker@example.com", phone="+31612345678")
    submit_form(client, share_via_whatsapp(client, overview, 2), **HOLDER)
    page_path = f"{overview}/tickets/3/share"
    assert submit_form(client, page_path, action=f"{page_path}/email", email="friend@example.org").status_code == 303
    deliver()
    smtp.take("booker@example.com"), smtp.take_one("noor@example.org"), smtp.take_one("friend@example.org")
    return order_id, overview


def move_event(app, order_id: int, ends_at: datetime) -> None:
    with app.app_context():
        shop = db.session.get(Order, order_id).shop
        shop.event_starts_at, shop.event_ends_at = ends_at - timedelta(hours=5), ends_at
        db.session.commit()


def everything_stored_about(app, order_id: int) -> str:
    """The order's rows (order, tickets, timeline, outbox) as one text to search."""
    with app.app_context():
        order = db.session.get(Order, order_id)
        rows = [order, *order.tickets, *order.events,
                *db.session.scalars(select(OutgoingMessage).where(OutgoingMessage.order_id == order_id))]
        return json.dumps(
            [{c.key: getattr(row, c.key) for c in row.__mapper__.column_attrs} for row in rows], default=str
        )


def test_purge_anonymises_orders_of_events_that_ended_before_the_date(app, client, runner, smtp, deliver, make_order):
    old_id, overview = personalised_order(client, smtp, deliver, make_order)
    move_event(app, old_id, datetime(2025, 6, 1, 22, tzinfo=UTC))
    recent_id = make_order(tickets=2)  # its event is still to come
    smtp_before = everything_stored_about(app, recent_id)
    with app.app_context():
        before = db.session.get(Order, old_id)
        shape = ([(t.ticket_type, t.price_cents, t.status, t.barcode) for t in before.tickets],
                 [(e.kind, e.actor, e.ticket_id) for e in before.events])
    assert all(value in everything_stored_about(app, old_id) for value in ("Noor", "friend@example.org"))

    result = runner.invoke(args=["privacy", "purge", "--ended-before", "2025-07-01"])

    assert result.exit_code == 0, result.output
    assert "Personal data purged from 1 order(s)" in result.output
    stored = everything_stored_about(app, old_id)
    assert not [value for value in PII if value in stored]
    with app.app_context():
        order = db.session.get(Order, old_id)
        assert (order.booker_first_name, order.booker_last_name) == ("Anonymised", "Anonymised")
        assert order.booker_email == f"anonymised-{old_id}@invalid" and order.booker_phone is None
        holders = [(t.holder_first_name, t.holder_email, t.holder_phone, t.shared_with_email) for t in order.tickets]
        assert holders[:2] == [("Anonymised", f"anonymised-{old_id}-{n}@invalid", None, None) for n in (1, 2)]
        assert holders[2:] == [(None, None, None, None)] * 2
        # Counts, types, prices, statuses and the timeline's shape are kept; one event is added.
        assert ([(t.ticket_type, t.price_cents, t.status, t.barcode) for t in order.tickets],
                [(e.kind, e.actor, e.ticket_id) for e in order.events][:-1]) == shape
        assert order.events[-1].kind == history.PERSONAL_DATA_PURGED
        assert {m.recipient for m in db.session.scalars(
            select(OutgoingMessage).where(OutgoingMessage.order_id == old_id))} == {f"anonymised-{old_id}@invalid"}
    assert everything_stored_about(app, recent_id) == smtp_before  # the later event's order is untouched
    # The booker's old link now shows nothing personal either.
    assert "Sam" not in client.get(overview).get_data(as_text=True)

    again = runner.invoke(args=["privacy", "purge", "--ended-before", "2025-07-01"])
    assert "from 0 order(s)" in again.output


def test_purge_refuses_a_date_in_the_future(runner, make_order):
    make_order(tickets=1)
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
    result = runner.invoke(args=["privacy", "purge", "--ended-before", tomorrow])
    assert result.exit_code != 0 and "future" in result.output


def test_purged_order_keeps_a_readable_timeline_in_the_backoffice(app, client, runner, smtp, deliver, make_order, login):
    order_id, _ = personalised_order(client, smtp, deliver, make_order)
    move_event(app, order_id, datetime(2025, 6, 1, 22, tzinfo=UTC))
    runner.invoke(args=["privacy", "purge", "--ended-before", "2025-07-01"])
    entries = timeline(page(login(), order_path(order_id)))
    assert "Personal data purged" in entries[0]
    assert any("personalised by the recipient" in entry for entry in entries)
    assert not [value for value in PII if value in " ".join(entries)]


def test_timeline_records_who_changed_personal_data_but_never_the_old_values(app, client, smtp, deliver, make_order, login):
    order_id, _ = personalised_order(client, smtp, deliver, make_order)
    staff = login()
    contact = f"{order_path(order_id)}/contact"
    assert confirm(staff, contact, first_name="Grace", last_name="Hopper", email="grace@example.org",
                   phone="+31 6 34567890").status_code == 303
    edit = f"{order_path(order_id)}/tickets/2/edit"
    form = page(staff, edit)
    shown = staff.post(edit, data={"csrf_token": csrf_token(form), "first_name": "Ada", "last_name": "Lovelace",
                                   "email": "ada@example.org", "phone": ""})
    staff.post(f"{edit}/confirm", data={"csrf_token": csrf_token(shown.get_data(as_text=True)), "first_name": "Ada",
                                         "last_name": "Lovelace", "email": "ada@example.org", "phone": ""})
    deliver()
    smtp.take_one("ada@example.org"), smtp.take_one("noor@example.org")  # new holder; previous holder told

    with app.app_context():
        events = db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id)).all()
        edits = {e.kind: e for e in events if e.kind in (history.CONTACT_EDITED, history.TICKET_EDITED)}
        stored = json.dumps([[e.kind, e.actor_label, e.details] for e in events])
    assert edits[history.CONTACT_EDITED].actor_label == staff.user_email  # who
    assert set(edits[history.CONTACT_EDITED].details["fields"]) == {"first_name", "last_name", "email", "phone"}
    assert edits[history.TICKET_EDITED].actor_label == staff.user_email
    old_values = ("Sam", "de Vries", "booker@example.com", "+31612345678", "Noor", "Bakker", "noor@example.org",
                  "+31623456789")
    assert not [value for value in old_values if value in stored]
