"""The check-in page on a phone in Chromium: its camera sees a ticket PDF's QR code; a code typed in; in Dutch.

The camera is Chromium's fake capture device playing a .y4m video made from the ticket
PDF the holder downloads (rendered with pypdfium2). Chromium on Linux has no
BarcodeDetector, so the page decodes the video with the jsQR it ships.
"""

from __future__ import annotations

import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from portal.extensions import db
from portal.models import Order, Role
from portal.services import downloads
from portal.services.organizers import create_backoffice_user
from tests.browser.browsing import PHONE, check_accessibility, screenshot
from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS
from tests.browser.test_dutch import assert_dutch
from tests.door_pages import codes, personalise, shop_of

PASSWORD = "door password 1234"
FRAME = (640, 480)


def camera_video(pdf: bytes, path: Path) -> Path:
    """A .y4m video of the PDF's first page as a phone camera would see it held up: the ticket's lower half, still."""
    page = pdfium.PdfDocument(pdf)[0].render(scale=4).to_pil().convert("RGB")
    [qr] = zxingcpp.read_barcodes(page)
    corners = (qr.position.top_left, qr.position.top_right, qr.position.bottom_left, qr.position.bottom_right)
    left, right = min(p.x for p in corners), max(p.x for p in corners)
    top, bottom = min(p.y for p in corners), max(p.y for p in corners)
    margin = (right - left) // 4  # the quiet zone, and the short code under it
    ticket = page.crop((left - margin, top - margin, right + margin, bottom + 2 * margin))
    ticket.thumbnail((FRAME[0] - 80, FRAME[1] - 40))
    frame = Image.new("RGB", FRAME, "white")
    frame.paste(ticket, ((FRAME[0] - ticket.width) // 2, (FRAME[1] - ticket.height) // 2))
    luma, blue, red = frame.convert("YCbCr").split()
    half = (FRAME[0] // 2, FRAME[1] // 2)
    planes = luma.tobytes() + blue.resize(half).tobytes() + red.resize(half).tobytes()
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{FRAME[0]} H{FRAME[1]} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(10):
            video.write(b"FRAME\n" + planes)
    return path


@pytest.fixture
def camera_browser(chromium_driver):
    """Factory: a Chromium whose camera plays the given .y4m file (permission granted without asking)."""
    browsers = []

    def launch(video: Path):
        browser = chromium_driver.launch(executable_path=str(CHROMIUM), headless=True, args=[
            *CHROMIUM_FLAGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ])
        browsers.append(browser)
        return browser

    yield launch
    for browser in browsers:
        browser.close()


def door_user(app, organizer: str = "Acme Events", name: str = "Gate 2") -> str:
    email = f"{name.lower().replace(' ', '')}@door.example"
    with app.app_context():
        create_backoffice_user(organizer_name=organizer, email=email, password=PASSWORD, role=Role.DOOR, name=name)
        db.session.commit()
    return email


def log_in(page, email: str) -> None:
    page.goto("/backoffice/login")
    page.get_by_label(re.compile("^E-?mail$")).fill(email)
    page.get_by_label(re.compile("Password|Wachtwoord")).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Log in|Inloggen")).tap()


def test_the_phones_camera_scans_a_ticket_pdfs_qr_code_and_the_door_admits_it(
    app, make_order, new_context, camera_browser, tmp_path
):
    order_id = make_order(tickets=2)
    personalise(app, order_id)
    with app.app_context():
        pdf = downloads.tickets_pdf([db.session.get(Order, order_id).ticket_at(1)], language="en")
    video = camera_video(pdf, tmp_path / "ticket.y4m")
    email = door_user(app)
    phone = new_context(PHONE, in_browser=camera_browser(video), permissions=["camera"]).new_page()

    log_in(phone, email)
    # The organizer's one event opens at once; the camera starts, finds the QR code and sends it.
    answer = phone.locator("#door-answer")
    expect(answer.get_by_role("heading", level=2)).to_have_text(re.compile("Valid ticket"))
    expect(answer.locator(".door-name")).to_have_text("Noor Bakker")
    expect(answer.locator(".door-type")).to_have_text("Day ticket")
    expect(phone).to_have_url(re.compile(r"/backoffice/door/\d+/check$"))
    check_accessibility(phone, "a valid ticket at the door")
    screenshot(phone, "phone-door-valid")

    phone.get_by_role("button", name="Admit").tap()
    expect(answer.get_by_role("heading", level=2)).to_have_text(re.compile("Admitted"))
    expect(answer.locator(".door-name")).to_have_text("Noor Bakker")
    # Ready for the next ticket: the camera runs again, and does not send the ticket just admitted once more.
    expect(phone.locator("[data-door-status]")).to_have_text("Point the camera at the QR code.")
    expect(phone.locator("video")).to_be_visible()
    phone.wait_for_timeout(5000)
    expect(answer.get_by_role("heading", level=2)).to_have_text(re.compile("Admitted"))
    check_accessibility(phone, "the door after admitting, scanning again")
    with app.app_context():
        ticket = db.session.get(Order, order_id).ticket_at(1)
        assert ticket.admitted_at is not None and ticket.admitted_by.name == "Gate 2"

    # Another phone at another entrance sees the same ticket: already admitted, when and by whom.
    other = new_context(PHONE, in_browser=camera_browser(video), permissions=["camera"]).new_page()
    log_in(other, door_user(app, name="Gate 5"))
    refused = other.locator("#door-answer")
    expect(refused.get_by_role("heading", level=2)).to_have_text(re.compile("Already admitted"))
    expect(refused.locator(".door-reason")).to_have_text(re.compile(r"^\s*Admitted at \d\d:\d\d by Gate 2\.\s*$"))
    expect(other.get_by_role("button", name="Admit")).to_have_count(0)
    check_accessibility(other, "an already admitted ticket at the door")
    screenshot(other, "phone-door-refused")


def test_a_short_code_typed_in_on_a_phone_without_a_camera(app, make_shop, make_order, new_context):
    shop_id = make_shop(event_name="Harbour Jazz Nights")
    make_shop(event_name="Winter Jazz Gala")
    order_id = make_order(tickets=1, shop_id=shop_id)
    personalise(app, order_id)
    _, short_code = codes(app, order_id)
    phone = new_context(PHONE).new_page()

    log_in(phone, door_user(app))
    expect(phone.get_by_role("heading", level=1)).to_have_text("Door: choose the event")
    check_accessibility(phone, "the door's events")
    phone.get_by_role("link", name=re.compile("Harbour Jazz Nights")).tap()
    # Headless Chromium has no camera: the page says so, and the code can be typed.
    expect(phone.locator("[data-door-status]")).to_have_text(
        "The camera is not available (no permission, or no camera). Type the code instead.")
    expect(phone.get_by_role("button", name="Scan with the camera")).to_be_visible()
    check_accessibility(phone, "the door page without a camera")

    phone.get_by_role("button", name="Check").tap()
    expect(phone.locator("#code-error")).to_have_text("Scan the QR code, or type the code printed under it.")
    check_accessibility(phone, "the door page with an empty code")
    phone.get_by_label("Code on the ticket").fill(short_code[:4].lower() + " " + short_code[4:8] + "-" + short_code[8:])
    phone.get_by_role("button", name="Check").tap()
    answer = phone.locator("#door-answer")
    expect(answer.locator(".door-name")).to_have_text("Noor Bakker")
    phone.get_by_role("button", name="Admit").tap()
    expect(answer.get_by_role("heading", level=2)).to_have_text(re.compile("Admitted"))

    phone.get_by_label("Code on the ticket").fill("KPUT-JPET-AVM9")
    phone.get_by_role("button", name="Check").tap()
    expect(answer.get_by_role("heading", level=2)).to_have_text(re.compile("Unknown code"))
    check_accessibility(phone, "an unknown code at the door")
    with app.app_context():
        assert db.session.get(Order, order_id).ticket_at(1).admitted_at is not None
    assert shop_of(app, order_id) == shop_id


def test_the_door_in_dutch(app, make_order, new_context):
    order_id = make_order(tickets=1)
    personalise(app, order_id)
    _, short_code = codes(app, order_id)
    phone = new_context(PHONE, locale="nl-NL").new_page()

    log_in(phone, door_user(app))
    assert_dutch(phone, "the door page")
    phone.get_by_label("Code op het ticket").fill(short_code)
    phone.get_by_role("button", name="Controleren").tap()
    answer = phone.locator("#door-answer")
    expect(answer.get_by_role("heading", level=2)).to_have_text(re.compile("Geldig ticket"))
    assert_dutch(phone, "a valid ticket at the door")
    check_accessibility(phone, "a valid ticket at the door, in Dutch")
    screenshot(phone, "phone-door-valid-nl")
    phone.get_by_role("button", name="Binnenlaten").tap()
    expect(answer.get_by_role("heading", level=2)).to_have_text(re.compile("Binnengelaten"))
    assert_dutch(phone, "the door after admitting")
    phone.get_by_label("Code op het ticket").fill(short_code)
    phone.get_by_role("button", name="Controleren").tap()
    expect(answer.get_by_role("heading", level=2)).to_have_text(re.compile("Al binnengelaten"))
    assert_dutch(phone, "an already admitted ticket")
