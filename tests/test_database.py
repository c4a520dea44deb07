"""Database connections: statements on the driver read what Core reads; stale pooled connections are replaced."""

from __future__ import annotations

import pytest
from datetime import UTC, datetime

from sqlalchemy import event, insert, select, text

from portal import driver, tokens
from portal.database import read_engine
from portal.extensions import db
from portal.models import Order, OrderEvent, OutgoingMessage, Ticket
from portal.services import overview
from tests.conftest import links_in
from tests.pages import path_of


def on_postgresql(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


def test_a_statement_on_the_driver_reads_what_core_reads(app, make_order, make_shop):
    order_id = make_order(tickets=3, shop_id=make_shop(download_enabled=False, consumer_desk_whatsapp=None))
    with app.app_context():
        through_core = [tuple(row) for row in db.session.execute(overview._OVERVIEW, {"order_id": order_id})]
        on_driver = [tuple(row) for row in driver.read(read_engine(), overview._OVERVIEW, {"order_id": order_id})]
    assert on_driver == through_core
    [row] = on_driver
    starts_at = row[overview._SHOP_PART][1]
    assert starts_at.tzinfo is not None  # aware, as UTCDateTime makes it
    assert row[overview._SHOP_PART][6] is False  # download_enabled: a bool on SQLite too
    assert sorted(ticket[0] for ticket in row[overview._TICKETS]) == [1, 2, 3]  # the tickets, as JSON



def written_by_core_and_by_the_driver(table, rows_for):
    """The rows that `insert(table)` and driver.insert_many write for the same input (but their kind), without ids."""
    connection = db.session.connection()
    connection.execute(insert(table), rows_for("core"))
    driver.insert_many(connection, table, rows_for("driver"))
    written = {}
    for how in ("core", "driver"):
        rows = connection.execute(select(table).where(table.c.kind == how).order_by(table.c.id)).mappings()
        written[how] = [{key: value for key, value in row.items() if key not in ("id", "kind")} for row in rows]
    return written["core"], written["driver"]


def test_insert_many_writes_what_core_writes(app, make_order):
    """Values, JSON, timestamps and every column's default, on whichever database the suite runs."""
    order_id = make_order(tickets=1)
    moment = datetime(2026, 12, 1, 10, 30, 15, 123456, tzinfo=UTC)
    with app.app_context():
        events = lambda kind: [  # noqa: E731
            {"order_id": order_id, "ticket_id": None, "kind": kind, "actor": "system", "actor_label": label,
             "details": details, "created_at": moment}
            for label, details in [(None, {}), ("staff@example.com", {"tickets": 3, "fields": ["email", "Zoë"]})]
        ]
        core, on_driver = written_by_core_and_by_the_driver(OrderEvent.__table__, events)
        assert on_driver == core
        assert on_driver[1]["details"] == {"tickets": 3, "fields": ["email", "Zoë"]}
        assert on_driver[0]["created_at"] == moment

        # Left out: status, attempts, created_at, next_attempt_at (defaults), attach_ticket_ids (JSON null).
        messages = lambda kind: [  # noqa: E731
            {"order_id": order_id, "ticket_id": None, "kind": kind, "recipient": f"{n}@example.com",
             "subject": "Über", "body_text": "text", "body_html": "<p>html</p>", "attach_ticket_ids": ids}
            for n, ids in [(1, None), (2, [4, 5])]
        ]
        core, on_driver = written_by_core_and_by_the_driver(OutgoingMessage.__table__, messages)
        for row in core + on_driver:
            for stamp in (row.pop("created_at"), row.pop("next_attempt_at")):
                assert abs(stamp - datetime.now(UTC)).total_seconds() < 60  # now, and timezone-aware
            assert row["status"] == "queued" and row["attempts"] == 0
        assert on_driver == core
        db.session.rollback()


def test_insert_many_calls_a_default_function_for_each_row(app, make_order):
    order_id = make_order(tickets=1)
    with app.app_context():
        tickets = [{"order_id": order_id, "position": p, "ticket_type": "Day", "price_cents": 4500} for p in (2, 3)]
        driver.insert_many(db.session.connection(), Ticket.__table__, tickets)
        rows = db.session.execute(
            select(Ticket.position, Ticket.barcode, Ticket.status, Ticket.share_version)
            .where(Ticket.order_id == order_id, Ticket.position > 1)
            .order_by(Ticket.position)
        ).all()
        assert [(row.position, row.status, row.share_version) for row in rows] == [(2, "open", 0), (3, "open", 0)]
        assert len({row.barcode for row in rows}) == 2 and all(len(row.barcode) == 32 for row in rows)
        db.session.rollback()



def test_insert_with_ids_gives_each_row_its_own_id_in_the_rows_order(app, make_order, make_shop):
    shop_id = make_shop()
    make_order(tickets=1, shop_id=shop_id)  # ids already taken
    rows = [
        {"shop_id": shop_id, "number": number, "booker_first_name": "Sam", "booker_last_name": "de Vries",
         "booker_email": "sam@example.com", "booker_phone": None, "personalisation_version": 1}
        for number in ("ZZ-3", "AA-1", "MM-2")
    ]
    with app.app_context():
        ids = driver.insert_with_ids(db.session.connection(), Order.__table__, rows, key="number")
        written = dict(db.session.execute(select(Order.number, Order.id).where(Order.number.in_(ids))).all())
        assert ids == written
        assert ids["ZZ-3"] < ids["AA-1"] < ids["MM-2"]  # file order, as the backoffice lists them
        assert db.session.get(Order, ids["AA-1"]).status == "completed"  # the columns' defaults
        db.session.rollback()



def test_an_order_without_tickets_reads_as_one_with_none(app, make_order):
    order_id = make_order(tickets=2)
    with app.app_context():
        db.session.execute(Ticket.__table__.delete().where(Ticket.order_id == order_id))
        db.session.commit()
        [row] = driver.read(read_engine(), overview._OVERVIEW, {"order_id": order_id})
        assert not row[overview._TICKETS]  # [] on SQLite, NULL on PostgreSQL
        order = db.session.get(Order, order_id)
        token = tokens.make_token(tokens.OVERVIEW, order_id, order.personalisation_version)
        assert overview.order_overview(token).tickets == ()


def test_the_overview_reads_on_an_engine_of_its_own_outside_a_transaction(app):
    with app.app_context():
        assert read_engine() is not db.engine  # its own pool: the app's engine keeps its pings
        connection = read_engine().raw_connection()
        try:
            if on_postgresql(app):
                assert connection.driver_connection.autocommit is True
        finally:
            connection.close()


def booker_overview(smtp, deliver) -> str:
    deliver()
    return path_of(links_in(smtp.take_one("booker@example.com"))[0])


@pytest.fixture
def checked_out(app):
    """The DB-API connections the read engine hands out, in order."""
    connections = []
    with app.app_context():
        engine = read_engine()

    def note(dbapi_connection, record, proxy):
        connections.append(dbapi_connection)

    event.listen(engine, "checkout", note)
    yield connections
    event.remove(engine, "checkout", note)


def kill(app, dbapi_connection) -> None:
    """End a pooled connection behind the pool's back, as a database restart would."""
    if on_postgresql(app):
        with app.app_context():
            db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dbapi_connection.info.backend_pid})
            db.session.commit()
    else:
        dbapi_connection.close()


def test_a_read_connection_that_died_costs_the_next_page_no_error(app, client, smtp, deliver, make_order, checked_out):
    make_order(tickets=2)
    path = booker_overview(smtp, deliver)
    assert client.get(path).status_code == 200
    killed = checked_out[-1]
    kill(app, killed)

    response = client.get(path)
    assert response.status_code == 200
    assert "Ticket 2" in response.get_data(as_text=True)
    assert killed in checked_out[:-1] and checked_out[-1] is not killed  # tried, then read on a new connection
    assert client.get(path).status_code == 200


def test_an_error_that_is_not_a_lost_connection_is_not_tried_again(app, checked_out):
    with app.app_context(), pytest.raises(read_engine().dialect.loaded_dbapi.Error):
        driver.read(read_engine(), select(text("no_such_column")).select_from(text("shop")), {})
    assert len(checked_out) == 1


def test_the_overview_read_sends_no_ping(app, client, smtp, deliver, make_order, monkeypatch):
    make_order(tickets=1)
    path = booker_overview(smtp, deliver)
    pings = []
    with app.app_context():
        for engine in (read_engine(), db.engine):
            monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append(connection) or True)
    for _ in range(3):
        assert client.get(path).status_code == 200
    assert pings == []
