"""The check-in page: door staff scan a ticket (or type its short code), check the ID, admit it once."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from portal import barcodes
from portal.extensions import db
from portal.models import Order, Role, ShopKey
from portal.services import orders
from tests.backoffice_pages import order_path, page, timeline
from tests.door_pages import (
    GRACE, admit, change_holder, codes, door_path, order_action, personalise, read_answer, scan, shop_of,
)
from tests.pages import csrf_token, text


@pytest.fixture
def ticket(app, make_order):
    """An order of two tickets whose ticket 1 the booker claimed for Noor Bakker: (order id, shop id)."""
    order_id = make_order(tickets=2)
    personalise(app, order_id, 1)
    return order_id, shop_of(app, order_id)


def test_a_scanned_ticket_shows_its_holder_and_type_and_admit_puts_it_on_the_timeline(app, ticket, door_login, login):
    order_id, shop_id = ticket
    barcode, _ = codes(app, order_id)
    gate = door_login(name="Gate 2")

    answer = scan(gate, shop_id, barcode)
    assert (answer.status, answer.verdict, answer.name, answer.ticket_type) == (200, "Valid ticket", "Noor Bakker", "Day ticket")
    assert answer.reason == "Check that the name matches the photo ID, then admit."
    assert answer.can_admit

    admitted = admit(gate, shop_id, barcode)
    assert (admitted.verdict, admitted.name, admitted.ticket_type) == ("Admitted", "Noor Bakker", "Day ticket")
    assert not admitted.can_admit
    assert 'data-door-scanner' in admitted.html  # ready for the next ticket

    organizer = login()
    assert timeline(page(organizer, order_path(order_id)))[0].endswith("Gate 2 Ticket 1 admitted at the door")


def test_the_short_code_is_typed_in_any_case_with_spaces_or_hyphens(app, ticket, door_login):
    order_id, shop_id = ticket
    _, short_code = codes(app, order_id)
    gate = door_login()
    for typed in (short_code, short_code.lower(), barcodes.grouped(short_code), " ".join(short_code)):
        answer = scan(gate, shop_id, typed)
        assert (answer.verdict, answer.name) == ("Valid ticket", "Noor Bakker"), typed
    assert admit(gate, shop_id, barcodes.grouped(short_code).lower()).verdict == "Admitted"
    # The same ticket's QR code is now used up too: one ticket, one admission.
    barcode, _ = codes(app, order_id)
    assert scan(gate, shop_id, barcode).verdict == "Already admitted"


def test_a_ticket_comes_in_once_and_the_door_is_told_when_and_by_whom(app, ticket, door_login):
    order_id, shop_id = ticket
    barcode, _ = codes(app, order_id)
    assert admit(door_login(name="Gate 2"), shop_id, barcode).verdict == "Admitted"
    with app.app_context():
        admitted_at = db.session.get(Order, order_id).ticket_at(1).admitted_at
    local = admitted_at.astimezone(ZoneInfo("Europe/Amsterdam"))

    again = scan(door_login(name="Gate 5"), shop_id, barcode)
    assert (again.verdict, again.name, again.ticket_type) == ("Already admitted", "Noor Bakker", "Day ticket")
    if local.date() == datetime.now(ZoneInfo("Europe/Amsterdam")).date():
        assert again.reason == f"Admitted at {local:%H:%M} by Gate 2."
    else:  # the test ran across midnight in Amsterdam
        assert again.reason.endswith(f"{local:%H:%M} by Gate 2.")
    assert not again.can_admit


def test_a_barcode_from_before_a_holder_change_is_refused_as_replaced(app, ticket, door_login):
    order_id, shop_id = ticket
    old_barcode, old_short_code = codes(app, order_id)
    change_holder(app, order_id)
    gate = door_login()

    replaced = scan(gate, shop_id, old_barcode)
    assert replaced.verdict == "Replaced by a newer barcode"
    assert replaced.name is None and "Grace" not in replaced.html  # whoever shows it is not the holder now
    assert not replaced.can_admit
    assert scan(gate, shop_id, old_short_code).verdict == "Unknown code"

    new_barcode, new_short_code = codes(app, order_id)
    assert (new_barcode, new_short_code) != (old_barcode, old_short_code)
    assert scan(gate, shop_id, new_short_code).name == "Grace Hopper"
    assert admit(gate, shop_id, new_barcode).verdict == "Admitted"


def test_open_personalisation_replaces_every_barcode_of_the_order(app, ticket, door_login):
    order_id, shop_id = ticket
    old_barcode, _ = codes(app, order_id)
    order_action(app, order_id, orders.reopen_personalisation, seen_version=1)
    assert scan(door_login(), shop_id, old_barcode).verdict == "Replaced by a newer barcode"


def test_admitting_after_the_holder_changed_since_the_scan_is_refused(app, ticket, door_login):
    """The Admit button carries what was scanned: it is checked again when pressed."""
    order_id, shop_id = ticket
    barcode, _ = codes(app, order_id)
    gate = door_login()
    answer = scan(gate, shop_id, barcode)
    assert answer.can_admit
    change_holder(app, order_id)
    pressed = read_answer(gate.post(f"{door_path(shop_id)}/admit", data={"csrf_token": csrf_token(answer.html), "code": barcode}))
    assert pressed.verdict == "Replaced by a newer barcode"
    with app.app_context():
        assert db.session.get(Order, order_id).ticket_at(1).admitted_at is None


def test_a_ticket_of_a_cancelled_order_is_refused_as_cancelled(app, ticket, door_login):
    order_id, shop_id = ticket
    barcode, short_code = codes(app, order_id)
    order_action(app, order_id, orders.cancel)
    gate = door_login()
    for code in (barcode, short_code):
        answer = scan(gate, shop_id, code)
        assert answer.verdict == "Cancelled"
        assert answer.reason == "The order of this ticket has been cancelled: the ticket is not valid."
        assert answer.name is None and not answer.can_admit


def test_a_ticket_of_another_event_is_refused_and_only_the_organizers_own_events_are_named(
    app, make_shop, make_order, door_login
):
    here = make_shop(event_name="Harbour Jazz Nights")
    sister = make_order(tickets=1, shop_id=make_shop(event_name="Winter Jazz Gala"))
    stranger = make_order(tickets=1, shop_id=make_shop("Other Events", event_name="Secret Rave"))
    for order_id in (sister, stranger):
        personalise(app, order_id)
    gate = door_login()

    for code in codes(app, sister):
        answer = scan(gate, here, code)
        assert answer.verdict == "Another event"
        assert answer.reason.startswith("This ticket is for Winter Jazz Gala on ")
        assert answer.name is None and not answer.can_admit
    barcode, short_code = codes(app, stranger)
    answer = scan(gate, here, barcode)
    assert (answer.verdict, answer.reason) == ("Another event", "This ticket is not for this event.")
    assert "Secret Rave" not in answer.html
    # Another organizer's short code is nobody's here.
    assert scan(gate, here, short_code).verdict == "Unknown code"


def _forgeries(app, order_id: int) -> dict[str, str]:
    """Barcodes nobody issued, each made a different way."""
    genuine, _ = codes(app, order_id)
    parsed = barcodes.parse(genuine)
    fields = parsed.barcode
    someone_elses_key, _ = barcodes.new_key_pair()
    signature = genuine.rpartition(":")[2]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    with app.app_context():
        other_ticket = db.session.get(Order, order_id).ticket_at(2).id
    return {
        "another ticket's number under this signature": genuine.replace(f":{fields.ticket_id}:", f":{other_ticket}:", 1),
        "signed with a key that is not the shop's": barcodes.sign(
            barcodes.Barcode(fields.shop_id, fields.key_number, other_ticket, 1), someone_elses_key
        ),
        "a damaged signature": genuine.rpartition(":")[0] + ":" + flipped,
        "a key the shop never had": barcodes.sign(
            barcodes.Barcode(fields.shop_id, 7, fields.ticket_id, fields.version), someone_elses_key
        ),
        "a cut-off barcode": genuine[:-10],
    }


def test_a_forged_barcode_is_refused_as_not_valid(app, make_order, door_login):
    order_id = make_order(tickets=2)
    personalise(app, order_id, 1)
    personalise(app, order_id, 2, GRACE)
    shop_id = shop_of(app, order_id)
    gate = door_login()
    for how, forged in _forgeries(app, order_id).items():
        answer = scan(gate, shop_id, forged)
        assert answer.verdict == "Not a valid barcode", how
        assert answer.name is None and "Grace" not in answer.html and "Noor" not in answer.html, how
        assert not answer.can_admit, how
    with app.app_context():
        assert all(ticket.admitted_at is None for ticket in db.session.get(Order, order_id).tickets)


def test_a_ticket_without_a_holder_is_refused_where_the_shop_requires_one(app, make_order, door_login):
    order_id = make_order(tickets=1)
    barcode, short_code = codes(app, order_id)
    answer = scan(door_login(), shop_of(app, order_id), short_code)
    assert (answer.verdict, answer.ticket_type, answer.name) == ("Not personalised", "Day ticket", None)
    assert not answer.can_admit


def test_where_the_shop_needs_no_details_the_door_shows_no_name_as_the_ticket_carries_none(app, make_order, door_login):
    order_id = make_order(tickets=1, personalisation_required=False)
    barcode, _ = codes(app, order_id)
    answer = scan(door_login(), shop_of(app, order_id), barcode)
    assert answer.verdict == "Valid ticket" and not answer.name  # never the booker's: someone else may use it
    assert "Sam" not in answer.html
    assert answer.reason == "This event's tickets carry no holder's name: no ID check needed."


def test_an_unsigned_barcode_of_a_pdf_from_before_signing_still_scans(app, ticket, door_login):
    order_id, shop_id = ticket
    with app.app_context():
        unsigned = db.session.get(Order, order_id).ticket_at(1).barcode
    gate = door_login()
    assert scan(gate, shop_id, unsigned).name == "Noor Bakker"
    assert admit(gate, shop_id, unsigned).verdict == "Admitted"


@pytest.fixture
def gate(door_login):
    return door_login()


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(code=st.one_of(
    st.text(max_size=400),
    st.builds(lambda fields, tail: "PT1:" + ":".join(fields) + ":" + tail,
              st.lists(st.from_regex(r"-?[0-9]{1,25}", fullmatch=True), max_size=6), st.text(max_size=120)),
))
@example(code="PT1:99999999999999999999:1:1:1:" + "A" * 103)
@example(code="PT1:1:1:1:1:" + "A" * 103)
@example(code="PT1:1:1:1:1:" + "A" * 104)
@example(code="a\x00b")
@example(code="   ")
@example(code="Z" * 12)
@example(code="'; DROP TABLE ticket;--")
def test_anything_scanned_or_typed_gets_a_clear_answer_and_admits_nothing(app, ticket, gate, code):
    order_id, shop_id = ticket
    token = csrf_token(gate.get(door_path(shop_id)).get_data(as_text=True))
    for action in ("check", "admit"):
        answer = read_answer(gate.post(f"{door_path(shop_id)}/{action}", data={"csrf_token": token, "code": code}))
        assert answer.status in (200, 400, 422), (action, code)
        if answer.status == 200:
            assert answer.verdict in ("Not a valid barcode", "Unknown code", "Not a ticket code"), (action, code)
        else:
            assert re.search(r'<p class="error" id="code-error">', answer.html), (action, code)
    with app.app_context():
        assert db.session.get(Order, order_id).ticket_at(1).admitted_at is None


def test_a_door_user_gets_404_on_every_other_backoffice_page(app, ticket, door_login):
    """Every backoffice route but the door's, GET and POST, whatever exists behind it."""
    from portal.backoffice.auth import DOOR_ENDPOINTS

    order_id, shop_id = ticket
    gate = door_login()
    token = csrf_token(gate.get(door_path(shop_id)).get_data(as_text=True))
    values = {"order_id": order_id, "shop_id": shop_id, "position": 1, "import_id": 1}
    checked = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("backoffice.") or rule.endpoint in DOOR_ENDPOINTS:
            continue
        path = rule.build(values, append_unknown=False)[1]
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = gate.open(path, method=method, data={"csrf_token": token} if method == "POST" else None)
            assert response.status_code == 404, f"{method} {path} answered {response.status_code}"
            html = response.get_data(as_text=True)
            assert "Not found" in html and "de Vries" not in html and "booker@example.com" not in html
            checked.append(rule.endpoint)
    assert {"backoffice.orders", "backoffice.order", "backoffice.shop", "backoffice.shops", "backoffice.cancel",
            "backoffice.edit_ticket", "backoffice.import_orders", "backoffice.edit_contact", "backoffice.imports",
            "backoffice.order_import", "backoffice.import_progress"} <= set(checked)
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert not order.is_cancelled and order.ticket_at(1).holder_email == "noor@example.org"


def test_a_door_user_logs_in_to_the_door_and_never_sees_an_email_address_or_phone_number(app, ticket, door_login):
    order_id, shop_id = ticket
    barcode, _ = codes(app, order_id)
    gate = door_login()
    assert gate.get("/backoffice/").headers["Location"] == "/backoffice/door"
    assert gate.get("/backoffice/door").headers["Location"] == door_path(shop_id)  # the organizer's one event
    start = gate.get(door_path(shop_id)).get_data(as_text=True)
    nav = re.search(r'<nav class="bo-nav".*?</nav>', start, flags=re.S).group(0)
    assert text(nav) == "Door"
    pages = [start, scan(gate, shop_id, barcode).html, admit(gate, shop_id, barcode).html, scan(gate, shop_id, barcode).html]
    private = ("noor@example.org", "+31623456789", "booker@example.com", "+31612345678", "NX-2026-")
    for number, html in enumerate(pages):
        assert number == 0 or "Noor Bakker" in html
        assert not [value for value in private if value in html]


def test_a_door_user_is_sent_to_the_door_after_login_whatever_next_page_was_asked_for(app, runner, client, make_shop):
    shop_id = make_shop()
    result = runner.invoke(args=["organizer", "create-user", "--organizer", "Acme Events", "--email", "gate@acme.example",
                                 "--password", "door password 1234", "--role", "door", "--name", "Gate 2"])
    assert result.exit_code == 0, result.output
    for asked, landed in (("/backoffice/orders", "/backoffice/door"), (door_path(shop_id), door_path(shop_id))):
        fresh = app.test_client()
        login_page = fresh.get(f"/backoffice/login?next={asked}").get_data(as_text=True)
        response = fresh.post(f"/backoffice/login?next={asked}", data={
            "csrf_token": csrf_token(login_page), "email": "gate@acme.example", "password": "door password 1234"})
        assert response.headers["Location"] == landed


def test_another_organizers_door_user_cannot_open_this_shops_door(app, ticket, door_login):
    order_id, shop_id = ticket
    barcode, _ = codes(app, order_id)
    stranger = door_login("Other Events")
    assert stranger.get(door_path(shop_id)).status_code == 404
    own_page = stranger.get("/backoffice/door").get_data(as_text=True)  # no events of theirs: a page all the same
    for action in ("check", "admit"):
        response = stranger.post(f"{door_path(shop_id)}/{action}", data={"csrf_token": csrf_token(own_page), "code": barcode})
        assert response.status_code == 404
        assert "Noor" not in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Order, order_id).ticket_at(1).admitted_at is None


def test_an_organizer_can_admit_at_the_door_too_and_sees_every_event_to_choose_from(app, make_shop, make_order, door_login):
    first = make_order(tickets=1, shop_id=make_shop(event_name="Harbour Jazz Nights"))
    make_shop(event_name="Winter Jazz Gala")
    personalise(app, first)
    organizer = door_login(name=None, role=Role.ADMIN)
    events = organizer.get("/backoffice/door").get_data(as_text=True)
    assert "Harbour Jazz Nights" in events and "Winter Jazz Gala" in events
    nav = text(re.search(r'<nav class="bo-nav".*?</nav>', events, flags=re.S).group(0))
    assert nav == "Ticketing Orders Shops Door"
    barcode, _ = codes(app, first)
    assert admit(organizer, shop_of(app, first), barcode).verdict == "Admitted"
    again = scan(door_login(name="Gate 9"), shop_of(app, first), barcode)
    assert again.reason.endswith(f"by {organizer.user_email}.")  # no name: the email


def test_door_pages_are_never_cached_and_keep_the_sites_policy(app, ticket, door_login):
    from tests.test_headers import CSP, inline_code

    order_id, shop_id = ticket
    barcode, _ = codes(app, order_id)
    gate = door_login()
    responses = [gate.get("/backoffice/door", follow_redirects=True), gate.get(door_path(shop_id))]
    token = csrf_token(responses[-1].get_data(as_text=True))
    responses.append(gate.post(f"{door_path(shop_id)}/check", data={"csrf_token": token, "code": barcode}))
    responses.append(gate.post(f"{door_path(shop_id)}/check", data={"csrf_token": token, "code": ""}))
    for response in responses:
        assert response.headers["Cache-Control"] == "no-store"
        # jsQR needs neither eval nor WebAssembly: the door page keeps the site's policy as it is.
        assert response.headers["Content-Security-Policy"] == CSP
        assert not inline_code(response.get_data(as_text=True))


def test_a_typed_code_that_is_empty_is_answered_next_to_the_field(app, ticket, door_login):
    _, shop_id = ticket
    answer = scan(door_login(), shop_id, "  ")
    assert answer.status == 422
    assert re.search(r'id="code-error">\s*Scan the QR code, or type the code printed under it.', answer.html)


def test_a_shop_key_exists_for_every_new_shop(app, make_shop):
    first, second = make_shop(), make_shop()
    with app.app_context():
        keys = db.session.query(ShopKey).order_by(ShopKey.shop_id).all()
        assert [(key.shop_id, key.number) for key in keys] == [(first, 1), (second, 1)]
        assert keys[0].public_key != keys[1].public_key and all(len(key.private_key) == 32 for key in keys)


def test_an_admission_on_another_day_says_which_day(app, ticket, door_login):
    order_id, shop_id = ticket
    barcode, _ = codes(app, order_id)
    gate = door_login(name="Gate 2")
    assert admit(gate, shop_id, barcode).verdict == "Admitted"
    with app.app_context():
        db.session.get(Order, order_id).ticket_at(1).admitted_at = datetime(2026, 7, 4, 18, 14, tzinfo=UTC)
        db.session.commit()
    assert scan(gate, shop_id, barcode).reason == "Admitted at 4 July, 20:14 by Gate 2."  # in the event's time zone


def test_the_shipped_qr_decoder_is_the_npm_package_unchanged():
    """static/vendor/jsqr is jsqr from npm (package.json pins it), copied as it is, with its licence."""
    import json
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    package = root / "node_modules" / "jsqr"
    if not package.exists():
        reason = "node_modules/jsqr is missing: npm ci (make install-test does it)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI must check the shipped copy)", pytrace=False)
        pytest.skip(reason)
    pinned = json.loads((root / "package.json").read_text())["devDependencies"]["jsqr"]
    assert json.loads((package / "package.json").read_text())["version"] == pinned
    assert f"# jsQR {pinned}" in (root / "static" / "vendor" / "jsqr" / "README.md").read_text()
    for shipped, original in (("jsQR.js", "dist/jsQR.js"), ("LICENSE", "LICENSE")):
        assert (root / "static" / "vendor" / "jsqr" / shipped).read_bytes() == (package / original).read_bytes(), shipped
