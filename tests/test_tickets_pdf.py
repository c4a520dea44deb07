"""Tests for the PDF ticket renderer: real rendering, text extraction and QR decoding, no Flask app."""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import unicodedata

import arabic_reshaper
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import segno
import zxingcpp
from bidi.algorithm import get_display
from hypothesis import given, settings, strategies as st
from PIL.Image import Image
from reportlab.pdfbase.ttfonts import TTFont

from portal.tickets_pdf import FONT_DIR, FONT_FILES, PrintableTicket, render_tickets_pdf

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


@dataclasses.dataclass(frozen=True)
class DrawnChar:
    char: str  # as pdfium reads it: an Arabic joined form comes back as its plain letter
    font: pdfium.PdfFont  # the embedded (subset) font it is drawn in
    x: float  # its origin on the page, in points
    y: float


def drawn_chars(page: pdfium.PdfPage) -> list[DrawnChar]:
    """Every character drawn on the page (not the line breaks pdfium adds), in pdfium's reading order."""
    textpage = page.get_textpage()
    chars = []
    for index in range(textpage.count_chars()):
        if pdfium_c.FPDFText_IsGenerated(textpage.raw, index):
            continue
        x, y = ctypes.c_double(), ctypes.c_double()
        pdfium_c.FPDFText_GetCharOrigin(textpage.raw, index, ctypes.byref(x), ctypes.byref(y))
        # pdfium reads a hyphen that ends a line as a soft hyphen, which it reports as U+0002.
        hyphen = pdfium_c.FPDFText_IsHyphen(textpage.raw, index)
        char = "-" if hyphen else chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, index))
        chars.append(DrawnChar(char, textpage.get_textobj(index).get_font(), x.value, y.value))
    return chars


def visual_lines(page: pdfium.PdfPage) -> list[list[DrawnChar]]:
    """The characters on each baseline from left to right: the order the eye sees them in."""
    lines: dict[float, list[DrawnChar]] = {}
    for drawn in drawn_chars(page):
        lines.setdefault(round(drawn.y, 1), []).append(drawn)
    return [sorted(line, key=lambda drawn: drawn.x) for line in lines.values()]


@functools.cache
def font_glyphs() -> dict[str, dict[int, int]]:
    """Each shipped font's character-to-glyph map, by the PostScript name the PDF calls it."""
    faces = (TTFont(name, str(FONT_DIR / file)).face for name, file in FONT_FILES.items())
    return {face.name.decode(): face.charToGlyph for face in faces}


def assert_every_character_has_a_glyph(page: pdfium.PdfPage) -> None:
    """No missing-glyph boxes: each character is drawn in a font that has a glyph for it.

    A font without the glyph draws its .notdef box (which reportlab's text layer calls U+0000),
    so every character read back is looked up in the font file it is drawn in.
    """
    for drawn in drawn_chars(page):
        glyphs = font_glyphs()[drawn.font.get_base_name()]
        assert glyphs.get(ord(drawn.char), 0) != 0, (
            f"{drawn.char!r} (U+{ord(drawn.char):04X}) is drawn in {drawn.font.get_base_name()}, which has no glyph for it"
        )


def embeds_glyph(font: pdfium.PdfFont, char: str) -> bool:
    """Whether the embedded subset font has a glyph that the PDF maps to char."""
    return bool(pdfium_c.FPDFFont_GetGlyphPath(font.raw, ord(char), 10))


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
        "山田太郎" * 25 + " " + " ".join(["Łukasz 李 Олена Ἀθηνᾶ 김민준"] * 10)[:199],  # mixed scripts
    ],
    ids=["words", "one-word", "mixed-scripts"],
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


# Every text on the ticket, in each script: names, and what the organizer typed for the event.
SCRIPTS: dict[str, dict[str, str]] = {
    "latin": dict(holder_name="Zoë Ñúñez-Łukasiewicz", event_name="Été indien à Kraków",
                  venue="Sala Koncertowa, Kraków", ticket_type="Parter, miejsca stojące", order_number="ZAM-1"),
    "greek": dict(holder_name="Ἀθηνᾶ Παπαδοπούλου", event_name="Συναυλία καλοκαιρινής νύχτας",
                  venue="Ηρώδειο, Αθήνα", ticket_type="Όρθιοι", order_number="ΠΑΡ-1"),
    "cyrillic": dict(holder_name="Олена Ковальчук", event_name="Концерт літньої ночі",
                     venue="Палац «Україна», Київ", ticket_type="Партер", order_number="ЗАМ-1"),
    "chinese": dict(holder_name="王秀英", event_name="夏夜音乐会", venue="国家大剧院，北京",
                    ticket_type="一等座", order_number="订单-1"),
    "japanese": dict(holder_name="山田 太郎", event_name="サマーナイト・コンサート", venue="東京ドーム",
                     ticket_type="アリーナ席", order_number="注文-1"),
    "korean": dict(holder_name="김민준", event_name="여름밤 콘서트", venue="올림픽공원, 서울",
                   ticket_type="스탠딩석", order_number="주문-1"),
    "arabic": dict(holder_name="محمد عبد الرحمن", event_name="حفل ليلة الصيف", venue="مسرح مدينة القاهرة",
                   ticket_type="قاعة رئيسية", order_number="طلب-1"),
    "hebrew": dict(holder_name="שרה כהן", event_name="קונצרט ליל קיץ", venue="היכל התרבות, תל אביב",
                   ticket_type="יציע", order_number="הזמנה-1"),
}
LEFT_TO_RIGHT = ["latin", "greek", "cyrillic", "chinese", "japanese", "korean"]
RIGHT_TO_LEFT = ["arabic", "hebrew"]


def script_page(script: str) -> pdfium.PdfPage:
    return pdfium.PdfDocument(render_tickets_pdf([make_ticket(**SCRIPTS[script])]))[0]


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_is_drawn_with_real_glyphs_and_the_qr_still_scans(script: str) -> None:
    page = script_page(script)

    assert_every_character_has_a_glyph(page)
    result = decode_qr(page)
    assert result.text == make_ticket().barcode
    assert_no_text_over(page, qr_box_points(page, result))


@pytest.mark.parametrize("script", LEFT_TO_RIGHT)
def test_every_field_reads_back_exactly(script: str) -> None:
    text = page_text(script_page(script))

    for value in SCRIPTS[script].values():
        assert value in text


@pytest.mark.parametrize("script", RIGHT_TO_LEFT)
def test_right_to_left_text_is_joined_and_drawn_right_to_left(script: str) -> None:
    """Arabic letters are drawn in their joined forms, and right-to-left text in visual order.

    pdfium reads a joined form back as its plain letter, so each glyph is checked in the
    embedded font: the joined form is there and the plain letter is not.
    """
    lines = [(line, "".join(unicodedata.normalize("NFKC", drawn.char) for drawn in line))
             for line in visual_lines(script_page(script))]

    for value in SCRIPTS[script].values():
        glyphs = get_display(arabic_reshaper.reshape(value))  # left to right, as they should be drawn
        seen = unicodedata.normalize("NFKC", glyphs)
        assert len(seen) == len(glyphs)  # no ligature here: one glyph, one letter
        line = next((line[text.index(seen):] for line, text in lines if seen in text), None)
        assert line is not None, f"{value!r} is not drawn right to left as {glyphs!r}"
        for drawn, glyph in zip(line, glyphs):
            if glyph == " ":
                continue  # no outline to find
            assert embeds_glyph(drawn.font, glyph)
            plain = unicodedata.normalize("NFKC", glyph)
            if plain != glyph:
                assert not embeds_glyph(drawn.font, plain), f"{plain!r} is drawn unjoined"


def test_an_emoji_is_left_out_rather_than_drawn_as_a_box() -> None:
    page = pdfium.PdfDocument(render_tickets_pdf([make_ticket(holder_name="Anna 🎉 Smith 😀")]))[0]

    assert "Name\r\nAnna Smith\r\n" in page.get_textpage().get_text_range()
    assert_every_character_has_a_glyph(page)


@settings(max_examples=40, deadline=None)
@given(value=st.text(max_size=60))
def test_any_text_in_any_field_prints_without_a_box(value: str) -> None:
    """Every code point but surrogates: control and format characters, unassigned ones, isolates."""
    ticket = make_ticket(event_name=value, venue=value, ticket_type=value, order_number=value, holder_name=value)
    page = pdfium.PdfDocument(render_tickets_pdf([ticket]))[0]

    assert_every_character_has_a_glyph(page)


def test_non_latin_names_use_the_embedded_fonts_not_helvetica() -> None:
    """Helvetica cannot encode these; correct extraction shows the embedded TrueType fonts are used."""
    page = pdfium.PdfDocument(render_tickets_pdf([make_ticket(holder_name="Олена 太郎 Zoë")]))[0]

    assert "Олена 太郎 Zoë" in page_text(page)
    assert {drawn.font.get_base_name() for drawn in drawn_chars(page)} == {
        "DejaVuSans", "DejaVuSans-Bold", "DroidSansFallback"}


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
