"""Command-line interface: `flask --app wsgi demo|outbox|reminders|orders|organizer …` (db comes from Flask-Migrate)."""

from __future__ import annotations

import json
import secrets
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from email_validator import EmailNotValidError, validate_email
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from portal import links, worker
from portal.errors import BackofficeUserExists, PasswordTooShort
from portal.extensions import db
from portal.models import BackofficeUser, ImportStatus, Order, Organizer, Role, Shop
from portal.services import barcodes, import_jobs, organizers, outbox, reminders
from portal.services.imports import ImportFailed
from portal.services.orders import Booker, OrderLine, create_order

DEMO_ORGANIZER = "Demo Events"
DEMO_ORGANIZER_EMAIL = "organizer@demo.example"
#: Longest name of a door user (as the column allows).
NAME_MAX = 100


def register_commands(app: Flask) -> None:
    app.cli.add_command(demo_command)
    app.cli.add_command(outbox_group)
    app.cli.add_command(reminders_group)
    app.cli.add_command(orders_group)
    app.cli.add_command(organizer_group)
    app.cli.add_command(privacy_group)
    app.cli.add_command(door_group)


def _demo_organizer() -> tuple[Organizer, str]:
    """The demo organizer and a backoffice user with a fresh password (printed once)."""
    organizer = db.session.scalar(select(Organizer).where(Organizer.name == DEMO_ORGANIZER))
    if organizer is None:
        organizer = Organizer(name=DEMO_ORGANIZER)
        db.session.add(organizer)
    user = db.session.scalar(select(BackofficeUser).where(BackofficeUser.email == DEMO_ORGANIZER_EMAIL))
    if user is None:
        user = BackofficeUser(organizer=organizer, email=DEMO_ORGANIZER_EMAIL)
        db.session.add(user)
    password = secrets.token_urlsafe(12)
    user.set_password(password)
    return organizer, password


def _next_order_number(organizer: Organizer) -> str:
    year = datetime.now(UTC).year
    while True:
        number = f"NX-{year}-{secrets.randbelow(1_000_000):06d}"
        taken = select(Order.id).where(Order.organizer_id == organizer.id, Order.number == number)
        if organizer.id is None or db.session.scalar(taken) is None:
            return number


def _nth_address(email: str, n: int) -> str:
    """booker@example.com, booker2@example.com, ...: the demo's bookers."""
    if n == 1:
        return email
    local, _, domain = email.partition("@")
    return f"{local}{n}@{domain}"


@click.command("demo")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--tickets", default=4, show_default=True, type=click.IntRange(1, 500))
@click.option("--email", default="booker@example.com", show_default=True, help="The booker's email.")
@click.option("--no-download", is_flag=True, help="Create the shop with Download order enabled off.")
@click.option("--no-personalisation", is_flag=True, help="Create the shop with personal data not required.")
@click.option(
    "--orders", default=1, show_default=True, type=click.IntRange(1, 10_000),
    help="Orders of the shop, each for its own booker (booker2@…, booker3@… after the first).",
)
@click.option(
    "--event-in-days", default=60, show_default=True, type=click.IntRange(0, 3650), metavar="N",
    help="The event starts at 20:00 (Amsterdam) this many days from today.",
)
@click.option(
    "--deadline-hours-before", type=click.IntRange(0, 24 * 3650), metavar="H",
    help="A personalisation deadline this many hours before the event starts (default: none).",
)
@with_appcontext
def demo_command(
    as_json: bool,
    tickets: int,
    email: str,
    no_download: bool,
    no_personalisation: bool,
    orders: int,
    event_in_days: int,
    deadline_hours_before: int | None,
) -> None:
    """Create a demo organizer, shop and completed order(s), and queue the bookers' emails."""
    organizer, password = _demo_organizer()
    zone = ZoneInfo("Europe/Amsterdam")
    starts = (datetime.now(zone) + timedelta(days=event_in_days)).replace(hour=20, minute=0, second=0, microsecond=0)
    deadline = None if deadline_hours_before is None else starts - timedelta(hours=deadline_hours_before)
    shop = Shop(
        organizer=organizer,
        event_name="Summer Lights Festival",
        event_starts_at=starts.astimezone(UTC),
        event_ends_at=(starts + timedelta(hours=6)).astimezone(UTC),
        venue="Westergasfabriek, Amsterdam",
        timezone="Europe/Amsterdam",
        country="NL",
        default_language="en",
        download_enabled=not no_download,
        personalisation_required=not no_personalisation,
        consumer_desk_whatsapp="+31201234567",
        support_contact="Support desk: support@demo.example, +31 20 123 4567",
        personalisation_deadline=deadline.astimezone(UTC) if deadline else None,
    )
    db.session.add(shop)
    created = [
        create_order(
            shop,
            number=_next_order_number(organizer),
            booker=Booker(first_name="Sam", last_name="de Vries", email=_nth_address(email, n), phone="+31612345678"),
            lines=[OrderLine(ticket_type="Weekend pass", quantity=tickets, unit_price_cents=8950)],
        )
        for n in range(1, orders + 1)
    ]
    db.session.commit()
    order = created[0]
    result = {
        "order_number": order.number,
        "overview_url": links.overview_url(order),
        "overview_urls": [links.overview_url(each) for each in created],
        "shop_id": shop.id,
        "order_id": order.id,
        "booker_email": order.booker_email,
        "organizer_name": organizer.name,
        "organizer_email": DEMO_ORGANIZER_EMAIL,
        "organizer_password": password,
        "event_starts_at": shop.event_starts_at.isoformat(),
        "personalisation_deadline": shop.personalisation_deadline.isoformat() if deadline else None,
    }
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"Demo order {order.number} with {tickets} tickets for {email}.")
    click.echo(f"  Booker's overview: {result['overview_url']}")
    click.echo(f"  Event: {starts:%A %d %B %Y, %H:%M} (Amsterdam)" + (f"; fill in by {deadline:%A %d %B, %H:%M}" if deadline else ""))
    if orders > 1:
        click.echo(f"  and {orders - 1} more orders of the same shop, for {_nth_address(email, 2)} and on.")
    click.echo(f"  Backoffice login:  {DEMO_ORGANIZER_EMAIL} / {password}")
    click.echo(f"  Check-in page:     {links.external_url('backoffice.door')} (the same login, or a door user:")
    click.echo(f'    flask --app wsgi organizer create-user --organizer "{organizer.name}" --email … --role door)')
    if not current_app.config.get("MAIL_SERVER"):
        click.echo(f"  Emails are kept as .eml files in {outbox.kept_mail_folder()}")


@click.group("outbox", cls=AppGroup)
def outbox_group() -> None:
    """Deliver queued emails."""


@outbox_group.command("send")
def outbox_send() -> None:
    """Try every queued message once (after answering "send me a new link" requests); exit 1 if any failed."""
    report = worker.send_all_now()
    worker.print_report(report)
    if report.failed:
        raise SystemExit(1)


@outbox_group.command("worker")
@click.option("--interval", default=2.0, show_default=True, help="Seconds to rest when nothing is due.")
def outbox_worker(interval: float) -> None:
    """Deliver messages as they are queued, and do the other background work, until stopped.

    SIGTERM finishes the message in hand.
    """
    worker.run(interval)


@outbox_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for monitoring scripts.")
@click.option(
    "--max-age", type=click.IntRange(min=1), metavar="SECONDS",
    help="Exit 1 if the oldest message still to send was queued longer ago than this (workers down or behind).",
)
def outbox_status(as_json: bool, max_age: int | None) -> None:
    """How many emails wait, are being sent, failed for good, and were sent in the last hour."""
    now = datetime.now(UTC)
    status = outbox.queue_status(now)
    waited = (now - status.oldest_unsent_at).total_seconds() if status.oldest_unsent_at else None
    if as_json:
        click.echo(json.dumps({
            "due": status.due,
            "retrying": status.retrying,
            "sending": status.sending,
            "failed": status.failed,
            "sent_last_hour": status.sent_last_hour,
            "oldest_unsent_at": status.oldest_unsent_at.isoformat() if status.oldest_unsent_at else None,
            "oldest_unsent_age_seconds": round(waited) if waited is not None else None,
        }))
    else:
        click.echo(f"queued:  {status.due + status.retrying:,} ({status.due:,} due now, "
                   f"{status.retrying:,} waiting to be tried again)")
        click.echo(f"sending: {status.sending:,}")
        click.echo(f"failed:  {status.failed:,} (refused for good, not retried; each shows on its order's timeline)")
        click.echo(f"sent in the last hour: {status.sent_last_hour:,}")
        if waited is not None:
            click.echo(f"oldest still to send: queued {waited / 60:,.0f} min ago ({status.oldest_unsent_at:%Y-%m-%d %H:%M} UTC)")
    if max_age is not None and waited is not None and waited > max_age:
        click.echo(f"the oldest message still to send has waited {waited:,.0f} s, more than {max_age:,} s", err=True)
        raise SystemExit(1)


@click.group("reminders", cls=AppGroup)
def reminders_group() -> None:
    """Time-based emails: reminders, the booker's gathered news, the day-before mail."""


def _moment(context: click.Context, parameter: click.Parameter, value: str | None) -> datetime | None:
    """--now as ISO 8601; without an offset it is UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise click.BadParameter(f"not an ISO 8601 date and time: {value!r} (e.g. 2027-02-01T12:00)") from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@reminders_group.command("send")
@click.option(
    "--now", callback=_moment, metavar="ISO-8601",
    help="Queue what is due at this moment instead of now (e.g. 2027-02-01T12:00, UTC without an offset).",
)
def reminders_send(now: datetime | None) -> None:
    """Queue every time-based email that is due, through the outbox; safe to run often and on several machines at once."""
    report = reminders.send_due(now or datetime.now(UTC))
    click.echo(str(report))


@click.group("organizer", cls=AppGroup)
def organizer_group() -> None:
    """Manage organizers and their backoffice users."""


def _too_short() -> click.ClickException:
    return click.ClickException(f"the password must be at least {organizers.MIN_PASSWORD_LENGTH} characters long")


@organizer_group.command("create-user")
@click.option("--organizer", "organizer_name", required=True, help="Organizer name; created if it does not exist.")
@click.option("--email", required=True, help="The user's login email.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="Prompted for when left out.")
@click.option(
    "--role", type=click.Choice([role.value for role in Role]), default=Role.ADMIN.value, show_default=True,
    help="admin: the whole backoffice; door: the check-in page only (names and ticket types, no orders or contact data).",
)
@click.option("--name", help='How the door and the timeline name the user, e.g. "Gate 2" (default: the email).')
def organizer_create_user(organizer_name: str, email: str, password: str, role: str, name: str | None) -> None:
    """Create a backoffice user (or a door user) for an organizer."""
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        raise click.ClickException(f"not a valid email address: {error}") from error
    name = " ".join((name or "").split()) or None
    if name is not None and (len(name) > NAME_MAX or not name.isprintable()):
        raise click.ClickException(f"the name must be printable text of at most {NAME_MAX} characters")
    try:
        user = organizers.create_backoffice_user(
            organizer_name=organizer_name.strip(), email=email, password=password, role=Role(role), name=name
        )
    except PasswordTooShort as error:
        raise _too_short() from error
    except BackofficeUserExists as error:
        raise click.ClickException(f"{error} ({email.strip().lower()})") from error
    db.session.commit()
    kind = "door user" if user.is_door else "backoffice user"
    named = f" ({user.name})" if user.name else ""
    click.echo(f"Created {kind} {user.email}{named} for organizer {user.organizer.name}.")


@organizer_group.command("set-password")
@click.option("--email", required=True, help="The user's login email.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="Prompted for when left out.")
def organizer_set_password(email: str, password: str) -> None:
    """Set a backoffice user's password; every login of theirs ends (a stolen session with it)."""
    user = db.session.scalar(select(BackofficeUser).where(func.lower(BackofficeUser.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"no backoffice user with the email address {email.strip().lower()}")
    try:
        organizers.change_password(user, password)
    except PasswordTooShort as error:
        raise _too_short() from error
    db.session.commit()
    click.echo(f"The password of {user.email} has been changed; every session of theirs has ended.")


@click.group("orders", cls=AppGroup)
def orders_group() -> None:
    """Import orders."""


@orders_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--shop", "shop_id", type=int, required=True, help="Id of the shop the orders belong to.")
def orders_import(file: Path, shop_id: int) -> None:
    """Import orders from a CSV file: all or nothing; existing order numbers are skipped.

    Columns: order_number, first_name, last_name, email, mobile, ticket_type,
    quantity, unit_price (separated by , or ;). Each new order's booker is sent
    the personalisation email. The import runs here, as a worker runs an upload,
    and is listed under Imports in the backoffice; on a terminal, standard error
    shows how far it got.
    """
    shop = _shop(shop_id)
    try:
        stream = file.open("rb")
    except OSError as error:
        raise click.ClickException(f"cannot read {file}: {error.strerror or error}") from error
    with stream:
        order_import = import_jobs.store(shop, stream, filename=file.name, claimed=True)
    db.session.commit()
    import_id = order_import.id
    skipped: list[str] = []
    echo = _ProgressLine() if sys.stderr.isatty() else None
    try:
        order_import = import_jobs.run(import_id, 1, echo=echo, on_skipped=skipped.append)
    except KeyboardInterrupt:
        import_jobs.give_up(import_id, 1)
        raise click.Abort() from None
    finally:
        if echo is not None:
            echo.end()
    if order_import.status == ImportStatus.FAILED:
        for line, message in order_import.errors:
            click.echo(f"line {line}: {message}", err=True)
        click.echo(str(ImportFailed(order_import.errors)), err=True)
        raise SystemExit(1)
    if order_import.status != ImportStatus.DONE:
        raise click.ClickException(f"import {import_id} was taken over by a worker; see Imports in the backoffice")
    click.echo(f"created: {order_import.created_count}, skipped: {order_import.skipped_count}")
    for number in skipped:
        click.echo(f"  skipped (exists already): {number}")


class _ProgressLine:
    """How far an import got, rewritten in place on standard error (a terminal)."""

    def __init__(self) -> None:
        self.width = 0

    def __call__(self, standing: import_jobs.Standing) -> None:
        doing = "checking rows" if standing.status == ImportStatus.CHECKING else "writing orders"
        text = f"{doing}: {standing.done:,} of {standing.total:,} ({standing.percent} %)"
        click.echo("\r" + text.ljust(self.width), err=True, nl=False)
        self.width = len(text)

    def end(self) -> None:
        if self.width:
            click.echo(err=True)


@click.group("privacy", cls=AppGroup)
def privacy_group() -> None:
    """Forget personal data that is no longer needed."""


@privacy_group.command("purge")
@click.option(
    "--ended-before",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Anonymise orders of events that ended before this date (YYYY-MM-DD, UTC).",
)
def privacy_purge(ended_before: datetime) -> None:
    """Anonymise bookers' and holders' personal data of orders whose event ended before the date.

    Counts, ticket types, prices, statuses and the timeline's events are kept.
    """
    from portal.services.privacy import purge_personal_data

    cutoff = ended_before.replace(tzinfo=UTC)
    if cutoff > datetime.now(UTC):
        raise click.ClickException("the date must not be in the future: those events have not ended")
    purged = purge_personal_data(ended_before=cutoff)
    db.session.commit()
    click.echo(f"Personal data purged from {purged} order(s) of events that ended before {cutoff:%Y-%m-%d}.")


@click.group("door", cls=AppGroup)
def door_group() -> None:
    """The door: offline lists of valid barcodes, and the shops' signing keys."""


def _shop(shop_id: int) -> Shop:
    shop = db.session.get(Shop, shop_id)
    if shop is None:
        raise click.ClickException(f"no shop with id {shop_id}")
    return shop


#: The offline list's columns, in order (CSV) and by name (JSON).
EXPORT_FIELDS = ("barcode", "short_code", "ticket_type", "holder_name", "admitted_at")


@door_group.command("export")
@click.option("--shop", "shop_id", type=int, required=True, help="Id of the shop.")
@click.option("--format", "output_format", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option("--output", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              help="File to write (default: standard output).")
def door_export(shop_id: int, output_format: str, output) -> None:
    """Write every valid barcode of a shop with its holder's name and ticket type, for offline scanners.

    JSON (the default) also carries the shop's public key, which verifies every barcode
    in it (docs/barcodes.md). Admitted tickets are listed with the time they came in.
    """
    import csv
    from dataclasses import asdict

    shop = _shop(shop_id)
    rows = (
        {**asdict(ticket), "admitted_at": ticket.admitted_at.isoformat() if ticket.admitted_at else None}
        for ticket in barcodes.valid_tickets(shop)
    )
    if output_format == "csv":
        writer = csv.DictWriter(output, fieldnames=EXPORT_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(
            {**row, "holder_name": _not_a_formula(row["holder_name"]), "ticket_type": _not_a_formula(row["ticket_type"]),
             "admitted_at": row["admitted_at"] or ""}
            for row in rows
        )
        return
    tickets = list(rows)
    json.dump({
        "format": "portal-door-list/1",
        "shop": {
            "id": shop.id,
            "event_name": shop.event_name,
            "event_starts_at": shop.event_starts_at.isoformat(),
            "venue": shop.venue,
        },
        "key_number": barcodes.signing_key(shop).number,
        "public_key": barcodes.public_key_pem(shop),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tickets": tickets,
    }, output, ensure_ascii=False, indent=1)
    output.write("\n")


def _not_a_formula(value: str) -> str:
    """A name a spreadsheet program would run as a formula (=, +, -, @), made text with a leading apostrophe."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@door_group.command("public-key")
@click.option("--shop", "shop_id", type=int, required=True, help="Id of the shop.")
def door_public_key(shop_id: int) -> None:
    """Print the shop's public key (PEM), which verifies its barcodes offline."""
    click.echo(barcodes.public_key_pem(_shop(shop_id)), nl=False)


@door_group.command("rotate-key")
@click.option("--shop", "shop_id", type=int, required=True, help="Id of the shop.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def door_rotate_key(shop_id: int, yes: bool) -> None:
    """Give a shop a new signing key: every one of its tickets gets a new barcode and short code."""
    shop = _shop(shop_id)
    if not yes:
        click.confirm(
            f"Every ticket of {shop.event_name} gets a new barcode and short code; every ticket "
            "downloaded or emailed so far will be refused at the door as replaced. Go on?",
            abort=True,
        )
    rotation = barcodes.rotate_key(shop)
    db.session.commit()
    click.echo(
        f"Shop {shop.id} now signs with key {rotation.key_number}. {rotation.tickets} ticket(s) have a new "
        "barcode and short code: every ticket downloaded or emailed before now is refused at the door as "
        "replaced, so holders need their tickets again (Resend on each order, or a download from the portal). "
        "Give offline scanners the new public key (flask --app wsgi door public-key) and a new export."
    )
