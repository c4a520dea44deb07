"""Tests for the PDF ticket renderer: real rendering, text extraction and QR decoding, no Flask app."""

from __future__ import annotations

import dataclasses

import pypdfium2 as pdfium
import pytest
import segno
import zxingcpp
from PIL.Image import Image

from portal.tickets_pdf import PrintableTicket, render_tickets_pdf

DPI = 200
MM = 72 / 25.4  # points per millimetre


def make_ticket(**overrides: object) -> PrintableTicket:
    values: dict[str, object] = {
        "event_name": "Summer Night Concert",
        "event_date": "Sat 12 Jun 2027, 20:00 (Europe/Amsterdam)",
        "venue": "Concertgebouw, Amsterdam",
        "ticket_type": "Main hall, standing",
        "order_number": "ORD-2027-000123",
        "holder_name": "Łukasz Żółć",
        "barcode": "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY",
        "position": 1,
        "count": 1,
    }
    values.update(overrides)
    return PrintableTicket(**values)  # type: ignore[arg-type]


@pytest.fixture
def two_tickets() -> list[PrintableTicket]:
    return [
        make_ticket(holder_name="Łukasz Żółć", barcode="Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6", position=1, count=2),
        make_ticket(holder_name="Zoë Ñúñez", barcode="z9X8c7V6b5N4m3L2k1J0h9G8f7D6s5A4", position=2, count=2),
    ]


def page_text(page: pdfium.PdfPage) -> str:
    """Extracted text with all whitespace (including wrap line breaks) collapsed to single spaces."""
    return " ".join(page.get_textpage().get_text_range().split())


def render_page(page: pdfium.PdfPage) -> Image:
    return page.render(scale=DPI / 72).to_pil()


def decode_qr(page: pdfium.PdfPage) -> zxingcpp.Result:
    results = zxingcpp.read_barcodes(render_page(page))
    assert len(results) == 1, f"expected exactly one barcode, found {len(results)}"
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    return results[0]


def qr_box_points(page: pdfium.PdfPage, result: zxingcpp.Result) -> tuple[float, float, float, float]:
    """The decoded QR symbol's box as (left, bottom, right, top) in PDF points."""
    corners = [result.position.top_left, result.position.top_right,
               result.position.bottom_left, result.position.bottom_right]
    xs = [p.x * 72 / DPI for p in corners]
    ys = [page.get_height() - p.y * 72 / DPI for p in corners]
    return min(xs), min(ys), max(xs), max(ys)


def assert_no_text_over(page: pdfium.PdfPage, box: tuple[float, float, float, float]) -> None:
    left, bottom, right, top = box
    textpage = page.get_textpage()
    for index in range(textpage.count_chars()):
        c_left, c_bottom, c_right, c_top = textpage.get_charbox(index)
        overlaps = c_left < right and c_right > left and c_bottom < top and c_top > bottom
        assert not overlaps, f"character {index} overlaps the QR code"


def test_two_tickets_have_one_page_each_with_all_fields(two_tickets: list[PrintableTicket]) -> None:
    pdf = pdfium.PdfDocument(render_tickets_pdf(two_tickets))

    assert len(pdf) == 2
    for page, ticket in zip(pdf, two_tickets):
        width, height = page.get_size()
        assert (round(width / MM), round(height / MM)) == (105, 148)  # A6 portrait
        text = page_text(page)
        for value in (ticket.holder_name, ticket.event_name, ticket.venue, ticket.ticket_type,
                      ticket.order_number, ticket.event_date):
            assert value in text
        assert f"Ticket {ticket.position} of {ticket.count}" in text


def test_each_page_has_one_qr_code_with_that_tickets_barcode(two_tickets: list[PrintableTicket]) -> None:
    pdf = pdfium.PdfDocument(render_tickets_pdf(two_tickets))

    for page, ticket in zip(pdf, two_tickets):
        result = decode_qr(page)
        assert result.text == ticket.barcode
        left, _, right, _ = qr_box_points(page, result)
        assert_no_text_over(page, qr_box_points(page, result))
        # Symbol plus the 4-module quiet zone on each side should be at least ~50 mm wide.
        modules = segno.make(ticket.barcode, error="m", micro=False, boost_error=False).symbol_size(border=0)[0]
        assert (right - left) * (modules + 8) / modules >= 50 * MM


@pytest.mark.parametrize(
    "holder_name",
    [
        " ".join(["Maximiliana-Eleonora"] * 15)[:300],  # wraps at spaces
        "X" * 300,  # no break opportunity at all
    ],
    ids=["words", "one-word"],
)
def test_very_long_holder_name_wraps_without_covering_the_qr(holder_name: str) -> None:
    assert len(holder_name) == 300
    ticket = make_ticket(holder_name=holder_name)
    page = pdfium.PdfDocument(render_tickets_pdf([ticket]))[0]

    result = decode_qr(page)
    assert result.text == ticket.barcode
    assert_no_text_over(page, qr_box_points(page, result))
    width = page.get_width()
    textpage = page.get_textpage()
    for index in range(textpage.count_chars()):
        c_left, _, c_right, _ = textpage.get_charbox(index)
        assert 0 <= c_left and c_right <= width, "text runs off the page"
    # Nothing is cut off: the whole name is printed (wrapping may add line breaks mid-word).
    assert holder_name.replace(" ", "") in page_text(page).replace(" ", "")


def test_200_character_event_name_is_printed_in_full() -> None:
    event_name = " ".join(["Internationale", "Muziekfestival", "WEEKEND"] * 10)[:200]
    page = pdfium.PdfDocument(render_tickets_pdf([make_ticket(event_name=event_name)]))[0]

    assert event_name in page_text(page)
    assert decode_qr(page).text == make_ticket().barcode


def test_long_values_everywhere_keep_the_qr_scannable() -> None:
    long = "Grand International Festival of Music and Dance " * 6
    ticket = make_ticket(event_name=long, venue=long, ticket_type=long, holder_name=long,
                         order_number="ORD-" + "9" * 120, event_date=long)
    page = pdfium.PdfDocument(render_tickets_pdf([ticket]))[0]

    result = decode_qr(page)
    assert result.text == ticket.barcode
    assert_no_text_over(page, qr_box_points(page, result))


@pytest.mark.parametrize("holder_name", ["Олена Ковальчук", "Ἀθηνᾶ Παπαδοπούλου", "Zoë Ñúñez"])
def test_non_latin_names_extract_exactly(holder_name: str) -> None:
    """Helvetica cannot encode these; correct extraction shows the embedded TrueType font is used."""
    page = pdfium.PdfDocument(render_tickets_pdf([make_ticket(holder_name=holder_name)]))[0]

    assert holder_name in page_text(page)


def test_labels_can_be_translated_partially() -> None:
    ticket = make_ticket(position=3, count=4)
    pdf_bytes = render_tickets_pdf(
        [ticket], labels={"holder": "Naam", "venue": "Locatie", "ticket_of": "Ticket {position} van {count}"}
    )
    text = page_text(pdfium.PdfDocument(pdf_bytes)[0])

    assert "Naam" in text
    assert "Locatie" in text
    assert "Ticket 3 van 4" in text
    assert "Ticket type" in text  # untranslated keys keep the English default


def test_metadata_has_title_and_no_personal_data(two_tickets: list[PrintableTicket]) -> None:
    meta = pdfium.PdfDocument(render_tickets_pdf(two_tickets)).get_metadata_dict()

    assert meta["Title"] == "Tickets ORD-2027-000123"
    for value in meta.values():
        assert "Łukasz" not in value and "Zoë" not in value


def test_output_is_deterministic(two_tickets: list[PrintableTicket]) -> None:
    assert render_tickets_pdf(two_tickets) == render_tickets_pdf(two_tickets)


def test_frozen_ticket_and_empty_list_rejected() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        make_ticket().holder_name = "someone else"  # type: ignore[misc]
    with pytest.raises(ValueError):
        render_tickets_pdf([])
