"""Orders import: a CSV file of orders, checked line by line, written all or nothing.

The file is read once, as a stream: each row is checked with the portal's own
rules (names, email, phone; each email domain is checked once per file) and its
normalised values go to a temporary spool file; memory keeps only a small
summary per order number. When every row is good, the orders are created from
the spool a chunk at a time through `create_orders`, the same path as an order
made in the portal. So memory stays flat however long the file is, and the
stream need not be seekable.

Columns (header row required, any order, `,` or `;` separated):
order_number, first_name, last_name, email, mobile, ticket_type, quantity, unit_price.
Several rows may share an order number (one per ticket type); their booker
details must agree. Order numbers that exist already are skipped, not duplicated.
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.errors import PortalError
from portal.extensions import db
from portal.validation import (
    EMAIL_MAX,
    NAME_MAX,
    EmailNormaliser,
    InvalidValue,
    check_name,
    check_plain_text,
    parse_phone,
)
from portal.models import Order, Shop
from portal.services import history
from portal.services.orders import Booker, NewOrder, OrderLine, create_orders

COLUMNS = (
    "order_number",
    "first_name",
    "last_name",
    "email",
    "mobile",
    "ticket_type",
    "quantity",
    "unit_price",
)
#: Enough to see what is wrong with a file; past this the rest is not checked.
MAX_ERRORS = 100
MAX_QUANTITY = 1000
MAX_UNIT_PRICE_CENTS = 100_000_00
#: Order.number and Ticket.ticket_type column widths.
ORDER_NUMBER_MAX = 40
TICKET_TYPE_MAX = 100
PHONE_INPUT_MAX = 40
#: Orders created per round of INSERTs; the session is emptied after each.
CHUNK_ORDERS = 1000

_ORDER_NUMBER = re.compile(r"[\w./#-]+")
# Prices as spreadsheets write them: 45, 45.00, 45,00, 1.234,50, 1,234.50 (after dropping € and spaces).
_PRICE_PLAIN = re.compile(r"(\d+)(?:[.,](\d{1,2}))?")
_PRICE_GROUPED = re.compile(r"(\d{1,3}(?:([.,])\d{3})+)(?:([.,])(\d{1,2}))?")
_PRICE_AMBIGUOUS = re.compile(r"\d{1,3}[.,]\d{3}")  # 1.000 is a thousand in Dutch, one in some exports
_PRICE_NOISE = re.compile(r"[\s\u00a0\u202f€']|eur", re.IGNORECASE)


@dataclass
class ImportReport:
    #: New order numbers, in file order.
    created: list[str] = field(default_factory=list)
    #: Order numbers that already existed (not duplicated), in file order.
    skipped: list[str] = field(default_factory=list)


class ImportFailed(PortalError):
    """The file was refused; nothing was written. `errors` says why, line by line."""

    status_code = 422
    message = _l("The file was not imported.")

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        #: (line number in the file, 1-based with the header as line 1; message)
        self.errors = errors
        super().__init__(
            gettext("The file was not imported: %(count)d problem(s) found.", count=len(errors))
        )


def import_orders(shop: Shop, stream: TextIO, *, actor_label: str | None = None) -> ImportReport:
    """Check every row of the CSV stream, then create its new orders; raise ImportFailed if any row is wrong.

    Open files with encoding "utf-8-sig" and newline="". Runs in the caller's
    transaction and does not commit: the caller commits once (or rolls back on
    ImportFailed). `actor_label` is the organizer user's email for the timeline;
    without it the orders are imported by the system.
    """
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spool:
        orders = _check(shop, stream, spool)
        existing = _existing_numbers(shop, orders)
        spool.seek(0)
        actor = history.ORGANIZER if actor_label else history.SYSTEM
        try:
            return _create(shop, spool, orders, existing, actor=actor, actor_label=actor_label)
        except IntegrityError as error:
            # Someone created one of these order numbers since they were looked up.
            raise ImportFailed(
                [(1, gettext("Some of these orders were created elsewhere while the file was imported. Import it again to skip them."))]
            ) from error


# --- Pass 1: check every row, spool the normalised values ---------------------


class _SeenOrder:
    """What the check remembers of an order number: kept small, there may be 100,000."""

    __slots__ = ("first_line", "booker", "rows")

    def __init__(self, first_line: int, booker: int) -> None:
        self.first_line = first_line
        #: A hash of the normalised booker details, to spot rows that disagree.
        self.booker = booker
        self.rows = 1


def _header_error(message: str) -> ImportFailed:
    expected = ", ".join(COLUMNS)
    return ImportFailed([(1, message + " " + gettext("The first line must name the columns: %(columns)s.", columns=expected))])


def _read_header(stream: TextIO) -> tuple[str, dict[str, int], int]:
    """The delimiter, the position of each column, and the row width the header gives."""
    line = stream.readline()
    if not line.strip():
        raise _header_error(gettext("The file is empty."))
    # Spreadsheets in the Netherlands write ";" (the comma is the decimal mark); most others ",".
    delimiter = max((",", ";", "\t"), key=line.count)
    cells = next(csv.reader([line], delimiter=delimiter))
    names = [re.sub(r"[\s-]+", "_", cell.replace("\ufeff", "").strip().lower()) for cell in cells]
    problems = []
    duplicates = sorted({name for name in names if name and names.count(name) > 1})
    if duplicates:
        problems.append(gettext("Column(s) named twice: %(names)s.", names=", ".join(duplicates)))
    missing = [name for name in COLUMNS if name not in names]
    if missing:
        problems.append(gettext("Missing column(s): %(names)s.", names=", ".join(missing)))
    unknown = [cell.strip() for cell, name in zip(cells, names) if name and name not in COLUMNS]
    if unknown:
        problems.append(gettext("Unknown column(s): %(names)s.", names=", ".join(unknown)))
    if problems:
        raise _header_error(" ".join(problems))
    return delimiter, {name: names.index(name) for name in COLUMNS}, len(names)


def _required(value: str, column: str, max_length: int, check: Callable[[str], str], errors: list[str]) -> str:
    """A required cell, stripped and checked: `check` returns it normalised or raises InvalidValue."""
    value = value.strip()
    if not value:
        errors.append(f"{column}: {gettext('This field is required.')}")
    elif len(value) > max_length:
        errors.append(f"{column}: {gettext('At most %(max)d characters.', max=max_length)}")
    else:
        try:
            return check(value)
        except InvalidValue as error:
            errors.append(f"{column}: {error}")
    return value


def _booker(
    cells: list[str], columns: dict[str, int], country: str, normalise_email: EmailNormaliser, errors: list[str]
) -> tuple[str, str, str, str]:
    """First name, last name, email and E.164 mobile ("" when none) of a row, checked."""
    first_name = _required(cells[columns["first_name"]], "first_name", NAME_MAX, check_name, errors)
    last_name = _required(cells[columns["last_name"]], "last_name", NAME_MAX, check_name, errors)
    email = _required(cells[columns["email"]], "email", EMAIL_MAX, normalise_email, errors)
    mobile = cells[columns["mobile"]].strip()
    if mobile:
        try:
            if len(mobile) > PHONE_INPUT_MAX:
                raise InvalidValue(gettext("At most %(max)d characters.", max=PHONE_INPUT_MAX))
            mobile = parse_phone(mobile, country)
        except InvalidValue as error:
            errors.append(f"mobile: {error}")
    return first_name, last_name, email, mobile


def parse_price_cents(value: str) -> int:
    """Cents from a price as people type it: "45.00", "45,00" (Dutch), "€ 45", "1.234,50".

    Raises ValueError for anything else, including "1.000": a thousand or one, depending on who wrote it.
    """
    text = _PRICE_NOISE.sub("", value)
    match = _PRICE_PLAIN.fullmatch(text)
    if match:
        whole, fraction = match.group(1), match.group(2) or ""
    else:
        match = _PRICE_GROUPED.fullmatch(text)
        # The grouping mark and the decimal mark must differ: 1.234,50 or 1,234.50.
        if not match or match.group(2) == match.group(3) or _PRICE_AMBIGUOUS.fullmatch(text):
            raise ValueError(value)
        whole, fraction = match.group(1).replace(match.group(2), ""), match.group(4) or ""
    return int(whole) * 100 + int(fraction.ljust(2, "0"))


def _quantity(value: str, errors: list[str]) -> int:
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_QUANTITY:
        errors.append(f"quantity: {gettext('Enter a whole number of tickets from 1 to %(max)d.', max=MAX_QUANTITY)}")
        return 0
    return int(value)


def _unit_price(value: str, errors: list[str]) -> int:
    try:
        cents = parse_price_cents(value)
    except ValueError:
        errors.append(f"unit_price: {gettext('Enter a price like 45.00 or 45,00.')}")
        return 0
    if cents > MAX_UNIT_PRICE_CENTS:
        errors.append(
            f"unit_price: {gettext('At most %(max)s.', max=f'{MAX_UNIT_PRICE_CENTS // 100:,}')}"
        )
    return cents


def _records(stream: TextIO, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Each row after the header with the line it starts on (a quoted cell may span lines)."""
    reader = csv.reader(stream, delimiter=delimiter)
    line = 2
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as error:
            raise ImportFailed(
                [(line, gettext('The file is not UTF-8 text. Save it as "CSV UTF-8" and try again.'))]
            ) from error
        except csv.Error as error:
            raise ImportFailed([(line, gettext("This line cannot be read as CSV: %(error)s", error=str(error)))]) from error
        yield line, cells
        line = reader.line_num + 2  # line_num counts from after the header


def _check(shop: Shop, stream: TextIO, spool: TextIO) -> dict[str, _SeenOrder]:
    """Check every row, write the good ones to the spool; return what was seen per order number."""
    try:
        delimiter, columns, width = _read_header(stream)
    except UnicodeDecodeError as error:
        raise ImportFailed(
            [(1, gettext('The file is not UTF-8 text. Save it as "CSV UTF-8" and try again.'))]
        ) from error
    unnamed = [i for i in range(width) if i not in columns.values()]
    writer = csv.writer(spool)
    orders: dict[str, _SeenOrder] = {}
    errors: list[tuple[int, str]] = []
    previous: tuple[str, list[str], tuple[str, str, str, str]] | None = None
    booker_cells = [columns[name] for name in ("first_name", "last_name", "email", "mobile")]
    normalise_email = EmailNormaliser()

    for line, cells in _records(stream, delimiter):
        if not any(cell.strip() for cell in cells):
            continue  # spreadsheets end files with empty rows like ";;;;;;;"
        row_errors: list[str] = []
        if len(cells) < width:
            cells += [""] * (width - len(cells))  # the missing values are reported as missing
        elif any(cell.strip() for cell in cells[width:]) or any(cells[i].strip() for i in unnamed):
            row_errors.append(gettext("This line has more values than the header has columns."))

        number = cells[columns["order_number"]].strip().upper()
        if not number:
            row_errors.append(f"order_number: {gettext('This field is required.')}")
        elif len(number) > ORDER_NUMBER_MAX or not _ORDER_NUMBER.fullmatch(number):
            row_errors.append(
                f"order_number: {gettext('Use letters, digits and - . / # only, at most %(max)d.', max=ORDER_NUMBER_MAX)}"
            )

        # Rows of one order usually follow each other with the same booker cells: check those once.
        raw_booker = [cells[i] for i in booker_cells]
        if previous is not None and previous[0] == number and previous[1] == raw_booker:
            booker = previous[2]
        else:
            booker_errors: list[str] = []
            booker = _booker(cells, columns, shop.country, normalise_email, booker_errors)
            row_errors.extend(booker_errors)
            previous = (number, raw_booker, booker) if not booker_errors else None

        ticket_type = _required(cells[columns["ticket_type"]], "ticket_type", TICKET_TYPE_MAX, check_plain_text, row_errors)
        quantity = _quantity(cells[columns["quantity"]], row_errors)
        price_cents = _unit_price(cells[columns["unit_price"]], row_errors)

        if number and not row_errors:
            fingerprint = hash(booker)
            seen = orders.get(number)
            if seen is None:
                orders[number] = _SeenOrder(line, fingerprint)
            elif seen.booker != fingerprint:
                row_errors.append(
                    gettext(
                        "order_number: %(number)s has other booker details on line %(line)d; "
                        "name, email and mobile must be the same on every line of an order.",
                        number=number,
                        line=seen.first_line,
                    )
                )
            else:
                seen.rows += 1

        if row_errors:
            errors.extend((line, message) for message in row_errors)
            if len(errors) >= MAX_ERRORS:
                errors.append((line, gettext("Too many problems: the rest of the file was not checked.")))
                break
        elif not errors:
            writer.writerow((number, *booker, ticket_type, quantity, price_cents))

    if errors:
        raise ImportFailed(errors)
    if not orders:
        raise ImportFailed([(2, gettext("The file has no orders below its header."))])
    return orders


def _existing_numbers(shop: Shop, orders: dict[str, _SeenOrder]) -> set[str]:
    """The file's order numbers that the shop's organizer has already (in any of its shops).

    Another organizer's numbers are none of this one's business: they are neither reported nor in the way.
    """
    existing: set[str] = set()
    numbers = list(orders)
    for start in range(0, len(numbers), 500):
        batch = numbers[start : start + 500]
        existing.update(
            db.session.scalars(
                select(Order.number).where(Order.organizer_id == shop.organizer_id, Order.number.in_(batch))
            )
        )
    return existing


# --- Pass 2: create the orders from the spool, a chunk at a time --------------


def _create(
    shop: Shop,
    spool: TextIO,
    orders: dict[str, _SeenOrder],
    existing: set[str],
    *,
    actor: str,
    actor_label: str | None,
) -> ImportReport:
    report = ImportReport()
    reported_skips: set[str] = set()
    # An order is created once its last row is read; rows of one order are usually adjacent.
    pending: dict[str, tuple[Booker, list[OrderLine]]] = {}
    ready: list[NewOrder] = []

    def create_ready() -> None:
        create_orders(shop, ready, created_by=actor, actor_label=actor_label, kind=history.ORDER_IMPORTED)
        ready.clear()

    for number, first_name, last_name, email, mobile, ticket_type, quantity, price_cents in csv.reader(spool):
        if number in existing:
            if number not in reported_skips:
                reported_skips.add(number)
                report.skipped.append(number)
            continue
        entry = pending.get(number)
        if entry is None:
            entry = pending[number] = (Booker(first_name, last_name, email, mobile or None), [])
            report.created.append(number)
        entry[1].append(OrderLine(ticket_type, int(quantity), int(price_cents)))
        seen = orders[number]
        seen.rows -= 1
        if seen.rows == 0:
            del orders[number]
            booker, lines = pending.pop(number)
            ready.append(NewOrder(number, booker, lines))
            if len(ready) >= CHUNK_ORDERS:
                create_ready()
    create_ready()
    return report
