"""Orders import: a CSV of orders becomes orders, tickets and personalisation emails, or nothing at all."""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

import pytest
from email_validator import validate_email
from hypothesis import given, settings, strategies as st
from sqlalchemy import func, select

from portal import validation
from portal.extensions import db
from portal.validation import EmailNormaliser, InvalidValue, check_plain_text, normalise_email
from portal.models import Order, OrderEvent, OutgoingMessage, Shop, Ticket
from portal.services.imports import MAX_ERRORS, ImportFailed, import_orders, parse_price_cents
from portal.services import emails
from tests.conftest import links_in
from tests.pages import path_of, text

HEADER = "order_number,first_name,last_name,email,mobile,ticket_type,quantity,unit_price"


def write_csv(folder: Path, *lines: str, name: str = "orders.csv", encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


@pytest.fixture
def run_import(runner):
    """Factory: `flask orders import FILE --shop ID` in the test app; returns click's result."""

    def run_import(path: Path, shop_id: int):
        return runner.invoke(args=["orders", "import", str(path), "--shop", str(shop_id)])

    return run_import


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def orders_by_number(app) -> dict[str, Order]:
    return {order.number: order for order in db.session.scalars(select(Order))}


def test_good_file_creates_orders_with_tickets_and_emails_each_booker(
    app, client, smtp, deliver, make_shop, run_import, tmp_path
):
    shop_id = make_shop()
    path = write_csv(
        tmp_path,
        HEADER,
        "NX-1001,Ann,Jansen,ann@example.com,06 12345678,Day ticket,2,45.00",
        "NX-1002,Łukasz,Żółć,lukasz@example.org,+48 512 345 678,Weekend pass,1,89.50",
        "NX-1003,Bob,Bakker,bob@example.com,,Day ticket,3,45.00",
    )
    result = run_import(path, shop_id)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "created: 3, skipped: 0"

    with app.app_context():
        orders = orders_by_number(app)
        assert sorted(orders) == ["NX-1001", "NX-1002", "NX-1003"]
        ann = orders["NX-1001"]
        assert (ann.shop_id, ann.status, ann.booker_name, ann.booker_email, ann.booker_phone) == (
            shop_id, "completed", "Ann Jansen", "ann@example.com", "+31612345678"
        )
        assert orders["NX-1002"].booker_phone == "+48512345678"
        assert orders["NX-1003"].booker_phone is None
        assert [(t.position, t.ticket_type, t.price_cents, t.status) for t in ann.tickets] == [
            (1, "Day ticket", 4500, "open"),
            (2, "Day ticket", 4500, "open"),
        ]
        barcodes = [t.barcode for t in db.session.scalars(select(Ticket))]
        assert len(barcodes) == 6 and len(set(barcodes)) == 6 and all(len(b) >= 32 for b in barcodes)
        [event] = ann.events
        assert (event.kind, event.actor, event.actor_label, event.details) == (
            "order_imported", "system", None, {"tickets": 2}
        )

    deliver()
    for email, number in [("ann@example.com", "NX-1001"), ("lukasz@example.org", "NX-1002"), ("bob@example.com", "NX-1003")]:
        mail = smtp.take_one(email)
        assert "Harbour Jazz Nights" in mail["Subject"]
        overview = client.get(path_of(next(link for link in links_in(mail) if "/o/" in link)))
        assert overview.status_code == 200
        assert number in text(overview.get_data(as_text=True))


def test_backoffice_user_is_named_on_the_timeline(app, make_shop):
    shop_id = make_shop()
    with app.app_context():
        stream = io.StringIO(f"{HEADER}\nNX-2001,Ann,Jansen,ann@example.com,,Day ticket,1,45\n")
        report = import_orders(db.session.get(Shop, shop_id), stream, actor_label="staff@acme.example")
        db.session.commit()
        assert (report.created, report.skipped, report.skipped_numbers) == (1, 0, [])
        event = db.session.scalar(select(OrderEvent))
        assert (event.kind, event.actor, event.actor_label) == ("order_imported", "organizer", "staff@acme.example")


def test_errors_on_lines_3_and_7_are_named_and_nothing_is_written(app, make_shop, run_import, tmp_path):
    shop_id = make_shop()
    lines = [
        HEADER,
        "NX-3001,Ann,Jansen,ann@example.com,,Day ticket,1,45.00",
        "NX-3002,Bob,Bakker,bob-at-example.com,,Day ticket,1,45.00",  # line 3: not an email address
        "NX-3003,Cas,Smit,cas@example.com,,Day ticket,1,45.00",
        "NX-3004,Dee,Visser,dee@example.com,,Day ticket,1,45.00",
        "NX-3005,Eva,Mulder,eva@example.com,,Day ticket,1,45.00",
        "NX-3006,Fay,Bos,fay@example.com,,Day ticket,zero,45.00",  # line 7: not a quantity
        "NX-3007,Gijs,Dekker,gijs@example.com,,Day ticket,1,45.00",
    ]
    path = write_csv(tmp_path, *lines)
    result = run_import(path, shop_id)
    assert result.exit_code == 1
    assert "line 3: email:" in result.stderr
    assert "line 7: quantity:" in result.stderr
    assert "Traceback" not in result.output

    with app.app_context():
        assert count(Order) == count(Ticket) == count(OrderEvent) == count(OutgoingMessage) == 0
        with pytest.raises(ImportFailed) as failure:
            import_orders(db.session.get(Shop, shop_id), io.StringIO("\n".join(lines)))
        assert [line for line, _ in failure.value.errors] == [3, 7]
        db.session.rollback()
        assert count(Order) == 0


def test_every_problem_of_a_line_is_reported(app, make_shop):
    shop_id = make_shop()
    with app.app_context():
        with pytest.raises(ImportFailed) as failure:
            import_orders(
                db.session.get(Shop, shop_id),
                io.StringIO(f"{HEADER}\nNX 1,,Jansen,nope,12,Day ticket,0,abc\n"),
            )
    messages = [message for line, message in failure.value.errors if line == 2]
    columns = [message.split(":")[0] for message in messages]
    assert columns == ["order_number", "first_name", "email", "mobile", "quantity", "unit_price"]


def test_a_file_full_of_mistakes_stops_at_a_sane_number_of_errors(app, make_shop):
    shop_id = make_shop()
    rows = "".join(f"NX-{i},Ann,Jansen,ann@example.com,,Day ticket,0,45\n" for i in range(500))
    with app.app_context():
        with pytest.raises(ImportFailed) as failure:
            import_orders(db.session.get(Shop, shop_id), io.StringIO(f"{HEADER}\n{rows}"))
    errors = failure.value.errors
    assert len(errors) == MAX_ERRORS + 1
    assert "rest of the file was not checked" in errors[-1][1]


def test_reimport_skips_existing_orders_and_sends_no_second_email(
    app, smtp, deliver, make_shop, make_order, run_import, tmp_path
):
    shop_id = make_shop()
    first = write_csv(
        tmp_path,
        HEADER,
        "NX-4001,Ann,Jansen,ann@example.com,,Day ticket,2,45.00",
        "NX-4002,Bob,Bakker,bob@example.com,,Day ticket,1,45.00",
        name="first.csv",
    )
    assert run_import(first, shop_id).exit_code == 0
    deliver()
    smtp.take_one("ann@example.com")
    smtp.take_one("bob@example.com")
    # An order of another shop with a number that is in the file is not touched either.
    make_order(number="NX-4004", booker_email="other@example.com")
    deliver()
    smtp.take_one("other@example.com")

    second = write_csv(
        tmp_path,
        HEADER,
        "nx-4001,Ann,Jansen,ann@example.com,,Day ticket,2,45.00",  # same number, other case
        "NX-4003,Cas,Smit,cas@example.com,,Day ticket,1,45.00",
        "NX-4002,Bob,Bakker,bob@example.com,,Day ticket,1,45.00",
        "NX-4004,Dee,Visser,dee@example.com,,Day ticket,1,45.00",
        name="second.csv",
    )
    result = run_import(second, shop_id)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "created: 1, skipped: 3",
        "  skipped (exists already): NX-4001",
        "  skipped (exists already): NX-4002",
        "  skipped (exists already): NX-4004",
    ]
    with app.app_context():
        assert count(Order) == 4
        assert count(Ticket) == 2 + 1 + 4 + 1
        assert db.session.scalar(select(Order).where(Order.number == "NX-4004")).booker_email == "other@example.com"
    deliver()
    smtp.take_one("cas@example.com")  # and nothing else: the guard fails on any second email


def test_dutch_spreadsheet_export_with_bom_semicolons_and_decimal_commas(app, smtp, deliver, make_shop, run_import, tmp_path):
    shop_id = make_shop()
    path = tmp_path / "bestellingen.csv"
    rows = [
        "Order number;First name;Last name;Email;Mobile;Ticket type;Quantity;Unit price",
        'NX-5001;Anne-Marie;"van den Berg; jr.";anne@voorbeeld.nl;06-12345678;Dagkaart;2;45,50',
        "NX-5002;Sem;de Jong;sem@voorbeeld.nl;;VIP-arrangement;1;€ 1.234,50",
        "NX-5003;Iris;Bos;iris@voorbeeld.nl;;Dagkaart;1;€45",
        ";;;;;;;",  # spreadsheets end with empty rows
    ]
    # What "CSV UTF-8 (puntkomma's)" in a Dutch spreadsheet writes: a BOM, ";" and CRLF.
    path.write_bytes("\ufeff".encode() + "\r\n".join(rows).encode() + b"\r\n")
    result = run_import(path, shop_id)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("created: 3, skipped: 0")
    with app.app_context():
        orders = orders_by_number(app)
        anne = orders["NX-5001"]
        assert (anne.booker_last_name, anne.booker_phone) == ("van den Berg; jr.", "+31612345678")
        assert [t.price_cents for t in anne.tickets] == [4550, 4550]
        assert [t.price_cents for t in orders["NX-5002"].tickets] == [123450]
        assert [t.price_cents for t in orders["NX-5003"].tickets] == [4500]
    deliver()
    for email in ("anne@voorbeeld.nl", "sem@voorbeeld.nl", "iris@voorbeeld.nl"):
        smtp.take_one(email)


@pytest.mark.parametrize(
    ("price", "cents"),
    [
        ("45", 4500), ("45.00", 4500), ("45,00", 4500), ("45,5", 4550), ("€ 45", 4500), ("€45,50", 4550),
        ("EUR 12.95", 1295), ("1.234,50", 123450), ("1,234.50", 123450), ("1.000,00", 100000),
        ("1.000.000", 100000000), ("0", 0),
    ],
)
def test_prices_are_read_as_people_write_them(price, cents):
    assert parse_price_cents(price) == cents


@pytest.mark.parametrize("price", ["", "abc", "-5", "45.000,00.1", "1,234,50", "1.000", "45,123", "4 5 x"])
def test_prices_that_cannot_be_read_are_refused(price):
    with pytest.raises(ValueError):
        parse_price_cents(price)


def test_rows_sharing_an_order_number_become_one_order(app, smtp, deliver, make_shop, run_import, tmp_path):
    shop_id = make_shop()
    path = write_csv(
        tmp_path,
        HEADER,
        "NX-6001,Ann,Jansen,ann@example.com,0612345678,Day ticket,2,45.00",
        "NX-6002,Bob,Bakker,bob@example.com,,Day ticket,1,45.00",
        # Same booker written another way: the values agree once normalised.
        "NX-6001, Ann ,Jansen,ann@example.com,+31 6 12345678,Camping,1,25.00",
        "NX-6001,Ann,Jansen,ann@example.com,0612345678,Weekend pass,1,89.50",
    )
    result = run_import(path, shop_id)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "created: 2, skipped: 0"
    with app.app_context():
        ann = orders_by_number(app)["NX-6001"]
        assert [(t.position, t.ticket_type, t.price_cents) for t in ann.tickets] == [
            (1, "Day ticket", 4500), (2, "Day ticket", 4500), (3, "Camping", 2500), (4, "Weekend pass", 8950)
        ]
        assert ann.events[0].details == {"tickets": 4}
        assert ann.total_cents == 20450
    deliver()
    smtp.take_one("ann@example.com")  # one email for the order, not one per row
    smtp.take_one("bob@example.com")


def test_conflicting_booker_details_for_one_order_are_an_error_on_their_line(app, make_shop, run_import, tmp_path):
    shop_id = make_shop()
    path = write_csv(
        tmp_path,
        HEADER,
        "NX-7001,Ann,Jansen,ann@example.com,,Day ticket,1,45.00",
        "NX-7002,Bob,Bakker,bob@example.com,,Day ticket,1,45.00",
        "NX-7001,Anne,Jansen,ann@example.com,,Camping,1,25.00",
    )
    result = run_import(path, shop_id)
    assert result.exit_code == 1
    assert "line 4: order_number: NX-7001 has other booker details on line 2" in result.stderr
    with app.app_context():
        assert count(Order) == 0


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("order_number,first_name,last_name,email,ticket_type,quantity,unit_price", "Missing column(s): mobile."),
        (HEADER + ",notes", "Unknown column(s): notes."),
        (HEADER.replace("last_name", "first_name"), "Column(s) named twice: first_name."),
        ("just some text", "Missing column(s): order_number, first_name"),
    ],
)
def test_header_problems_are_named_with_the_columns_expected(app, make_shop, run_import, tmp_path, header, problem):
    shop_id = make_shop()
    result = run_import(write_csv(tmp_path, header, "NX-8001,Ann,Jansen,ann@example.com,,Day,1,45"), shop_id)
    assert result.exit_code == 1
    [message] = result.stderr.splitlines()[:-1]
    assert message.startswith("line 1: ")
    assert problem in message
    assert "The first line must name the columns: order_number, first_name, last_name, email, mobile" in message


def test_header_may_differ_in_case_spacing_and_order(app, make_shop):
    shop_id = make_shop()
    header = " Unit Price ; QUANTITY;Ticket type;Mobile;E-mail;Last name;First name;\ufeffOrder number"
    with app.app_context():
        with pytest.raises(ImportFailed) as failure:  # "E-mail" is not "email"
            import_orders(db.session.get(Shop, shop_id), io.StringIO(header + "\n"))
        assert "Unknown column(s): E-mail." in failure.value.errors[0][1]
        header = header.replace("E-mail", "Email")
        report = import_orders(
            db.session.get(Shop, shop_id),
            io.StringIO(f"{header}\n45,00;2;Day;;ann@example.com;Jansen;Ann;NX-8101\n"),
        )
        assert report.created == 1
        order = db.session.scalar(select(Order))
        assert (order.booker_first_name, len(order.tickets), order.tickets[0].price_cents) == ("Ann", 2, 4500)
        db.session.rollback()


def test_extra_values_on_a_line_are_an_error(app, make_shop):
    shop_id = make_shop()
    with app.app_context():
        with pytest.raises(ImportFailed) as failure:
            import_orders(
                db.session.get(Shop, shop_id),
                io.StringIO(f"{HEADER}\nNX-8201,Ann,Jansen,ann@example.com,,Day,1,45.00,oops\n"),
            )
    assert failure.value.errors == [(2, "This line has more values than the header has columns.")]


@pytest.mark.parametrize(
    ("content", "problem"),
    [("", "The file is empty."), ("\n\n", "The file is empty."), (HEADER + "\n", "The file has no orders below its header.")],
)
def test_a_file_without_orders_is_refused(app, make_shop, run_import, tmp_path, content, problem):
    shop_id = make_shop()
    path = tmp_path / "orders.csv"
    path.write_text(content)
    result = run_import(path, shop_id)
    assert result.exit_code == 1
    assert problem in result.stderr


def test_cli_refuses_an_unknown_shop_a_missing_file_and_a_file_that_is_not_utf8(
    app, make_shop, run_import, tmp_path
):
    shop_id = make_shop()
    good = write_csv(tmp_path, HEADER, "NX-9001,Ann,Jansen,ann@example.com,,Day,1,45")

    unknown_shop = run_import(good, 999)
    assert unknown_shop.exit_code == 1
    assert "no shop with id 999" in unknown_shop.stderr

    missing = run_import(tmp_path / "nowhere.csv", shop_id)
    assert missing.exit_code == 1
    assert "cannot read" in missing.stderr and "No such file" in missing.stderr

    # Saved as "CSV (comma delimited)" from an old spreadsheet program: Windows-1252, not UTF-8.
    legacy = write_csv(tmp_path, HEADER, "NX-9002,José,Müller,jose@example.com,,Day,1,45", name="legacy.csv", encoding="cp1252")
    result = run_import(legacy, shop_id)
    assert result.exit_code == 1
    # The line is where decoding failed, which reads ahead: no line number is promised.
    assert 'The file is not UTF-8 text. Save it as "CSV UTF-8"' in result.stderr

    for outcome in (unknown_shop, missing, result):
        assert "Traceback" not in outcome.output
        assert isinstance(outcome.exception, SystemExit)
    with app.app_context():
        assert count(Order) == 0


def test_the_stream_is_read_once_and_need_not_be_seekable(app, make_shop):
    class Upload(io.StringIO):
        """Like a request body: read forward only."""

        def seekable(self) -> bool:
            return False

        def seek(self, *args):
            raise io.UnsupportedOperation("not seekable")

    shop_id = make_shop()
    with app.app_context():
        report = import_orders(
            db.session.get(Shop, shop_id), Upload(f"{HEADER}\nNX-9101,Ann,Jansen,ann@example.com,,Day,1,45\n")
        )
        assert report.created == 1
        db.session.rollback()


def test_a_large_import_keeps_the_session_small_and_writes_the_same_emails_as_one_order(app, make_shop):
    """Orders are created a chunk at a time; each booker's email is written from what its row names."""
    shop_id = make_shop()
    rows = "".join(
        # A name with characters HTML must escape, to check the filled-in emails escape them too.
        f"NX-{i:05d},D'Angelo & <Zoë>,Jansen {i},booker{i}@example.com,,Day ticket,{i % 3 + 1},45\n"
        for i in range(2100)
    )
    with app.app_context():
        shop = db.session.get(Shop, shop_id)
        report = import_orders(shop, io.StringIO(f"{HEADER}\n{rows}"))
        assert len(db.session.identity_map) < 10  # the shop and its organizer, not 2,100 orders
        db.session.commit()
        assert report.created == count(Order) == count(OutgoingMessage) == 2100
        assert count(Ticket) == sum(i % 3 + 1 for i in range(2100))
        for number in ("NX-00000", "NX-01234", "NX-02099"):
            order = db.session.scalar(select(Order).where(Order.number == number))
            queued = db.session.scalar(select(OutgoingMessage).where(OutgoingMessage.order_id == order.id))
            assert (queued.kind, queued.recipient, queued.language, queued.details) == (
                "confirmation", order.booker_email, "en", {"version": order.personalisation_version})
            email = emails.compose(queued)
            assert "D&#39;Angelo &amp; &lt;Zoë&gt;" in email.html
            assert "D'Angelo & <Zoë>" in email.body


# --- The import checks a file with the portal's own rules, only faster ---------

#: Plain addresses (the import's quick way) and every kind the quick way leaves to the full check.
ADDRESSES = [
    "ann@example.com", "Ann.Jansen+tickets@Example.COM", "ann_o-brien@mail.example.co.uk", "ANN@EXAMPLE.COM",
    "ann@example.com", "bob@example.com", "ann@123.example", "ann@example.123", "ann@EXAMPLE.com",
    # RFC 2142 names are case-insensitive: email_validator writes them in lower case.
    "INFO@example.com", "Postmaster@example.org", "Info.desk@example.com",
    # Internationalised domains, as Unicode and as Punycode (normalised to Unicode); a non-ASCII local part.
    "ann@bücher.de", "ann@xn--bcher-kva.de", "ann@XN--BCHER-KVA.DE", "zoë@example.org", "ann@xn--zz.com",
    # Special-use and single-label domains.
    "ann@localhost", "ann@example.local", "ann@example.test", "ann@example.invalid", "ann@example", "ann@onion",
    # Quoted local parts, display names, domain literals, other characters.
    '"ann jansen"@example.com', '"ann"@example.com', "Ann <ann@example.com>", "ann@[127.0.0.1]",
    "ann!#$%&'*/=?^`{|}~@example.com", "ann@exa_mple.com",
    # Dots and hyphens in the wrong places, missing parts.
    "ann..jansen@example.com", ".ann@example.com", "ann.@example.com", "ann@-example.com", "ann@example-.com",
    "ann@example..com", "ann@.example.com", "ann@example.com.", "ann@ab--cd.com", "ann@@example.com",
    "ann", "@example.com", "ann@", "", " ann@example.com",
    # Lengths at and past every limit: local part 64, label 63, domain 253, address 254.
    "a" * 64 + "@example.com", "a" * 65 + "@example.com", "ann@" + "b" * 63 + ".com", "ann@" + "b" * 64 + ".com",
    "a" * 64 + "@" + ".".join(["b" * 63] * 2 + ["c" * 58]) + ".nl",  # 254 characters
    "a" * 64 + "@" + ".".join(["b" * 63] * 2 + ["c" * 59]) + ".nl",  # 255
    "a@" + ".".join(["b" * 63] * 3 + ["c" * 57]) + ".nl",  # a domain of 252
    "ann@" + ".".join(["b" * 63] * 3 + ["c" * 57]) + ".nl",  # the same domain, 256 in all
    "a@" + ".".join(["b" * 63] * 3 + ["c" * 58]) + ".nl",  # a domain of 253
]


def checked_email(check, address: str) -> str | tuple[str, str]:
    """The normalised address, or ("refused", the message shown)."""
    try:
        return check(address)
    except InvalidValue as error:
        return ("refused", str(error))


def test_email_addresses_are_checked_exactly_as_the_forms_check_them():
    normalise = EmailNormaliser()  # one for the whole list, as for a file: domains repeat
    for address in ADDRESSES:
        assert checked_email(normalise, address) == checked_email(normalise_email, address), address


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.from_regex(r"[A-Za-z0-9._+-]{1,70}@[A-Za-z0-9.-]{1,70}", fullmatch=True),
            st.from_regex(r"[A-Za-z0-9_+-]{1,66}@([A-Za-z0-9-]{1,63}\.){1,4}[A-Za-z]{2,6}", fullmatch=True),
            st.text(alphabet='aZ9._+-@"<> ëß\u0301\u00a0[]xn', max_size=40),
            st.emails(),
        ),
        max_size=8,
    )
)
def test_any_address_gets_the_same_answer_from_the_import_and_the_forms(addresses):
    normalise = EmailNormaliser()
    for address in addresses:
        assert checked_email(normalise, address) == checked_email(normalise_email, address)


def test_an_import_checks_each_domain_once(monkeypatch):
    checked = []

    def counted(address, **options):
        checked.append(address)
        return validate_email(address, **options)

    monkeypatch.setattr(validation, "validate_email", counted)
    normalise = EmailNormaliser()
    assert [normalise(f"booker{i}@Example.com") for i in range(3)] == [f"booker{i}@example.com" for i in range(3)]
    assert normalise("ann@voorbeeld.nl") == "ann@voorbeeld.nl"
    assert len(checked) == 2


@given(st.text(st.characters(exclude_categories=())))  # surrogates too
def test_a_name_is_refused_for_control_format_private_use_and_surrogate_characters_only(name):
    controls = any(unicodedata.category(char) in {"Cc", "Cf", "Co", "Cs"} for char in name)
    try:
        check_plain_text(name)
    except InvalidValue:
        assert controls
    else:
        assert not controls


def test_an_address_the_mail_layer_cannot_encode_is_an_error_on_its_line(app, make_shop, run_import, tmp_path):
    """It would pass the syntax check and then never be delivered: refused where the organizer can fix it."""
    shop_id = make_shop()
    path = write_csv(
        tmp_path,
        HEADER,
        "NX-3101,Ann,Jansen,ann@example.com,,Day ticket,1,45.00",
        "NX-3102,Eve,Levi,eve@\u05d0\u05d11.example,,Day ticket,1,45.00",
    )
    result = run_import(path, shop_id)
    assert result.exit_code == 1
    assert "line 3: email: Enter a valid email address" in result.stderr
    with app.app_context():
        assert count(Order) == 0


def test_another_organizers_order_numbers_are_neither_reported_nor_in_the_way(app, smtp, deliver, make_shop, make_order):
    """Organizer B imports A's number: a new order of B's, and A's later import of the same number is A's."""
    a_shop, b_shop = make_shop("Acme Events"), make_shop("Other Events")
    make_order(tickets=1, shop_id=a_shop, number="NX-5001")
    line = f"{HEADER}\nNX-5001,Bo,Berg,bo@example.com,,Day ticket,1,45.00\nNX-5002,Cy,Cox,cy@example.com,,Day ticket,1,45.00\n"
    with app.app_context():
        report = import_orders(db.session.get(Shop, b_shop), io.StringIO(line))
        db.session.commit()
        assert (report.created, report.skipped) == (2, 0)
        report = import_orders(db.session.get(Shop, a_shop), io.StringIO(line.replace("NX-5001,Bo", "NX-5009,Bo")))
        db.session.commit()
        assert (report.created, report.skipped) == (2, 0)
    deliver()
    smtp.take_one("booker@example.com")
    assert len(smtp.take("bo@example.com")) == len(smtp.take("cy@example.com")) == 2  # one order of each organizer
