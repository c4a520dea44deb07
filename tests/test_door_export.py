"""The door's command line: door users, the offline list of valid barcodes, the shop's public key."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from portal.extensions import db
from portal.models import BackofficeUser, Order
from portal.services import orders
from portal.services.personalisation import HolderDetails
from tests.door_pages import GRACE, admit, codes, order_action, personalise, scan, shop_of

ROOT = Path(__file__).resolve().parent.parent


def documented_verify():
    """The `verify` function of docs/barcodes.md, run as written: it uses the public key and `cryptography` alone."""
    doc = (ROOT / "docs" / "barcodes.md").read_text()
    [source] = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    namespace: dict[str, object] = {}
    exec(compile(source, "docs/barcodes.md", "exec"), namespace)  # noqa: S102 (our own documentation)
    return namespace["verify"]


@pytest.fixture
def shop_with_tickets(app, make_shop, make_order, door_login):
    """One shop: a personalised ticket, an open one, an admitted one, and a cancelled order's; and another shop."""
    shop_id = make_shop(event_name="Harbour Jazz Nights")
    order_id = make_order(tickets=3, shop_id=shop_id)
    personalise(app, order_id, 1)
    personalise(app, order_id, 3, GRACE)
    cancelled = make_order(tickets=1, shop_id=shop_id)
    personalise(app, cancelled)
    order_action(app, cancelled, orders.cancel)
    other = make_order(tickets=1, shop_id=make_shop(event_name="Winter Jazz Gala"))
    personalise(app, other)
    assert admit(door_login(), shop_id, codes(app, order_id, 3)[0]).verdict == "Admitted"
    return shop_id, order_id, cancelled, other


def test_the_exported_list_has_every_valid_barcode_and_verifies_with_the_public_key_alone(app, runner, shop_with_tickets):
    shop_id, order_id, cancelled, other = shop_with_tickets
    result = runner.invoke(args=["door", "export", "--shop", str(shop_id)])
    assert result.exit_code == 0, result.output
    exported = json.loads(result.output)
    assert exported["format"] == "portal-door-list/1"
    assert exported["shop"]["event_name"] == "Harbour Jazz Nights" and exported["key_number"] == 1

    tickets = exported["tickets"]
    assert [(t["holder_name"], t["ticket_type"]) for t in tickets] == [("Noor Bakker", "Day ticket"), ("Grace Hopper", "Day ticket")]
    assert [t["barcode"] for t in tickets] == [codes(app, order_id, 1)[0], codes(app, order_id, 3)[0]]
    assert [t["short_code"] for t in tickets] == [codes(app, order_id, 1)[1], codes(app, order_id, 3)[1]]
    assert tickets[0]["admitted_at"] is None and tickets[1]["admitted_at"].endswith("+00:00")
    # Not the open ticket, not the cancelled order's, not the other shop's; and no contact data at all.
    listed = {t["barcode"] for t in tickets}
    assert not listed & {codes(app, order_id, 2)[0], codes(app, cancelled)[0], codes(app, other)[0]}
    assert not re.search(r"@|\+31|\+1212|NX-2026", result.output)

    verify = documented_verify()
    with app.app_context():
        ticket_ids = [db.session.get(Order, order_id).ticket_at(position).id for position in (1, 3)]
    assert [verify(t["barcode"], exported["public_key"]) for t in tickets] == [
        {"shop": shop_id, "key": 1, "ticket": ticket_id, "version": 1} for ticket_id in ticket_ids]
    # The same few lines refuse what the shop's key did not sign.
    for foreign in (codes(app, other)[0], tickets[0]["barcode"].replace(f":{ticket_ids[0]}:", f":{ticket_ids[1]}:")):
        with pytest.raises(ValueError):
            verify(foreign, exported["public_key"])


def test_the_list_as_csv_into_a_file(app, runner, shop_with_tickets, tmp_path):
    shop_id, order_id, _, _ = shop_with_tickets
    target = tmp_path / "door.csv"
    result = runner.invoke(args=["door", "export", "--shop", str(shop_id), "--format", "csv", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert result.output == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert list(rows[0]) == ["barcode", "short_code", "ticket_type", "holder_name", "admitted_at"]
    assert [(row["holder_name"], row["barcode"], row["admitted_at"] != "") for row in rows] == [
        ("Noor Bakker", codes(app, order_id, 1)[0], False), ("Grace Hopper", codes(app, order_id, 3)[0], True)]


def test_a_name_that_a_spreadsheet_would_run_is_text_in_the_csv(app, runner, make_order):
    order_id = make_order(tickets=1)
    personalise(app, order_id, 1, HolderDetails("=HYPERLINK(\"http://evil.example\")", "x", "eve@example.org"))
    result = runner.invoke(args=["door", "export", "--shop", str(shop_of(app, order_id)), "--format", "csv"])
    [row] = list(csv.DictReader(io.StringIO(result.output)))
    assert row["holder_name"] == "'=HYPERLINK(\"http://evil.example\") x"
    exported = json.loads(runner.invoke(args=["door", "export", "--shop", str(shop_of(app, order_id))]).output)
    assert exported["tickets"][0]["holder_name"] == "=HYPERLINK(\"http://evil.example\") x"  # JSON is data, left as it is


def test_public_key_prints_the_key_of_the_export(runner, shop_with_tickets):
    shop_id = shop_with_tickets[0]
    printed = runner.invoke(args=["door", "public-key", "--shop", str(shop_id)])
    assert printed.exit_code == 0
    assert re.fullmatch(r"-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=]{60}\n-----END PUBLIC KEY-----\n", printed.output)
    assert printed.output == json.loads(runner.invoke(args=["door", "export", "--shop", str(shop_id)]).output)["public_key"]


def test_the_door_commands_refuse_a_shop_that_does_not_exist(runner):
    for command in (["export"], ["export", "--format", "csv"], ["public-key"], ["rotate-key", "--yes"]):
        result = runner.invoke(args=["door", *command, "--shop", "999"])
        assert result.exit_code == 1
        assert "no shop with id 999" in result.output
    assert runner.invoke(args=["door", "export", "--shop", "1", "--format", "xml"]).exit_code == 2


def test_create_user_makes_a_door_user_with_a_name(app, runner):
    result = runner.invoke(args=["organizer", "create-user", "--organizer", "Acme Events", "--email", "Gate2@acme.example",
                                 "--password", "door password 1234", "--role", "door", "--name", "Gate 2"])
    assert result.exit_code == 0, result.output
    assert result.output == "Created door user gate2@acme.example (Gate 2) for organizer Acme Events.\n"
    admin = runner.invoke(args=["organizer", "create-user", "--organizer", "Acme Events", "--email", "boss@acme.example",
                                "--password", "admin password 1234"])
    assert admin.output == "Created backoffice user boss@acme.example for organizer Acme Events.\n"
    with app.app_context():
        users = {user.email: (user.role, user.name) for user in db.session.query(BackofficeUser)}
    assert users == {"gate2@acme.example": ("door", "Gate 2"), "boss@acme.example": ("admin", None)}

    wrong_role = runner.invoke(args=["organizer", "create-user", "--organizer", "Acme Events", "--email", "x@acme.example",
                                     "--password", "door password 1234", "--role", "bouncer"])
    assert wrong_role.exit_code == 2 and "'admin', 'door'" in wrong_role.output
    bad_name = runner.invoke(args=["organizer", "create-user", "--organizer", "Acme Events", "--email", "y@acme.example",
                                   "--password", "door password 1234", "--role", "door", "--name", "Gate\x002"])
    assert bad_name.exit_code == 1 and "printable text" in bad_name.output


def test_demo_names_its_organizer_for_making_door_users(app, runner, client):
    demo = json.loads(runner.invoke(args=["demo", "--json"]).output)
    assert demo["organizer_name"] == "Demo Events"
    result = runner.invoke(args=["organizer", "create-user", "--organizer", demo["organizer_name"], "--email",
                                 "door@demo.example", "--password", "door password 1234", "--role", "door"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.query(BackofficeUser).filter_by(email="door@demo.example").one().organizer.name == "Demo Events"


def test_a_door_user_made_on_the_command_line_scans_the_demo_shop(app, runner, door_login, smtp, deliver):
    demo = json.loads(runner.invoke(args=["demo", "--json", "--tickets", "1"]).output)
    deliver()
    smtp.take_one(demo["booker_email"])
    gate = door_login(demo["organizer_name"], name="Main entrance")
    barcode, _ = codes(app, demo["order_id"])
    answer = scan(gate, shop_of(app, demo["order_id"]), barcode)
    assert answer.verdict == "Not personalised"  # the demo's tickets wait for their holders
