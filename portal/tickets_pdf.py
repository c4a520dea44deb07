"""Render printable PDF tickets: one A6 portrait page per ticket with a scannable QR code.

This module deliberately knows nothing about the ORM or Flask: callers pass already
formatted strings in :class:`PrintableTicket`, so the layout can be tested in isolation.
"""

from __future__ import annotations

import io
import logging
import threading
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import arabic_reshaper
import segno
from bidi.algorithm import get_base_level, get_display
from reportlab.lib.colors import Color, HexColor, black, white
from reportlab.lib.pagesizes import A6
from reportlab.lib.units import mm
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

# Each character is drawn in the first font of a stack that has a glyph for it. DejaVu Sans has
# Latin, Greek, Cyrillic, Hebrew and Arabic with its presentation forms; Droid Sans Fallback has
# the CJK ideographs, kana and Hangul. (DroidSansFallbackFull.ttf has no Hangul, and Debian's Noto
# CJK fonts have CFF outlines, which reportlab cannot load.) Helvetica is the last resort should
# the font files be missing: a download with Latin-1 text beats no download at all.
FONT_FILES = {
    "DejaVuSans": "DejaVuSans.ttf",
    "DejaVuSans-Bold": "DejaVuSans-Bold.ttf",
    "DroidSansFallback": "DroidSansFallback.ttf",
}
REGULAR_FONTS = ("DejaVuSans", "DroidSansFallback", "Helvetica")
# In bold text the regular faces fill in for what DejaVu Sans Bold lacks, drawn emboldened.
BOLD_FONTS = ("DejaVuSans-Bold", "DejaVuSans", "DroidSansFallback", "Helvetica-Bold")
EMBOLDENED = {"DejaVuSans", "DroidSansFallback"}
EMBOLDEN_STROKE = 0.035  # outline stroke of an emboldened glyph, in ems

# Arabic letters take their joined forms (the presentation forms DejaVu has). The word ligature
# for "Allah" stays spelled out: DejaVu has no glyph for it. Harakat are left out, as the reshaper
# does by default: without glyph positioning they would land beside their letter.
_ARABIC = arabic_reshaper.ArabicReshaper(configuration={"ARABIC LIGATURE ALLAH": False})
_JOINERS = "\u200c\u200d"  # zero-width non-joiner and joiner
_RIGHT_TO_LEFT = frozenset({"R", "AL", "AN"})  # the bidi classes of Hebrew, Arabic and Arabic digits


def _has_right_to_left(text: str) -> bool:
    """Whether text needs joining and reordering at all (most does not: skip the cost)."""
    return not _RIGHT_TO_LEFT.isdisjoint(map(unicodedata.bidirectional, text))


def _has_glyph(font_name: str, char: str) -> bool:
    font = pdfmetrics.getFont(font_name)
    if isinstance(font, TTFont):
        return ord(char) in font.face.charToGlyph
    try:  # reportlab's built-in fonts are WinAnsi-encoded
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


class _FontStack:
    """Fonts tried in order for each character: the first with a glyph for it draws it.

    Text passes through :meth:`printable` first, which leaves out what no font can draw (an
    emoji, a control character), so no character is ever drawn as an empty box.
    """

    def __init__(self, fonts: Sequence[str], *, emboldened: Collection[str] = ()) -> None:
        self.fonts = tuple(fonts)
        self.emboldened = frozenset(emboldened)
        self._font_for: dict[str, str | None] = {}
        self._printed_as: dict[str, str] = {}
        self._advance: dict[str, float] = {}

    def font_for(self, char: str) -> str | None:
        """The font that draws char, or None when none of them can."""
        try:
            return self._font_for[char]
        except KeyError:
            font = None
            # Not drawn: control, format, private-use and unassigned characters, and those beyond
            # U+FFFF, which reportlab's text layer cannot map back (the fonts have only emoji there).
            if ord(char) <= 0xFFFF and not unicodedata.category(char).startswith("C"):
                font = next((f for f in self.fonts if _has_glyph(f, char)), None)
            self._font_for[char] = font
            return font

    def _printed(self, char: str) -> str:
        """What stands for char on the ticket: itself, its compatibility equivalent, or nothing."""
        try:
            return self._printed_as[char]
        except KeyError:
            printed = char
            if self.font_for(char) is None:
                # E.g. an Arabic presentation form no font has becomes its plain letter.
                printed = unicodedata.normalize("NFKC", char)
                if printed == char or not all(self.font_for(c) for c in printed):
                    log.info("No ticket font has U+%04X; it is left out", ord(char))
                    printed = ""
            self._printed_as[char] = printed
            return printed

    def printable(self, text: str) -> str:
        """text in logical order as it will be printed: spaces collapsed, Arabic joined, every
        character one that a font here can draw."""
        text = unicodedata.normalize("NFC", " ".join(text.split()))
        # Joiners steer how Arabic letters join; like every format character they are not drawn.
        text = "".join(char if char in _JOINERS else self._printed(char) for char in text)
        if _has_right_to_left(text):
            text = _ARABIC.reshape(text)
        return " ".join("".join(map(self._printed, text)).split())

    def width(self, text: str, size: float) -> float:
        """Width of text at size, each character in the font that draws it."""
        return size * sum(map(self._advance_of, text))

    def _advance_of(self, char: str) -> float:
        try:
            return self._advance[char]
        except KeyError:
            font = self.font_for(char)
            advance = self._advance[char] = pdfmetrics.stringWidth(char, font, 1) if font else 0.0
            return advance

    def runs(self, text: str) -> list[tuple[str, str]]:
        """text split into (font, characters) runs; characters no font has are left out."""
        return [(font, "".join(chars)) for font, chars in groupby(text, self.font_for) if font]


_font_lock = threading.Lock()
_font_stacks: tuple[_FontStack, _FontStack] | None = None


def _load_fonts() -> set[str]:
    """Register the TrueType fonts that load; return the names of those that did."""
    loaded = set()
    for name, file in FONT_FILES.items():
        try:
            pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / file)))
        except (OSError, TTFError):
            log.warning("Font %s not found or unreadable in %s; tickets print without it", file, FONT_DIR)
        else:
            loaded.add(name)
    return loaded


def _get_font_stacks() -> tuple[_FontStack, _FontStack]:
    """Return the (regular, bold) font stacks, registering the fonts once per process."""
    global _font_stacks
    with _font_lock:
        if _font_stacks is None:
            loaded = _load_fonts() | {"Helvetica", "Helvetica-Bold"}
            _font_stacks = (
                _FontStack([f for f in REGULAR_FONTS if f in loaded]),
                _FontStack([f for f in BOLD_FONTS if f in loaded], emboldened=EMBOLDENED),
            )
        return _font_stacks


def _split_long_word(word: str, fonts: _FontStack, size: float, width: float) -> list[str]:
    """Hard-break a word that is wider than the line (text without spaces, as in Chinese)."""
    pieces: list[str] = []
    current = ""
    current_width = 0.0
    for char in word:
        char_width = fonts.width(char, size)
        if current and current_width + char_width > width:
            pieces.append(current)
            current, current_width = "", 0.0
        current += char
        current_width += char_width
    pieces.append(current)
    return pieces


def _wrap(text: str, fonts: _FontStack, size: float, width: float) -> list[str]:
    """Word-wrap printable text to width, breaking words that cannot fit on a line of their own."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if fonts.width(candidate, size) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        *full, line = _split_long_word(word, fonts, size, width)
        lines += full
    lines.append(line)
    return lines


def _truncate(line: str, fonts: _FontStack, size: float, width: float) -> str:
    """Shorten line so that it plus an ellipsis fits in width."""
    while line and fonts.width(line + "…", size) > width:
        line = line[:-1]
    return line.rstrip() + "…"


@dataclass(frozen=True)
class _TextBlock:
    """Wrapped lines (in logical order) at the font size chosen to fit a box."""

    lines: list[str]
    fonts: _FontStack
    size: float
    # The paragraph's direction for the bidi algorithm ("R" when its first letter is Arabic or
    # Hebrew), or None when there is nothing right-to-left to reorder.
    direction: str | None

    @property
    def leading(self) -> float:
        return self.size * LEADING

    @property
    def height(self) -> float:
        return len(self.lines) * self.leading


def _fit(
    text: str, fonts: _FontStack, width: float, max_height: float, max_size: float, min_size: float
) -> _TextBlock:
    """Pick the largest font size whose wrapped text fits the box.

    Shrinking keeps long names fully legible in most cases; only text that does not fit
    even at min_size is cut off with an ellipsis, so it can never overlap the QR code.
    """
    text = fonts.printable(text)
    size = max_size
    while True:
        lines = _wrap(text, fonts, size, width)
        if len(lines) * size * LEADING <= max_height or size <= min_size:
            break
        size = max(min_size, size - 0.5)
    max_lines = max(1, int(max_height // (size * LEADING)))
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [_truncate(lines[max_lines - 1], fonts, size, width)]
    direction = ("R" if get_base_level(text) else "L") if _has_right_to_left(text) else None
    return _TextBlock(lines, fonts, size, direction)


def _draw_block(
    c: Canvas, block: _TextBlock, x: float, top: float, colour: Color, *, centred: bool = False
) -> None:
    """Draw a text block whose first line's ascender touches top.

    Each line is put in visual order (right-to-left runs reversed) and drawn run by run, each
    run in the font that has its glyphs. A combining mark of a right-to-left run comes out just
    before its letter, which is where DejaVu's Hebrew marks, drawn right of the pen, need it.
    """
    c.saveState()
    c.setFillColor(colour)
    c.setStrokeColor(colour)  # emboldened glyphs are filled and stroked
    c.setLineWidth(block.size * EMBOLDEN_STROKE)
    # One text object for the block: it knows which render mode is in force from line to line.
    text = c.beginText()
    y = top - block.size
    for line in block.lines:
        visual = get_display(line, base_dir=block.direction) if block.direction else line
        text.setTextOrigin(x - block.fonts.width(visual, block.size) / 2 if centred else x, y)
        for font, run in block.fonts.runs(visual):
            text.setFont(font, block.size)
            text.setTextRenderMode(2 if font in block.fonts.emboldened else 0)
            text.textOut(run)
        y -= block.leading
    c.drawText(text)
    c.restoreState()


def _draw_field(
    c: Canvas, label: str, value: _TextBlock, x: float, top: float, width: float, fonts: _FontStack
) -> float:
    """Draw a small grey caption above a value; return the height used."""
    caption = _fit(label, fonts, width, LABEL_SIZE * LEADING, LABEL_SIZE, LABEL_SIZE)
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
    regular, bold = _get_font_stacks()

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
        (labels["date"], _fit(ticket.event_date, regular, CONTENT_W, ONE_LINE_H, 10, 6)),
        (labels["venue"], _fit(ticket.venue, regular, CONTENT_W, VENUE_MAX_H, 10, 6)),
    ]
    if ticket.holder_name:  # a ticket without a holder carries no name, and no empty "Name" either
        full_rows.insert(0, (labels["holder"], _fit(ticket.holder_name, bold, CONTENT_W, NAME_MAX_H, 11, 6)))
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


def _draw_short_code(c: Canvas, code: str, label: str, bottom: float, regular: _FontStack, bold: _FontStack) -> float:
    """The short code centred under the QR code, with its caption before it; returns the top used."""
    caption = _fit(label, regular, CONTENT_W, LABEL_SIZE * LEADING, LABEL_SIZE, LABEL_SIZE)
    caption_w = regular.width(caption.lines[0], LABEL_SIZE)
    code_w = bold.width(code, SHORT_CODE_SIZE) + SHORT_CODE_SPACING * (len(code) - 1)
    gap = 2 * mm
    left = (PAGE_W - caption_w - gap - code_w) / 2
    _draw_block(c, caption, left, bottom + 1 + LABEL_SIZE, LABEL_COLOUR)
    text = c.beginText(left + caption_w + gap, bottom)
    text.setCharSpace(SHORT_CODE_SPACING)
    text.setFillColor(TEXT_COLOUR)
    for font, run in bold.runs(code):
        text.setFont(font, SHORT_CODE_SIZE)
        text.textOut(run)
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
