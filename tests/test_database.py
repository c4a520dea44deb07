"""Database connections: a connection that died in the pool costs no page an error; odd data reads fine."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from portal.extensions import db
from portal.models import Order, Ticket
from portal.links import overview_url
from tests.conftest import links_in
from tests.pages import path_of, text as page_text


def on_postgresql(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


def test_an_order_without_tickets_shows_as_one_with_none(app, client, make_order):
    order_id = make_order(tickets=2)
    with app.app_context():
        db.session.execute(Ticket.__table__.delete().where(Ticket.order_id == order_id))
        db.session.commit()
        path = path_of(overview_url(db.session.get(Order, order_id)))
    response = client.get(path)
    assert response.status_code == 200
    assert "0 tickets" in page_text(response.get_data(as_text=True))


@pytest.fixture
def checked_out(app):
    """The DB-API connections the app's pool hands out, in order."""
    connections = []
    with app.app_context():
        engine = db.engine

    def note(dbapi_connection, record, proxy):
        connections.append(dbapi_connection)

    event.listen(engine, "checkout", note)
    yield connections
    event.remove(engine, "checkout", note)


def kill(app, dbapi_connection) -> None:
    """End a pooled connection behind the pool's back, as a database restart would."""
    if on_postgresql(app):
        # From a connection of its own: the app's pool would hand out the very connection to end.
        engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=NullPool)
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dbapi_connection.info.backend_pid})
        engine.dispose()
    else:
        dbapi_connection.close()


def test_a_pooled_connection_that_died_costs_the_next_page_no_error(app, client, smtp, deliver, make_order, checked_out):
    make_order(tickets=2)
    deliver()
    path = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    assert client.get(path).status_code == 200
    kill(app, checked_out[-1])

    response = client.get(path)
    assert response.status_code == 200
    assert "Ticket 2" in response.get_data(as_text=True)
