"""Signed barcodes and short codes: what the ticket PDF prints, how they change, the shop keys behind them."""

from __future__ import annotations

import base64
import re

import pypdfium2 as pdfium
import pytest
import zxingcpp
from sqlalchemy.exc import IntegrityError

from portal import barcodes, create_app
from portal.config import TestConfig
from portal.extensions import db
from portal.models import Order, ShopKey, Ticket
from portal.services import downloads, orders
from portal.services.barcodes import public_key_pem, signed_barcode
from tests.door_pages import change_holder, codes, order_action, personalise, scan, shop_of

CODE = re.compile(rf"[{barcodes.SHORT_CODE_ALPHABET}]{{12}}")


def ticket_pdf(app, order_id: int, position: int = 1) -> bytes:
    with app.app_context():
        return downloads.tickets_pdf([db.session.get(Order, order_id).ticket_at(position)], language="en")


def test_the_ticket_pdf_has_a_signed_barcode_in_its_qr_code_and_the_short_code_under_it(app, make_order):
    order_id = make_order(tickets=2)
    personalise(app, order_id)
    page = pdfium.PdfDocument(ticket_pdf(app, order_id))[0]
    [qr] = zxingcpp.read_barcodes(page.render(scale=200 / 72).to_pil())
    barcode, short_code = codes(app, order_id)
    assert qr.text == barcode
    with app.app_context():
        ticket = db.session.get(Order, order_id).ticket_at(1)
        key = ticket.order.shop.keys[-1]
        read = barcodes.parse(qr.text)
        assert read.barcode == barcodes.Barcode(ticket.order.shop_id, 1, ticket.id, 1)
        assert read.is_signed_by(key.public_key)
    # The short code in groups of four, under the QR code.
    textpage = page.get_textpage()
    printed = textpage.get_text_range()
    grouped = barcodes.grouped(short_code)
    assert CODE.fullmatch(short_code) and re.fullmatch(r"\w{4}-\w{4}-\w{4}", grouped)
    assert f"Code {grouped}" in " ".join(printed.split())
    start = printed.index(grouped)
    qr_bottom = page.get_height() - max(point.y for point in (qr.position.bottom_left, qr.position.bottom_right)) * 72 / 200
    assert all(textpage.get_charbox(start + index)[3] < qr_bottom for index in range(len(grouped)))


def test_short_codes_are_twelve_characters_without_look_alikes_drawn_at_random_for_each_ticket(app, make_order):
    order_id = make_order(tickets=300)
    with app.app_context():
        short_codes = [ticket.short_code for ticket in db.session.get(Order, order_id).tickets]
    assert all(CODE.fullmatch(code) for code in short_codes)
    assert not set("015BGILOQSZ8") & set("".join(short_codes))
    assert len(set(short_codes)) == 300
    # Not counted up nor derived from the ticket's number: the codes of neighbouring tickets are unrelated.
    assert len({code[0] for code in short_codes}) >= 20 and len({code[-1] for code in short_codes}) >= 20
    alike = sum(a == b for first, second in zip(short_codes, short_codes[1:]) for a, b in zip(first, second))
    assert alike < 12 * 299 / 24 * 2  # about one in 24 characters agree, as for any two random codes


def test_no_two_tickets_can_have_the_same_short_code(app, make_order):
    first, second = make_order(tickets=1), make_order(tickets=1)
    with app.app_context():
        taken = db.session.get(Order, first).ticket_at(1).short_code
        db.session.get(Order, second).ticket_at(1).short_code = taken
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_each_holder_change_issues_the_next_barcode_version_and_a_new_short_code(app, make_order):
    order_id = make_order(tickets=1)
    personalise(app, order_id)
    seen = [codes(app, order_id)]
    with app.app_context():
        assert db.session.get(Order, order_id).ticket_at(1).barcode_version == 1
    change_holder(app, order_id)
    seen.append(codes(app, order_id))
    order_action(app, order_id, orders.reopen_personalisation, seen_version=1)
    seen.append(codes(app, order_id))
    assert [barcodes.parse(barcode).barcode.version for barcode, _ in seen] == [1, 2, 3]
    with app.app_context():
        assert db.session.get(Order, order_id).ticket_at(1).barcode_version == 3
    assert len({short_code for _, short_code in seen}) == 3
    # Nothing else changes a barcode: Resend sends the same one.
    order_action(app, order_id, orders.resend)
    assert codes(app, order_id) == seen[-1]


def test_rotating_the_secret_key_changes_no_barcode(app, app_config, make_order):
    order_id = make_order(tickets=1)
    personalise(app, order_id)
    before = codes(app, order_id)
    rotated = create_app(TestConfig, {**app_config, "SECRET_KEY": "a brand new key", "SECRET_KEY_FALLBACKS": ["test-secret-key"]})
    with rotated.app_context():
        ticket = db.session.get(Order, order_id).ticket_at(1)
        assert (signed_barcode(ticket), ticket.short_code) == before
        pdf = downloads.tickets_pdf([ticket], language="en")
    [qr] = zxingcpp.read_barcodes(pdfium.PdfDocument(pdf)[0].render(scale=200 / 72).to_pil())
    assert qr.text == before[0]


def test_rotating_a_shop_key_issues_new_barcodes_and_says_so(app, runner, make_shop, make_order, door_login):
    shop_id = make_shop()
    order_id = make_order(tickets=2, shop_id=shop_id)
    other_order = make_order(tickets=1)
    for order in (order_id, other_order):
        personalise(app, order)
    old_barcode, old_short_code = codes(app, order_id)
    other_before = codes(app, other_order)
    old_key = runner.invoke(args=["door", "public-key", "--shop", str(shop_id)]).output

    result = runner.invoke(args=["door", "rotate-key", "--shop", str(shop_id)], input="n\n")
    assert result.exit_code == 1 and "refused at the door as replaced" in result.output
    assert codes(app, order_id) == (old_barcode, old_short_code)  # asked, and told no: nothing changed

    result = runner.invoke(args=["door", "rotate-key", "--shop", str(shop_id), "--yes"])
    assert result.exit_code == 0, result.output
    assert f"Shop {shop_id} now signs with key 2. 2 ticket(s) have a new barcode and short code" in result.output
    assert "holders need their tickets again" in result.output
    new_key = runner.invoke(args=["door", "public-key", "--shop", str(shop_id)]).output
    assert new_key != old_key and new_key.startswith("-----BEGIN PUBLIC KEY-----")

    new_barcode, new_short_code = codes(app, order_id)
    assert barcodes.parse(new_barcode).barcode.key_number == 2 and new_short_code != old_short_code
    gate = door_login()
    assert scan(gate, shop_id, old_barcode).verdict == "Replaced by a newer barcode"  # the retired key still verifies it
    assert scan(gate, shop_id, old_short_code).verdict == "Unknown code"
    assert scan(gate, shop_id, new_barcode).verdict == "Valid ticket"
    assert codes(app, other_order) == other_before  # another shop's barcodes stay
    with app.app_context():
        keys = db.session.query(ShopKey).filter_by(shop_id=shop_id).order_by(ShopKey.number).all()
        assert [(key.number, key.private_key is None, key.retired_at is not None) for key in keys] == [
            (1, True, True), (2, False, False)]
        assert public_key_pem(keys[0].shop) == new_key


def test_the_barcode_format_is_read_strictly():
    private_key, public_key = barcodes.new_key_pair()
    barcode = barcodes.Barcode(shop_id=12, key_number=1, ticket_id=48213, version=2)
    content = barcodes.sign(barcode, private_key)
    assert content.startswith("PT1:12:1:48213:2:") and len(content) == len("PT1:12:1:48213:2:") + 103
    assert re.fullmatch(r"[0-9A-Z:]+", content)  # the QR code's alphanumeric mode
    read = barcodes.parse(content)
    assert read.barcode == barcode and read.is_signed_by(public_key)
    assert not read.is_signed_by(barcodes.new_key_pair()[1])

    message, _, signature = content.rpartition(":")
    # 103 characters carry 515 bits for the signature's 512: other final characters decode to the same bytes.
    same_bytes = [char for char in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" if char != signature[-1]
                  and base64.b32decode(signature[:-1] + char + "=") == base64.b32decode(signature + "=")]
    assert same_bytes
    for unreadable in (
        content.replace("PT1:12:", "PT1:012:"),  # a number written another way
        content.replace(":48213:", ":-48213:"),
        message + ":" + signature.lower(),
        message + ":" + signature[:-1] + same_bytes[0],  # the same signature written another way
        message + ":" + signature + "=",
        "PT2" + content[3:],
        content[:-1],
        "",
    ):
        with pytest.raises(barcodes.BarcodeUnreadable):
            barcodes.parse(unreadable)


def test_short_codes_are_read_as_people_type_them():
    assert barcodes.normalise_short_code(" kput-jpet avm9 ") == "KPUTJPETAVM9"
    assert barcodes.normalise_short_code("KPUT–JPET–AVM9") == "KPUTJPETAVM9"  # en dashes from a phone keyboard
    for wrong in ("KPUT-JPET-AVM", "KPUT-JPET-AVM99", "KPUT-JPET-AVM0", "KPUT-JPET-AVMO", ""):
        assert barcodes.normalise_short_code(wrong) is None
    assert barcodes.grouped("KPUTJPETAVM9") == "KPUT-JPET-AVM9"
    assert barcodes.normalise_short_code("K7MX-3HPA-9PRT")  # the door page's example is one that could exist


def test_tickets_made_in_bulk_get_short_codes_and_the_first_version(app, make_order):
    """Orders and imports insert tickets in bulk (portal.driver): the column defaults still apply per row."""
    order_id = make_order(tickets=3)
    with app.app_context():
        tickets = db.session.query(Ticket).filter_by(order_id=order_id).all()
        assert [ticket.barcode_version for ticket in tickets] == [1, 1, 1]
        assert all(CODE.fullmatch(ticket.short_code) for ticket in tickets)
        assert shop_of(app, order_id) == tickets[0].order.shop_id


def test_the_migration_gives_existing_shops_a_key_and_existing_tickets_a_short_code(tmp_path):
    """Migrations 0005-0009 on a database with orders made before them: their tickets scan afterwards."""
    import sqlite3

    from tests.test_cli import flask

    database = tmp_path / "before.sqlite3"
    env = {"DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "migration-test"}
    assert flask("db", "upgrade", "0004", env=env).returncode == 0
    with sqlite3.connect(database) as connection:
        connection.executescript("""
            INSERT INTO organizer (id, name) VALUES (1, 'Acme Events');
            INSERT INTO shop (id, organizer_id, event_name, event_starts_at, event_ends_at, venue, timezone, country,
                default_language, currency, download_enabled, personalisation_required, phone_required,
                date_of_birth_required) VALUES (1, 1, 'Harbour Jazz Nights', '2027-06-12 18:00:00', '2027-06-12 23:00:00',
                'Pier 5', 'Europe/Amsterdam', 'NL', 'en', 'EUR', 1, 1, 0, 0);
            INSERT INTO "order" (id, shop_id, number, status, created_at, booker_first_name, booker_last_name, booker_email,
                personalisation_version) VALUES (1, 1, 'NX-2026-000001', 'completed', '2026-12-01 10:00:00', 'Sam', 'de Vries',
                'booker@example.com', 1);
            INSERT INTO ticket (id, order_id, position, ticket_type, price_cents, barcode, status, share_version)
                VALUES (1, 1, 1, 'Day ticket', 4500, 'unsigned-barcode-one-0123456789ab', 'open', 0),
                       (2, 1, 2, 'Day ticket', 4500, 'unsigned-barcode-two-0123456789ab', 'open', 0);
            INSERT INTO backoffice_user (id, organizer_id, email, password_hash) VALUES (1, 1, 'staff@acme.example', 'x');
        """)
    upgrade = flask("db", "upgrade", env=env)
    assert upgrade.returncode == 0, upgrade.stderr
    with sqlite3.connect(database) as connection:
        tickets = connection.execute("SELECT short_code, barcode_version, barcode FROM ticket ORDER BY id").fetchall()
        keys = connection.execute("SELECT shop_id, number, length(private_key), length(public_key) FROM shop_key").fetchall()
        roles = connection.execute("SELECT role, name FROM backoffice_user").fetchall()
    assert all(CODE.fullmatch(code) and version == 1 for code, version, _ in tickets)
    assert tickets[0][0] != tickets[1][0] and tickets[0][2] == "unsigned-barcode-one-0123456789ab"
    assert keys == [(1, 1, 32, 32)] and roles == [("admin", None)]
    exported = flask("door", "export", "--shop", "1", env=env)
    assert exported.returncode == 0, exported.stderr
    assert '"tickets": []' in exported.stdout  # nobody personalised yet: nothing the door lets in
