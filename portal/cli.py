"""Command-line interface: `flask --app wsgi demo|outbox|reminders|orders|organizer …` (db comes from Flask-Migrate)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from email_validator import EmailNotValidError, validate_email
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from portal import links, worker
from portal.errors import BackofficeUserExists
from portal.extensions import db
from portal.models import BackofficeUser, Order, Organizer, Shop
from portal.services import outbox, reminders
from portal.services.imports import ImportFailed, import_orders
from portal.services.organizers import create_backoffice_user
from portal.services.orders import Booker, OrderLine, create_order

DEMO_ORGANIZER = "Demo Events"
DEMO_ORGANIZER_EMAIL = "organizer@demo.example"


def register_commands(app: Flask) -> None:
    app.cli.add_command(demo_command)
    app.cli.add_command(outbox_group)
    app.cli.add_command(reminders_group)
    app.cli.add_command(orders_group)
    app.cli.add_command(organizer_group)
    app.cli.add_command(privacy_group)


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


def _next_order_number() -> str:
    year = datetime.now(UTC).year
    while True:
        number = f"NX-{year}-{secrets.randbelow(1_000_000):06d}"
        if db.session.scalar(select(Order.id).where(Order.number == number)) is None:
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
            number=_next_order_number(),
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
    if not current_app.config.get("MAIL_SERVER"):
        click.echo(f"  Emails are kept as .eml files in {outbox.kept_mail_folder()}")


@click.group("outbox", cls=AppGroup)
def outbox_group() -> None:
    """Deliver queued emails."""


@outbox_group.command("send")
def outbox_send() -> None:
    """Try every queued message once; exit 1 if any failed (those stay queued)."""
    report = outbox.deliver_queued()
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


#: Backoffice passwords shorter than this are refused.
MIN_PASSWORD_LENGTH = 10


@organizer_group.command("create-user")
@click.option("--organizer", "organizer_name", required=True, help="Organizer name; created if it does not exist.")
@click.option("--email", required=True, help="The user's login email.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="Prompted for when left out.")
def organizer_create_user(organizer_name: str, email: str, password: str) -> None:
    """Create a backoffice user for an organizer."""
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        raise click.ClickException(f"not a valid email address: {error}") from error
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    try:
        user = create_backoffice_user(organizer_name=organizer_name.strip(), email=email, password=password)
    except BackofficeUserExists as error:
        raise click.ClickException(f"{error} ({email.strip().lower()})") from error
    db.session.commit()
    click.echo(f"Created backoffice user {user.email} for organizer {user.organizer.name}.")


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
    the personalisation email.
    """
    shop = db.session.get(Shop, shop_id)
    if shop is None:
        raise click.ClickException(f"no shop with id {shop_id}")
    try:
        stream = file.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise click.ClickException(f"cannot read {file}: {error.strerror or error}") from error
    try:
        with stream:
            report = import_orders(shop, stream)
    except ImportFailed as failure:
        db.session.rollback()
        for line, message in failure.errors:
            click.echo(f"line {line}: {message}", err=True)
        click.echo(str(failure), err=True)
        raise SystemExit(1) from None
    db.session.commit()
    click.echo(f"created: {len(report.created)}, skipped: {len(report.skipped)}")
    for number in report.skipped:
        click.echo(f"  skipped (exists already): {number}")


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
