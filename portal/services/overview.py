"""What the booker's overview shows, read in one statement as one row.

The overview is the page a burst of bookers opens after the confirmation mail.
Through the ORM (an Order, its Shop, a Ticket per admission, and the lazy loads
their properties set off from the template) loading it cost more than rendering
it; here it is one Core statement, run on the driver (portal.driver), and small
frozen records. The rules are the ones every other page uses:
personalisation.check_overview_link and downloads.may_download.
"""

from __future__ import annotations

from collections import namedtuple
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import JSON, bindparam, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from portal import driver, tokens
from portal.database import read_engine
from portal.errors import LinkInvalid
from portal.models import Order, Shop, Ticket, TicketStatus
from portal.models.tickets import full_name
from portal.services.downloads import may_download
from portal.services.personalisation import check_overview_link

_order = Order.__table__
_shop = Shop.__table__
_ticket = Ticket.__table__

_ORDER_COLUMNS = (_order.c.status, _order.c.personalisation_version, _order.c.number)
_SHOP_COLUMNS = (
    _shop.c.event_name,
    _shop.c.event_starts_at,
    _shop.c.event_ends_at,
    _shop.c.venue,
    _shop.c.timezone,
    _shop.c.default_language,
    _shop.c.download_enabled,
    _shop.c.personalisation_required,
    _shop.c.consumer_desk_whatsapp,
)
_TICKET_COLUMNS = (
    _ticket.c.position,
    _ticket.c.ticket_type,
    _ticket.c.status,
    _ticket.c.shared_via,
    _ticket.c.shared_with_email,
    _ticket.c.holder_first_name,
    _ticket.c.holder_last_name,
)


class _JSONRows(FunctionElement[Any]):
    """A JSON array holding, for each row aggregated, the array of these columns' values."""

    type = JSON()
    inherit_cache = True


@compiles(_JSONRows, "sqlite")
def _json_rows_sqlite(element: _JSONRows, compiler: Any, **kw: Any) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"


@compiles(_JSONRows, "postgresql")
def _json_rows_postgresql(element: _JSONRows, compiler: Any, **kw: Any) -> str:
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"


#: The order's state, the shop's event and settings, and the tickets as one JSON value: one
#: row in one statement (one round trip). A row per ticket, repeating the order's and shop's
#: columns, cost SQLite's driver more than the rest of the read: it converts every value
#: of every row on its own (releasing the GIL for each), 190 values for ten tickets.
_OVERVIEW = select(
    *_ORDER_COLUMNS,
    *_SHOP_COLUMNS,
    select(_JSONRows(*_TICKET_COLUMNS)).where(_ticket.c.order_id == _order.c.id).scalar_subquery(),
).join_from(_order, _shop, _order.c.shop_id == _shop.c.id).where(_order.c.id == bindparam("order_id"))
_SHOP_PART = slice(len(_ORDER_COLUMNS), len(_ORDER_COLUMNS) + len(_SHOP_COLUMNS))
_TICKETS = _SHOP_PART.stop
#: Ticket arrays in the order of their positions (an aggregate's order is not guaranteed).
_by_position = itemgetter(0)

# Named tuples rather than dataclasses: made, hashed and compared at C speed (the page's
# stencil is looked up by these records, see portal.stencils).

#: The order's state, as check_overview_link reads it.
_OrderState = namedtuple("_OrderState", [column.name for column in _ORDER_COLUMNS])
#: The shop's event and settings, as the page shows them (`order.shop.event_name`, ...).
ShopLine = namedtuple("ShopLine", [column.name for column in _SHOP_COLUMNS])


class TicketLine(NamedTuple):
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


class OrderOverview(NamedTuple):
    number: str
    shop: ShopLine
    tickets: tuple[TicketLine, ...]

    @property
    def any_downloadable(self) -> bool:
        return any(ticket.downloadable for ticket in self.tickets)


def order_overview(token: str) -> OrderOverview:
    """The overview an overview link opens, or the reason it cannot be opened (as order_for_overview)."""
    order_id, version = tokens.read_token(tokens.OVERVIEW, token)
    # Not through the Session: this is the request's only read, and it needs no transaction.
    rows = driver.read(read_engine(), _OVERVIEW, {"order_id": order_id})
    if not rows:
        raise LinkInvalid()
    [row] = rows
    order = _OrderState._make(row[: _SHOP_PART.start])
    shop = ShopLine._make(row[_SHOP_PART])
    check_overview_link(order, shop, version)
    tickets = tuple(
        TicketLine(
            position,
            ticket_type,
            status,
            shared_via,
            shared_with_email,
            full_name(first_name, last_name),
            may_download(order.status, shop, status),
        )
        for position, ticket_type, status, shared_via, shared_with_email, first_name, last_name in sorted(
            row[_TICKETS] or (), key=_by_position  # PostgreSQL's json_agg of no rows is NULL
        )
    )
    return OrderOverview(order.number, shop, tickets)
