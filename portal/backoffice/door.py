"""The check-in page: door staff (and organizers) scan a ticket or type its code, check the ID, admit.

Door users see these pages only (auth.DOOR_ENDPOINTS): a ticket's printed name and
type, never an order, an email address or a phone number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import redirect, render_template, url_for
from flask_babel import gettext, lazy_gettext as _l

from portal.backoffice import bp
from portal.backoffice.auth import current_user
from portal.backoffice.forms import DoorCodeForm
from portal.backoffice.views import _organizer_shops, _shop_or_404
from portal.extensions import db
from portal.formatting import event_datetime
from portal.models import Shop
from portal.services import door
from portal.services.door import DoorAnswer, Verdict


#: The answer's headline, in large type.
VERDICTS = {
    Verdict.VALID: _l("Valid ticket"),
    Verdict.ADMITTED: _l("Admitted"),
    Verdict.ALREADY_ADMITTED: _l("Already admitted"),
    Verdict.CANCELLED: _l("Cancelled"),
    Verdict.REPLACED: _l("Replaced by a newer barcode"),
    Verdict.OTHER_EVENT: _l("Another event"),
    Verdict.NOT_PERSONALISED: _l("Not personalised"),
    Verdict.FORGED: _l("Not a valid barcode"),
    Verdict.UNKNOWN: _l("Unknown code"),
    Verdict.UNREADABLE: _l("Not a ticket code"),
}

#: What the door does about it, where that needs no particulars of the ticket.
REASONS = {
    Verdict.ADMITTED: _l("Welcome! The next ticket, please."),
    Verdict.CANCELLED: _l("The order of this ticket has been cancelled: the ticket is not valid."),
    Verdict.REPLACED: _l(
        "The ticket's holder has changed (or its barcode was renewed) since this one was issued. "
        "Ask for the current ticket."
    ),
    Verdict.OTHER_EVENT: _l("This ticket is not for this event."),
    Verdict.NOT_PERSONALISED: _l(
        "This event requires the holder's details, and this ticket has none yet. "
        "The booker can fill them in from the order email."
    ),
    Verdict.FORGED: _l("This barcode was not issued for this organizer's tickets, or it is damaged."),
    Verdict.UNKNOWN: _l(
        "No ticket of this event has this code. Check it for typing errors; a ticket whose holder changed has a new code."
    ),
    Verdict.UNREADABLE: _l("Scan the QR code, or type the 12-character code printed under it."),
}


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
        verdict=VERDICTS[answer.verdict] if answer else None,
        reason=_reason(answer, shop) if answer else None,
        code=code if code is not None else form.code.data,
        Verdict=Verdict,
    )


def _reason(answer: DoorAnswer, shop: Shop) -> str:
    """The sentence under the headline."""
    if answer.verdict == Verdict.VALID:
        if shop.personalisation_required:
            return gettext("Check that the name matches the photo ID, then admit.")
        return gettext("This event's tickets carry no holder's name: no ID check needed.")
    if answer.verdict == Verdict.ALREADY_ADMITTED:
        return gettext("Admitted at %(time)s by %(user)s.", time=_admitted_time(answer, shop), user=answer.admitted_by)
    if answer.verdict == Verdict.OTHER_EVENT and answer.other_shop is not None:
        other = answer.other_shop
        return gettext(
            "This ticket is for %(event)s on %(date)s.", event=other.event_name, date=event_datetime(other.event_starts_at, other)
        )
    return str(REASONS[answer.verdict])


def _admitted_time(answer: DoorAnswer, shop: Shop) -> str:
    """When the ticket was admitted, in the event's time zone: 20:14, or with the day when it was not today."""
    zone = ZoneInfo(shop.timezone)
    same_day = answer.admitted_at.astimezone(zone).date() == datetime.now(zone).date()
    return event_datetime(answer.admitted_at, shop, "HH:mm" if same_day else "d MMMM, HH:mm")
