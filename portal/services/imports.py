"""Orders import: a CSV file of orders, checked line by line, written all or nothing.

The file is read once, as a stream: each row is checked with the portal's own
rules (names, email, phone; each email domain is checked once per file) and its
normalised values go to a scratch SQLite database in a temporary file, which
also finds the order numbers written twice with other booker details, and
groups each order's rows: memory holds none of it, however long the file is
(a million rows import in well under 200 MB), and the stream need not be
seekable. When every row is good, the orders are created from the scratch
database a chunk at a time through `create_orders`, the same path as an order
made in the portal, in the caller's transaction. As it goes the import tells a
`Progress` how far it got (portal.services.import_jobs commits that where the
organizer's page reads it).

Columns (header row required, any order, `,` or `;` separated):
order_number, first_name, last_name, email, mobile, ticket_type, quantity, unit_price.
Several rows may share an order number (one per ticket type); their booker
details must agree. Order numbers that exist already are skipped, not duplicated.
"""

from __future__ import annotations

import csv
import re
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
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
#: Rows checked between two reports to the Progress (and rows written to the scratch database at once).
CHUNK_ROWS = 1000
#: Existing order numbers named in the report; the rest are counted.
SKIPPED_LISTED = 50

_ORDER_NUMBER = re.compile(r"[\w./#-]+")
# Prices as spreadsheets write them: 45, 45.00, 45,00, 1.234,50, 1,234.50 (after dropping € and spaces).
_PRICE_PLAIN = re.compile(r"(\d+)(?:[.,](\d{1,2}))?")
_PRICE_GROUPED = re.compile(r"(\d{1,3}(?:([.,])\d{3})+)(?:([.,])(\d{1,2}))?")
_PRICE_AMBIGUOUS = re.compile(r"\d{1,3}[.,]\d{3}")  # 1.000 is a thousand in Dutch, one in some exports
_PRICE_NOISE = re.compile(r"[\s\u00a0\u202f€']|eur", re.IGNORECASE)


@dataclass
class ImportReport:
    #: New orders created.
    created: int = 0
    #: Order numbers that already existed (not duplicated).
    skipped: int = 0
    #: The first SKIPPED_LISTED of those, in file order.
    skipped_numbers: list[str] = field(default_factory=list)


class Progress:
    """Told how far an import got; this one listens to nothing. Its methods may raise to stop the import."""

    def checked(self, rows: int) -> None:
        """So many lines after the header have been read and checked."""

    def all_checked(self, rows: int) -> None:
        """Every line has been checked: there were this many after the header."""

    def creating(self, orders: int) -> None:
        """Every line is good: this many new orders are about to be written."""

    def created(self, orders: int) -> None:
        """So many of them are written (in the caller's transaction, not yet committed)."""


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


def import_orders(
    shop: Shop,
    stream: TextIO,
    *,
    actor_label: str | None = None,
    progress: Progress | None = None,
    on_skipped: Callable[[str], None] | None = None,
) -> ImportReport:
    """Check every row of the CSV stream, then create its new orders; raise ImportFailed if any row is wrong.

    Open files with encoding "utf-8-sig" and newline="". Runs in the caller's
    transaction and does not commit: the caller commits once (or rolls back on
    ImportFailed). `actor_label` is the organizer user's email for the timeline;
    without it the orders are imported by the system. `on_skipped` is given every
    existing order number, in file order, before the orders are written.
    """
    progress = progress or Progress()
    with tempfile.TemporaryDirectory(prefix="portal-import-") as folder, closing(_scratch(Path(folder))) as scratch:
        _check(shop, stream, scratch, progress)
        report = _skip_existing(shop, scratch, on_skipped)
        actor = history.ORGANIZER if actor_label else history.SYSTEM
        try:
            _create(shop, scratch, report, progress, actor=actor, actor_label=actor_label)
        except IntegrityError as error:
            # Someone created one of these order numbers since they were looked up.
            raise ImportFailed(
                [(1, gettext("Some of these orders were created elsewhere while the file was imported. Import it again to skip them."))]
            ) from error
        return report


def _scratch(folder: Path) -> sqlite3.Connection:
    """A database of the file's good rows, on disk: it groups and compares them so that memory need not.

    Nothing in it needs to survive a crash: no journal, no syncing.
    """
    scratch = sqlite3.connect(folder / "rows.sqlite3")
    scratch.executescript(
        """
        PRAGMA journal_mode = OFF;
        PRAGMA synchronous = OFF;
        PRAGMA temp_store = FILE;
        CREATE TABLE row (
            line INTEGER PRIMARY KEY, number TEXT NOT NULL, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
            email TEXT NOT NULL, mobile TEXT NOT NULL, ticket_type TEXT NOT NULL, quantity INTEGER NOT NULL,
            price_cents INTEGER NOT NULL
        );
        """
    )
    return scratch


# --- Pass 1: check every row, keep the normalised values in the scratch database --


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


def _check(shop: Shop, stream: TextIO, scratch: sqlite3.Connection, progress: Progress) -> None:
    """Check every row and keep the good ones in the scratch database; raise ImportFailed with every problem."""
    try:
        delimiter, columns, width = _read_header(stream)
    except UnicodeDecodeError as error:
        raise ImportFailed(
            [(1, gettext('The file is not UTF-8 text. Save it as "CSV UTF-8" and try again.'))]
        ) from error
    unnamed = [i for i in range(width) if i not in columns.values()]
    errors: list[tuple[int, str]] = []
    good: list[tuple[object, ...]] = []
    previous: tuple[str, list[str], tuple[str, str, str, str]] | None = None
    booker_cells = [columns[name] for name in ("first_name", "last_name", "email", "mobile")]
    normalise_email = EmailNormaliser()
    line = 1

    def keep() -> None:
        scratch.executemany("INSERT INTO row VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", good)
        good.clear()
        progress.checked(line - 1)

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

        if row_errors:
            errors.extend((line, message) for message in row_errors)
            if len(errors) >= MAX_ERRORS:
                errors.append((line, gettext("Too many problems: the rest of the file was not checked.")))
                break
        else:
            # Kept even after an error elsewhere: the comparison of an order's rows needs them all.
            good.append((line, number, *booker, ticket_type, quantity, price_cents))
            if len(good) >= CHUNK_ROWS:
                keep()
    if len(errors) < MAX_ERRORS:
        keep()
        progress.all_checked(line - 1)
        errors = _with_conflicts(errors, scratch)
    if errors:
        raise ImportFailed(errors)
    if scratch.execute("SELECT NOT EXISTS (SELECT 1 FROM row)").fetchone()[0]:
        raise ImportFailed([(2, gettext("The file has no orders below its header."))])


def _with_conflicts(errors: list[tuple[int, str]], scratch: sqlite3.Connection) -> list[tuple[int, str]]:
    """The problems found, with every line whose booker details differ from its order's first line, by line.

    Each order is listed once, by its first good line: its rows are found together through the index.
    """
    scratch.executescript(
        """
        CREATE INDEX row_number ON row (number, line);
        CREATE TABLE "order" (first_line INTEGER PRIMARY KEY, number TEXT NOT NULL UNIQUE);
        CREATE TABLE existing (number TEXT PRIMARY KEY);
        INSERT INTO "order" (first_line, number) SELECT min(line), number FROM row GROUP BY number;
        """
    )
    conflicts = scratch.execute(
        """
        SELECT r.line, r.number, o.first_line FROM "order" o
        JOIN row f ON f.line = o.first_line
        JOIN row r ON r.number = o.number AND r.line > o.first_line
        WHERE r.first_name != f.first_name OR r.last_name != f.last_name OR r.email != f.email OR r.mobile != f.mobile
        ORDER BY r.line LIMIT ?
        """,
        (MAX_ERRORS,),
    ).fetchall()
    found = sorted(
        [
            *errors,
            *(
                (
                    line,
                    gettext(
                        "order_number: %(number)s has other booker details on line %(line)d; "
                        "name, email and mobile must be the same on every line of an order.",
                        number=number,
                        line=first_line,
                    ),
                )
                for line, number, first_line in conflicts
            ),
        ],
        key=lambda error: error[0],
    )
    if len(found) > MAX_ERRORS:
        found = found[:MAX_ERRORS]
        found.append((found[-1][0], gettext("Too many problems: the rest of the file was not checked.")))
    return found


def _skip_existing(shop: Shop, scratch: sqlite3.Connection, on_skipped: Callable[[str], None] | None) -> ImportReport:
    """Mark the file's order numbers that the shop's organizer has already (in any of its shops); report them.

    Another organizer's numbers are none of this one's business: they are neither reported nor in the way.
    """
    numbers = scratch.execute('SELECT number FROM "order"')
    while batch := [number for (number,) in numbers.fetchmany(500)]:
        existing = db.session.scalars(
            select(Order.number).where(Order.organizer_id == shop.organizer_id, Order.number.in_(batch))
        )
        scratch.executemany("INSERT INTO existing VALUES (?)", [(number,) for number in existing])
    report = ImportReport()
    skipped = 'SELECT o.number FROM "order" o JOIN existing e ON e.number = o.number ORDER BY o.first_line'
    for (number,) in scratch.execute(skipped):
        report.skipped += 1
        if len(report.skipped_numbers) < SKIPPED_LISTED:
            report.skipped_numbers.append(number)
        if on_skipped is not None:
            on_skipped(number)
    return report


# --- Pass 2: create the orders from the scratch database, a chunk at a time ----


def _create(
    shop: Shop,
    scratch: sqlite3.Connection,
    report: ImportReport,
    progress: Progress,
    *,
    actor: str,
    actor_label: str | None,
) -> None:
    """Create the new orders in file order (of their first lines), each with its rows in file order."""
    new_orders = 'SELECT count(*) FROM "order" WHERE number NOT IN (SELECT number FROM existing)'
    progress.creating(scratch.execute(new_orders).fetchone()[0])
    ready: list[NewOrder] = []

    def create_ready() -> None:
        create_orders(shop, ready, created_by=actor, actor_label=actor_label, kind=history.ORDER_IMPORTED)
        report.created += len(ready)
        ready.clear()
        progress.created(report.created)

    rows = scratch.execute(
        """
        SELECT r.number, r.first_name, r.last_name, r.email, r.mobile, r.ticket_type, r.quantity, r.price_cents
        FROM "order" o JOIN row r ON r.number = o.number
        WHERE o.number NOT IN (SELECT number FROM existing)
        ORDER BY o.first_line, r.line
        """
    )
    current: NewOrder | None = None
    for number, first_name, last_name, email, mobile, ticket_type, quantity, price_cents in rows:
        if current is None or current.number != number:
            if current is not None:
                ready.append(current)
                if len(ready) >= CHUNK_ORDERS:
                    create_ready()
            current = NewOrder(number, Booker(first_name, last_name, email, mobile or None), [])
        current.lines.append(OrderLine(ticket_type, quantity, price_cents))
    if current is not None:
        ready.append(current)
    create_ready()
