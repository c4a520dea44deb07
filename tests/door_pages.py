"""Using the check-in page as door staff do, and the tickets they scan."""

from __future__ import annotations

import re
from dataclasses import dataclass

from portal.extensions import db
from portal.models import Order
from portal.services import orders, personalisation
from portal.services.barcodes import signed_barcode
from portal.services.personalisation import HolderDetails
from tests.pages import csrf_token, text

NOOR = HolderDetails("Noor", "Bakker", "noor@example.org", "+31623456789")
GRACE = HolderDetails("Grace", "Hopper", "grace@example.com", "+12125550123")


def door_path(shop_id: int) -> str:
    return f"/backoffice/door/{shop_id}"


@dataclass(frozen=True)
class Answer:
    """What the door page says: status code, verdict, name, ticket type, reason; and the whole page."""

    status: int
    verdict: str | None
    name: str | None
    ticket_type: str | None
    reason: str | None
    html: str

    @property
    def can_admit(self) -> bool:
        return 'class="button door-admit"' in self.html


def _part(html: str, css_class: str) -> str | None:
    match = re.search(rf'<(?:p|h2) class="{css_class}"[^>]*>(.*?)</(?:p|h2)>', html, flags=re.S)
    return text(match.group(1)) if match else None


def read_answer(response) -> Answer:
    html = response.get_data(as_text=True)
    verdict = _part(html, "door-verdict")
    return Answer(
        status=response.status_code,
        verdict=verdict.lstrip("✓✗ ") if verdict else None,
        name=_part(html, "door-name"),
        ticket_type=_part(html, "door-type"),
        reason=_part(html, "door-reason"),
        html=html,
    )


def scan(client, shop_id: int, code: str) -> Answer:
    """Open the door page and send what the camera read (or what was typed)."""
    page = client.get(door_path(shop_id))
    assert page.status_code == 200, f"door page answered {page.status_code}"
    token = csrf_token(page.get_data(as_text=True))
    return read_answer(client.post(f"{door_path(shop_id)}/check", data={"csrf_token": token, "code": code}))


def admit(client, shop_id: int, code: str) -> Answer:
    """Scan, then press Admit on the answer (which carries the code in a hidden field)."""
    answer = scan(client, shop_id, code)
    assert answer.can_admit, f"no Admit button: {answer.verdict}: {answer.reason}"
    carried = re.search(r'<input name="code" type="hidden" value="([^"]*)">', answer.html).group(1)
    token = csrf_token(answer.html)
    return read_answer(client.post(f"{door_path(shop_id)}/admit", data={"csrf_token": token, "code": carried}))


def personalise(app, order_id: int, position: int = 1, holder: HolderDetails = NOOR) -> None:
    """The booker claims the ticket for this holder (its confirmation email queued, not delivered)."""
    with app.app_context():
        order = db.session.get(Order, order_id)
        personalisation.claim(order, order.ticket_at(position), holder, language="en")
        db.session.commit()


def change_holder(app, order_id: int, position: int = 1, holder: HolderDetails = GRACE) -> None:
    """The organizer edits the ticket's holder in the backoffice (the emails it causes queued, not delivered)."""
    with app.app_context():
        orders.edit_ticket_holder(db.session.get(Order, order_id).ticket_at(position), holder, actor_label="staff@acme.example")
        db.session.commit()


def order_action(app, order_id: int, action, **options) -> None:
    """An organizer's order action (orders.cancel, orders.reopen_personalisation) as the backoffice runs it."""
    with app.app_context():
        action(db.session.get(Order, order_id), actor_label="staff@acme.example", **options)
        db.session.commit()


def codes(app, order_id: int, position: int = 1) -> tuple[str, str]:
    """The ticket's printed codes as they are now: (the QR code's signed barcode, the short code)."""
    with app.app_context():
        ticket = db.session.get(Order, order_id).ticket_at(position)
        return signed_barcode(ticket), ticket.short_code


def shop_of(app, order_id: int) -> int:
    with app.app_context():
        return db.session.get(Order, order_id).shop_id
