"""The check-in page: door staff (and organizers) scan a ticket or type its code, check the ID, admit.

Door users see these pages only (auth.DOOR_ENDPOINTS): a ticket's printed name and
type, never an order, an email address or a phone number.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import redirect, render_template, url_for

from portal.backoffice import bp
from portal.backoffice.auth import current_user
from portal.backoffice.forms import DoorCodeForm
from portal.backoffice.views import _organizer_shops, _shop_or_404
from portal.extensions import db
from portal.formatting import event_datetime
from portal.models import Shop
from portal.services import door
from portal.services.door import DoorAnswer, Verdict


@bp.get("/door", endpoint="door")
def choose_event():
    """The organizer's events, the next one first; with one event, straight to its page."""
    now = datetime.now(UTC)
    shops = sorted(_organizer_shops(), key=lambda shop: (shop.event_ends_at < now, abs(shop.event_starts_at - now)))
    if len(shops) == 1:
        return redirect(url_for(".door_shop", shop_id=shops[0].id))
    return render_template("backoffice/door_events.html", shops=shops)


@bp.get("/door/<int:shop_id>", endpoint="door_shop")
def scan(shop_id: int):
    return _door_page(_shop_or_404(shop_id), DoorCodeForm(formdata=None))


@bp.post("/door/<int:shop_id>/check", endpoint="door_check")
def check(shop_id: int):
    """What the scanned or typed code says. Changes nothing (a POST: the code stays out of URLs and logs)."""
    shop = _shop_or_404(shop_id)
    form = DoorCodeForm()
    if not form.validate():
        return _door_page(shop, form), 422
    # The field starts empty again, for the next ticket.
    return _door_page(shop, DoorCodeForm(formdata=None), door.check(shop, form.code.data), code=form.code.data)


@bp.post("/door/<int:shop_id>/admit", endpoint="door_admit")
def admit(shop_id: int):
    shop = _shop_or_404(shop_id)
    form = DoorCodeForm()
    if not form.validate():
        return _door_page(shop, form), 422
    answer = door.admit(shop, form.code.data, user=current_user())
    db.session.commit()
    return _door_page(shop, DoorCodeForm(formdata=None), answer, code=form.code.data)


def _door_page(shop: Shop, form: DoorCodeForm, answer: DoorAnswer | None = None, *, code: str | None = None) -> str:
    return render_template(
        "backoffice/door.html",
        shop=shop,
        form=form,
        answer=answer,
        code=code if code is not None else form.code.data,
        admitted_time=_admitted_time(answer, shop),
        Verdict=Verdict,
    )


def _admitted_time(answer: DoorAnswer | None, shop: Shop) -> str | None:
    """When the ticket was admitted, in the event's time zone: 20:14, or with the day when it was not today."""
    if answer is None or answer.admitted_at is None:
        return None
    today = event_datetime(datetime.now(UTC), shop, "yyyy-MM-dd")
    same_day = event_datetime(answer.admitted_at, shop, "yyyy-MM-dd") == today
    return event_datetime(answer.admitted_at, shop, "HH:mm" if same_day else "d MMMM, HH:mm")
