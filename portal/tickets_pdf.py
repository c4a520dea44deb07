"""Render printable PDF tickets: one A6 portrait page per ticket with a scannable QR code.

This module deliberately knows nothing about the ORM or Flask: callers pass already
formatted strings in :class:`PrintableTicket`, so the layout can be tested in isolation.
"""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import segno
from reportlab.lib.colors import Color, HexColor, black, white
from reportlab.lib.pagesizes import A6
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrintableTicket:
    """What is printed on one ticket page (already formatted strings; no ORM objects here)."""

    event_name: str
    event_date: str  # already formatted, e.g. "Sat 12 Jun 2027, 20:00 (Europe/Amsterdam)"
    venue: str
    ticket_type: str
    order_number: str
    holder_name: str
    barcode: str  # what the QR code encodes: the signed barcode (portal.barcodes)
    position: int  # 1-based ticket number in the order
    count: int  # tickets in the order
    short_code: str = ""  # printed under the QR code for typing in at the door, e.g. "K7MX-3HPA-9PRT"


DEFAULT_LABELS: dict[str, str] = {
    "event": "Event",
    "date": "Date",
    "venue": "Venue",
    "ticket_type": "Ticket type",
    "order": "Order",
    "holder": "Name",
    "ticket_of": "Ticket {position} of {count}",
    "footer": "Show this QR code at the entrance. Valid for one admission.",
    "short_code": "Code",
}

FONT_DIR = Path(__file__).resolve().parent.parent / "static" / "fonts"

# Page geometry (points). Every text block has a fixed maximum height, chosen so that even
# absurdly long values in every field still leave room for a QR code of at least 50 mm.
PAGE_W, PAGE_H = A6
MARGIN = 7 * mm
BOTTOM_MARGIN = 6 * mm
CONTENT_W = PAGE_W - 2 * MARGIN
COLUMN_GAP = 5 * mm
LEADING = 1.2
HEADER_PAD = 4 * mm
EVENT_MAX_H = 5 * 7 * LEADING  # five lines at the minimum size: 200+ characters
NAME_MAX_H = 6 * 6 * LEADING  # six lines at the minimum size: 300+ characters even in capitals
VENUE_MAX_H = 2 * 9 * LEADING
ONE_LINE_H = 10 * LEADING
LABEL_SIZE = 6.5
LABEL_GAP = 2.0
ROW_GAP = 7.0
QR_MAX = 58 * mm  # including the quiet zone
QR_BORDER = 4  # quiet zone in modules, as the QR spec requires
FOOTER_SIZE = 7.0
FOOTER_MAX_H = 2 * FOOTER_SIZE * LEADING
SHORT_CODE_SIZE = 13.0
#: Between the short code's letters: easier to read out and type.
SHORT_CODE_SPACING = 1.5

ACCENT = HexColor("#1F2A44")
ACCENT_TEXT = white
HEADER_CAPTION_COLOUR = HexColor("#AEB6C8")
LABEL_COLOUR = HexColor("#6B7280")
TEXT_COLOUR = HexColor("#111827")
RULE_COLOUR = HexColor("#D1D5DB")

_font_lock = threading.Lock()
_fonts: tuple[str, str] | None = None


def _get_fonts() -> tuple[str, str]:
    """Return (regular, bold) font names, registering DejaVu once per process.

    The built-in PDF fonts only cover Latin-1, so holder names such as "Олена" need an
    embedded TrueType font. If the font files are missing we degrade to Helvetica instead
    of failing the whole download.
    """
    global _fonts
    with _font_lock:
        if _fonts is None:
            try:
                pdfmetrics.registerFont(TTFont("DejaVuSans", str(FONT_DIR / "DejaVuSans.ttf")))
                pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(FONT_DIR / "DejaVuSans-Bold.ttf")))
                _fonts = ("DejaVuSans", "DejaVuSans-Bold")
            except (OSError, TTFError):
                log.warning("DejaVu fonts not found in %s; falling back to Helvetica", FONT_DIR)
                _fonts = ("Helvetica", "Helvetica-Bold")
        return _fonts


def _split_long_word(word: str, font: str, size: float, width: float) -> list[str]:
    """Hard-break a single word that is wider than the line (simpleSplit leaves those as is)."""
    pieces: list[str] = []
    current = ""
    for char in word:
        if current and pdfmetrics.stringWidth(current + char, font, size) > width:
            pieces.append(current)
            current = char
        else:
            current += char
    pieces.append(current)
    return pieces


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Word-wrap text to width, breaking words that cannot fit on a line of their own."""
    lines: list[str] = []
    for line in simpleSplit(" ".join(text.split()), font, size, width):
        if pdfmetrics.stringWidth(line, font, size) > width:
            lines.extend(_split_long_word(line, font, size, width))
        else:
            lines.append(line)
    return lines or [""]


def _truncate(line: str, font: str, size: float, width: float) -> str:
    """Shorten line so that it plus an ellipsis fits in width."""
    while line and pdfmetrics.stringWidth(line + "…", font, size) > width:
        line = line[:-1]
    return line.rstrip() + "…"


@dataclass(frozen=True)
class _TextBlock:
    """Wrapped lines at the font size chosen to fit a box."""

    lines: list[str]
    font: str
    size: float

    @property
    def leading(self) -> float:
        return self.size * LEADING

    @property
    def height(self) -> float:
        return len(self.lines) * self.leading


def _fit(
    text: str, font: str, width: float, max_height: float, max_size: float, min_size: float
) -> _TextBlock:
    """Pick the largest font size whose wrapped text fits the box.

    Shrinking keeps long names fully legible in most cases; only text that does not fit
    even at min_size is cut off with an ellipsis, so it can never overlap the QR code.
    """
    size = max_size
    while True:
        lines = _wrap(text, font, size, width)
        if len(lines) * size * LEADING <= max_height or size <= min_size:
            break
        size = max(min_size, size - 0.5)
    max_lines = max(1, int(max_height // (size * LEADING)))
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [_truncate(lines[max_lines - 1], font, size, width)]
    return _TextBlock(lines, font, size)


def _draw_block(
    c: Canvas, block: _TextBlock, x: float, top: float, colour: Color, *, centred: bool = False
) -> None:
    """Draw a text block whose first line's ascender touches top."""
    c.setFont(block.font, block.size)
    c.setFillColor(colour)
    y = top - block.size
    for line in block.lines:
        if centred:
            c.drawCentredString(x, y, line)
        else:
            c.drawString(x, y, line)
        y -= block.leading


def _draw_field(
    c: Canvas, label: str, value: _TextBlock, x: float, top: float, width: float, font: str
) -> float:
    """Draw a small grey caption above a value; return the height used."""
    caption = _fit(label, font, width, LABEL_SIZE * LEADING, LABEL_SIZE, LABEL_SIZE)
    _draw_block(c, caption, x, top, LABEL_COLOUR)
    _draw_block(c, value, x, top - LABEL_SIZE - LABEL_GAP, TEXT_COLOUR)
    return LABEL_SIZE + LABEL_GAP + value.height


def _draw_qr(c: Canvas, data: str, x: float, y: float, size: float) -> None:
    """Draw the QR code as vector rectangles so it stays sharp at any print resolution.

    Horizontal runs of dark modules are merged into one rectangle and everything goes into
    a single filled path, which avoids hairline seams between modules when rasterised.
    """
    qr = segno.make(data, error="m", micro=False, boost_error=False)
    matrix = [list(row) for row in qr.matrix_iter(scale=1, border=QR_BORDER)]
    module = size / len(matrix)
    c.setFillColor(white)
    c.rect(x, y, size, size, stroke=0, fill=1)
    path = c.beginPath()
    for row_index, row in enumerate(matrix):
        row_y = y + size - (row_index + 1) * module
        col = 0
        while col < len(row):
            if not row[col]:
                col += 1
                continue
            start = col
            while col < len(row) and row[col]:
                col += 1
            path.rect(x + start * module, row_y, (col - start) * module, module)
    c.setFillColor(black)
    c.drawPath(path, stroke=0, fill=1)


def _draw_ticket(c: Canvas, ticket: PrintableTicket, labels: dict[str, str]) -> None:
    """Lay out one ticket page top-down: header band, field grid, QR code, footer."""
    regular, bold = _get_fonts()

    # Header band with the event name.
    caption = _fit(labels["event"], regular, CONTENT_W, LABEL_SIZE * LEADING, LABEL_SIZE, LABEL_SIZE)
    event = _fit(ticket.event_name, bold, CONTENT_W, EVENT_MAX_H, 18, 7)
    header_h = HEADER_PAD + caption.height + LABEL_GAP + event.height + HEADER_PAD
    c.setFillColor(ACCENT)
    c.rect(0, PAGE_H - header_h, PAGE_W, header_h, stroke=0, fill=1)
    _draw_block(c, caption, MARGIN, PAGE_H - HEADER_PAD, HEADER_CAPTION_COLOUR)
    _draw_block(c, event, MARGIN, PAGE_H - HEADER_PAD - caption.height - LABEL_GAP, ACCENT_TEXT)

    # Field grid: full-width rows for the long values, two columns for the short ones.
    top = PAGE_H - header_h - 4 * mm
    full_rows = [
        (labels["holder"], _fit(ticket.holder_name, bold, CONTENT_W, NAME_MAX_H, 11, 6)),
        (labels["date"], _fit(ticket.event_date, regular, CONTENT_W, ONE_LINE_H, 10, 6)),
        (labels["venue"], _fit(ticket.venue, regular, CONTENT_W, VENUE_MAX_H, 10, 6)),
    ]
    c.setStrokeColor(RULE_COLOUR)
    c.setLineWidth(0.5)
    for label, value in full_rows:
        top -= _draw_field(c, label, value, MARGIN, top, CONTENT_W, regular) + ROW_GAP / 2
        c.line(MARGIN, top, PAGE_W - MARGIN, top)
        top -= ROW_GAP / 2
    half_w = (CONTENT_W - COLUMN_GAP) / 2
    type_value = _fit(ticket.ticket_type, regular, half_w, ONE_LINE_H, 10, 6)
    order_value = _fit(ticket.order_number, regular, half_w, ONE_LINE_H, 10, 6)
    used = max(
        _draw_field(c, labels["ticket_type"], type_value, MARGIN, top, half_w, regular),
        _draw_field(c, labels["order"], order_value, MARGIN + half_w + COLUMN_GAP, top, half_w, regular),
    )
    fields_bottom = top - used

    # Footer: instruction and ticket position, small and centred near the bottom edge.
    footer = _fit(labels["footer"], regular, CONTENT_W, FOOTER_MAX_H, FOOTER_SIZE, 5.5)
    position = labels["ticket_of"].format(position=ticket.position, count=ticket.count)
    stub = _fit(
        f"{position} · {labels['order']} {ticket.order_number}",
        bold, CONTENT_W, 2 * 5 * LEADING, FOOTER_SIZE, 5,
    )
    stub_top = BOTTOM_MARGIN + stub.height
    footer_top = stub_top + 2 + footer.height
    _draw_block(c, footer, PAGE_W / 2, footer_top, LABEL_COLOUR, centred=True)
    _draw_block(c, stub, PAGE_W / 2, stub_top, TEXT_COLOUR, centred=True)
    qr_bottom = footer_top
    if ticket.short_code:
        qr_bottom = _draw_short_code(c, ticket.short_code, labels["short_code"], footer_top + 3, regular, bold)

    # QR code centred in whatever space is left; its quiet zone provides the padding.
    space = fields_bottom - qr_bottom
    qr_size = min(QR_MAX, space)
    _draw_qr(c, ticket.barcode, (PAGE_W - qr_size) / 2, qr_bottom + (space - qr_size) / 2, qr_size)


def _draw_short_code(c: Canvas, code: str, label: str, bottom: float, regular: str, bold: str) -> float:
    """The short code centred under the QR code, with its caption before it; returns the top used."""
    caption = _fit(label, regular, CONTENT_W, LABEL_SIZE * LEADING, LABEL_SIZE, LABEL_SIZE)
    caption_w = pdfmetrics.stringWidth(caption.lines[0], regular, LABEL_SIZE)
    code_w = pdfmetrics.stringWidth(code, bold, SHORT_CODE_SIZE) + SHORT_CODE_SPACING * (len(code) - 1)
    gap = 2 * mm
    left = (PAGE_W - caption_w - gap - code_w) / 2
    c.setFillColor(LABEL_COLOUR)
    c.setFont(regular, LABEL_SIZE)
    c.drawString(left, bottom + 1, caption.lines[0])
    text = c.beginText(left + caption_w + gap, bottom)
    text.setFont(bold, SHORT_CODE_SIZE)
    text.setCharSpace(SHORT_CODE_SPACING)
    text.setFillColor(TEXT_COLOUR)
    text.textOut(code)
    c.drawText(text)
    return bottom + SHORT_CODE_SIZE


def render_tickets_pdf(tickets: list[PrintableTicket], *, labels: dict[str, str] | None = None) -> bytes:
    """One A6 portrait page per ticket.

    labels may override any subset of DEFAULT_LABELS (for translations).
    """
    if not tickets:
        raise ValueError("render_tickets_pdf() needs at least one ticket")
    merged = {**DEFAULT_LABELS, **(labels or {})}
    buffer = io.BytesIO()
    # invariant=1 pins the creation date and document ID so identical input gives identical bytes.
    c = Canvas(buffer, pagesize=A6, invariant=1, pageCompression=1)
    order_numbers = ", ".join(dict.fromkeys(t.order_number for t in tickets))
    c.setTitle(f"Tickets {order_numbers}")
    c.setAuthor("")
    c.setSubject(", ".join(dict.fromkeys(t.event_name for t in tickets)))
    for ticket in tickets:
        _draw_ticket(c, ticket, merged)
        c.showPage()
    c.save()
    return buffer.getvalue()
