"""The command-line contract that scripts and other tools rely on."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal.config import database_url
from portal.extensions import db
from portal.models import BackofficeUser, Order, Shop
from tests.pages import path_of

ROOT = Path(__file__).resolve().parent.parent


def flask(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_upgrade_creates_the_schema_the_models_describe(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}", "SECRET_KEY": "cli-test"}
    upgrade = flask("db", "upgrade", env=env)
    assert upgrade.returncode == 0, upgrade.stderr
    # Autogenerate finds nothing to add: migrations and models agree.
    check = flask("db", "check", env=env)
    assert check.returncode == 0, check.stdout + check.stderr

    demo = flask("demo", "--json", "--tickets", "2", env=env)
    assert demo.returncode == 0, demo.stderr
    assert json.loads(demo.stdout)["order_number"].startswith("NX-")


def test_database_url_reads_a_plain_postgresql_url_as_psycopg_3():
    # As hosting platforms and pg_dump write them; SQLAlchemy alone would look for psycopg2.
    assert database_url("postgres://u:p@db:5432/portal") == "postgresql+psycopg://u:p@db:5432/portal"
    assert database_url("postgresql://u@/portal?host=/run/postgresql") == "postgresql+psycopg://u@/portal?host=/run/postgresql"
    for kept in ("postgresql+psycopg://u@db/portal", "postgresql+psycopg2://u@db/portal", "sqlite:///x.sqlite3", None):
        assert database_url(kept) == kept


def test_the_commands_connect_with_a_postgres_url_as_hosting_platforms_write_it(app):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql+psycopg://"):
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgresql+psycopg://… (CI does)")
    current = flask("db", "current", env={"DATABASE_URL": url.replace("postgresql+psycopg", "postgres", 1), "SECRET_KEY": "cli-test"})
    assert current.returncode == 0, current.stderr


def test_demo_prints_one_json_object_with_working_links(app, runner, client, smtp, deliver):
    result = runner.invoke(args=["demo", "--json", "--tickets", "3", "--email", "demo@example.net"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"order_number", "overview_url", "shop_id", "organizer_email", "organizer_password"} <= data.keys()

    page = client.get(path_of(data["overview_url"]))
    assert page.status_code == 200
    assert data["order_number"] in page.get_data(as_text=True)
    with app.app_context():
        order = db.session.get(Order, data["order_id"])
        assert (order.number, len(order.tickets), order.booker_email) == (data["order_number"], 3, "demo@example.net")
        shop = db.session.get(Shop, data["shop_id"])
        assert shop.download_enabled and shop.personalisation_required
        user = db.session.query(BackofficeUser).filter_by(email=data["organizer_email"]).one()
        assert user.check_password(data["organizer_password"])
        assert user.organizer_id == shop.organizer_id

    deliver()
    assert path_of(data["overview_url"]) in smtp.take_one("demo@example.net").get_body(("plain",)).get_content()


def test_demo_flags_switch_download_and_personalisation_off(app, runner):
    result = runner.invoke(args=["demo", "--json", "--no-download", "--no-personalisation"])
    data = json.loads(result.output)
    with app.app_context():
        shop = db.session.get(Shop, data["shop_id"])
        assert (shop.download_enabled, shop.personalisation_required) == (False, False)
        assert len(db.session.get(Order, data["order_id"]).tickets) == 4


def test_demo_orders_makes_one_shop_with_an_order_per_booker(app, runner, client, smtp, deliver):
    result = runner.invoke(args=["demo", "--json", "--orders", "3", "--tickets", "2", "--email", "fan@example.net"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["overview_urls"][0] == data["overview_url"] and len(set(data["overview_urls"])) == 3
    with app.app_context():
        orders = db.session.query(Order).filter_by(shop_id=data["shop_id"]).order_by(Order.id).all()
        assert [order.booker_email for order in orders] == ["fan@example.net", "fan2@example.net", "fan3@example.net"]
    deliver()
    for order, url in zip(orders, data["overview_urls"], strict=True):
        assert path_of(url) in smtp.take_one(order.booker_email).get_body(("plain",)).get_content()
        assert order.number in client.get(path_of(url)).get_data(as_text=True)


def test_outbox_send_reports_and_exits_zero_when_nothing_failed(runner, make_order, smtp):
    make_order(tickets=1)
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0
    assert "sent: 1, failed: 0" in result.output
    smtp.take_one("booker@example.com")


def test_demo_can_put_the_event_and_its_deadline_close_by(app, runner, client, smtp, deliver):
    from datetime import UTC, datetime, timedelta

    result = runner.invoke(args=["demo", "--json", "--event-in-days", "3", "--deadline-hours-before", "48"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    starts = datetime.fromisoformat(data["event_starts_at"])
    deadline = datetime.fromisoformat(data["personalisation_deadline"])
    assert starts - deadline == timedelta(hours=48)
    assert timedelta(days=2) < starts - datetime.now(UTC) < timedelta(days=4)
    deliver()
    assert "Fill in by" in smtp.take_one("booker@example.com").get_body(("plain",)).get_content()
    assert "Fill in by" in client.get(path_of(data["overview_url"])).get_data(as_text=True)

    # Without the flags: no deadline, the event 60 days ahead.
    data = json.loads(runner.invoke(args=["demo", "--json"]).output)
    assert data["personalisation_deadline"] is None
    assert timedelta(days=59) < datetime.fromisoformat(data["event_starts_at"]) - datetime.now(UTC) < timedelta(days=61)
    deliver()
    smtp.take_one("booker@example.com")


def test_demo_with_the_deadline_passed_shows_a_closed_overview(runner, client, smtp, deliver):
    data = json.loads(runner.invoke(args=["demo", "--json", "--event-in-days", "1", "--deadline-hours-before", "48"]).output)
    assert "Personalisation closed on" in client.get(path_of(data["overview_url"])).get_data(as_text=True)
    deliver()
    smtp.take_one("booker@example.com")
