"""An app on a scratch database with demo orders, for the in-process benchmarks (render cost, PDF)."""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import fresh_postgres_database  # noqa: E402

_numbers = itertools.count(1)


def scratch_app(database_url: str | None):
    """The app on a fresh database: `database_url` (PostgreSQL, recreated) or a temporary SQLite file."""
    from portal import create_app
    from portal.config import Config
    from portal.extensions import db

    if database_url and database_url.startswith("postgresql"):
        fresh_postgres_database(database_url)
    else:
        database_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-')) / 'bench.sqlite3'}"
    app = create_app(
        Config,
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "bench-secret-key",
            "RATELIMIT_ENABLED": False,
            "PORTAL_BASE_URL": "http://portal.test",
        },
    )
    with app.app_context():
        db.create_all()
    return app


def make_order(app, tickets: int, *, personalised: bool = False) -> int:
    """A demo order with `tickets` tickets (all claimed by the booker if `personalised`); returns its id."""
    from portal.extensions import db
    from portal.models import Organizer, Shop, Ticket, TicketStatus
    from portal.services.orders import Booker, OrderLine, create_order

    with app.app_context():
        organizer = db.session.query(Organizer).filter_by(name="Bench Events").one_or_none() or Organizer(name="Bench Events")
        starts = datetime.now(UTC) + timedelta(days=30)
        shop = Shop(
            organizer=organizer,
            event_name="Summer Lights Festival",
            event_starts_at=starts,
            event_ends_at=starts + timedelta(hours=6),
            venue="Westergasfabriek, Amsterdam",
        )
        db.session.add(shop)
        order = create_order(
            shop,
            number=f"NX-2026-{next(_numbers):06d}",
            booker=Booker("Sam", "de Vries", "booker@example.com", "+31612345678"),
            lines=[OrderLine("Weekend pass", tickets, 8950)],
        )
        if personalised:
            for ticket in order.tickets:
                ticket.holder_first_name, ticket.holder_last_name = "Zoë", f"Łukasz-{ticket.position}"
                ticket.holder_email = f"holder{ticket.position}@example.com"
                ticket.status = TicketStatus.PERSONALISED
                ticket.personalised_at = datetime.now(UTC)
                ticket.personalised_by = "booker"
        db.session.commit()
        assert all(isinstance(t, Ticket) for t in order.tickets)
        return order.id
