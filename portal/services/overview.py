"""What the booker's overview shows, read in one statement as plain rows.

The overview is the page a burst of bookers opens after the confirmation mail.
Through the ORM (an Order, its Shop, a Ticket per admission, and the lazy loads
their properties set off from the template) loading it cost more than rendering
it; here it is one Core statement and small frozen records. The rules are the
ones every other page uses: personalisation.check_overview_link and
downloads.may_download.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select

from portal import tokens
from portal.errors import LinkInvalid
from portal.extensions import db
from portal.models import Order, Shop, Ticket, TicketStatus
from portal.models.tickets import full_name
from portal.services.downloads import may_download
from portal.services.personalisation import check_overview_link

_order = Order.__table__
_shop = Shop.__table__
_ticket = Ticket.__table__

#: The order's state, the shop's event and settings, and the tickets: a row per ticket, in
#: one statement (one round trip). An order without tickets still gives one row.
_OVERVIEW = (
    select(
        _order.c.number,
        _order.c.status,
        _order.c.personalisation_version,
        _shop.c.event_name,
        _shop.c.event_starts_at,
        _shop.c.event_ends_at,
        _shop.c.venue,
        _shop.c.timezone,
        _shop.c.default_language,
        _shop.c.download_enabled,
        _shop.c.personalisation_required,
        _shop.c.consumer_desk_whatsapp,
        _ticket.c.position,
        _ticket.c.ticket_type,
        _ticket.c.status.label("ticket_status"),
        _ticket.c.shared_via,
        _ticket.c.shared_with_email,
        _ticket.c.holder_first_name,
        _ticket.c.holder_last_name,
    )
    .join_from(_order, _shop, _order.c.shop_id == _shop.c.id)
    .outerjoin(_ticket, _ticket.c.order_id == _order.c.id)
    .where(_order.c.id == bindparam("order_id"))
    .order_by(_ticket.c.position)
)


@dataclass(frozen=True, slots=True)
class TicketLine:
    position: int
    ticket_type: str
    status: str
    shared_via: str | None
    shared_with_email: str | None
    holder_name: str
    downloadable: bool

    @property
    def is_personalised(self) -> bool:
        return self.status == TicketStatus.PERSONALISED


@dataclass(frozen=True, slots=True)
class OrderOverview:
    number: str
    #: The shop's event and settings (a row: event_name, venue, download_enabled, ...).
    shop: Any
    tickets: list[TicketLine]

    @property
    def any_downloadable(self) -> bool:
        return any(ticket.downloadable for ticket in self.tickets)


def order_overview(token: str) -> OrderOverview:
    """The overview an overview link opens, or the reason it cannot be opened (as order_for_overview)."""
    order_id, version = tokens.read_token(tokens.OVERVIEW, token)
    rows = db.session.connection().execute(_OVERVIEW, {"order_id": order_id}).all()
    if not rows:
        raise LinkInvalid()
    # The order and shop columns are the same on every row; the first row stands for both.
    order = rows[0]
    check_overview_link(order, order, version)
    tickets = [
        TicketLine(
            position=row.position,
            ticket_type=row.ticket_type,
            status=row.ticket_status,
            shared_via=row.shared_via,
            shared_with_email=row.shared_with_email,
            holder_name=full_name(row.holder_first_name, row.holder_last_name),
            downloadable=may_download(order.status, order, row.ticket_status),
        )
        for row in rows
        if row.position is not None
    ]
    return OrderOverview(number=order.number, shop=order, tickets=tickets)
