"""Several phones at several entrances at once, against gunicorn with several worker processes: a ticket comes in once.

Each worker has its own database connections, so only the database can keep "admitted
once" true. Run on SQLite and on PostgreSQL (CI runs the suite on both).
"""

from __future__ import annotations

import requests
from sqlalchemy import select

from portal.extensions import db
from portal.models import Order, OrderEvent, Role
from portal.services.organizers import create_backoffice_user
from tests.door_pages import codes, door_path, personalise, read_answer, shop_of
from tests.pages import csrf_token, text
from tests.test_races import opened, race

GATES = 4
PHONES = 20
PASSWORD = "door password 1234"


def door_phones(app, url: str, shop_id: int) -> list[tuple[str, requests.Session, str]]:
    """PHONES phones, spread over GATES door users (each signed in once): (gate, session, form token)."""
    phones = []
    for gate in range(1, GATES + 1):
        email = f"gate{gate}@acme-events.example"
        with app.app_context():
            create_backoffice_user(organizer_name="Acme Events", email=email, password=PASSWORD, role=Role.DOOR,
                                   name=f"Gate {gate}")
            db.session.commit()
        session, token = opened(url + "/backoffice/login")
        signed_in = session.post(url + "/backoffice/login", data={"csrf_token": token, "email": email, "password": PASSWORD},
                                 allow_redirects=False, timeout=30)
        assert signed_in.status_code == 303
        for _ in range(PHONES // GATES):
            phone = requests.Session()
            phone.cookies.update(session.cookies)
            page = phone.get(url + door_path(shop_id), timeout=30)
            assert page.status_code == 200
            phones.append((f"Gate {gate}", phone, csrf_token(page.text)))
    return phones


class _Response:
    """requests' response as read_answer reads Flask's."""

    def __init__(self, response: requests.Response) -> None:
        self.status_code = response.status_code
        self._text = response.text

    def get_data(self, as_text: bool = False) -> str:
        return self._text


def test_twenty_phones_admitting_one_ticket_at_once_admit_it_once(app, make_order, gunicorn):
    # Twenty requests in flight at once: four processes of five threads each.
    server = gunicorn(workers=4, args=["--threads", "5"])
    order_id = make_order(tickets=1)
    personalise(app, order_id)
    shop_id = shop_of(app, order_id)
    barcode, _ = codes(app, order_id)
    phones = door_phones(app, server.url, shop_id)

    def press_admit(phone):
        gate, session, token = phone
        return lambda: session.post(f"{server.url}{door_path(shop_id)}/admit", data={"csrf_token": token, "code": barcode},
                                    allow_redirects=False, timeout=120)

    answers = [read_answer(_Response(response)) for response in race(*(press_admit(phone) for phone in phones))]

    assert [answer.status for answer in answers] == [200] * PHONES  # no 5xx, no 429, nothing else
    [winner] = [number for number, answer in enumerate(answers) if answer.verdict == "Admitted"]
    winning_gate = phones[winner][0]
    others = [answer for number, answer in enumerate(answers) if number != winner]
    assert [answer.verdict for answer in others] == ["Already admitted"] * (PHONES - 1)
    assert all(answer.reason.endswith(f"by {winning_gate}.") and answer.name == "Noor Bakker" for answer in others)
    with app.app_context():
        ticket = db.session.get(Order, order_id).ticket_at(1)
        assert ticket.admitted_at is not None and ticket.admitted_by.name == winning_gate
        admitted = db.session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order_id, OrderEvent.kind == "ticket_admitted")).all()
        assert [(event.actor, event.actor_label) for event in admitted] == [("door", winning_gate)]
    assert "Admitted at" in text(others[0].html)
