"""Pages of the booker (reached by the overview link) and the recipient (the share link).

GET only shows; every change is a POST with a CSRF token, because mail scanners
and link previews open links before the person does.
"""

from __future__ import annotations

import io
from urllib.parse import quote

from flask import Response, abort, current_app, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale, gettext
from flask_limiter.util import get_remote_address
from sqlalchemy import func, select
from werkzeug.exceptions import TooManyRequests

from portal import error_pages, ics, links, tokens
from portal.consumer import bp
from portal.consumer.forms import LostLinkForm, ShareByEmailForm, ShareForm
from portal.errors import LinkError, PersonalisationClosed, PortalError, TicketAlreadyPersonalised
from portal.extensions import db, limiter
from portal.forms import HOLDER_FIELDS, ActionForm, HolderForm
from portal.headers import never_cache
from portal.models import Order, Shop, Ticket, TicketStatus
from portal.models._time import utcnow
from portal.services import downloads, history, personalisation


# Pages reached by a token hold personal data.
bp.after_request(never_cache)


@bp.errorhandler(PortalError)
def _refused(error: PortalError) -> tuple[str, int]:
    """A refused action or an unusable link: say what happened and how to go on."""
    db.session.rollback()
    context: dict[str, object] = {"error": error, "typed": _typed_details()}
    on_shared_ticket = request.endpoint in ("consumer.ticket", "consumer.ticket_download")
    if isinstance(error, LinkError):
        if error.offers_new_link:
            context["lost_link_form"] = LostLinkForm(formdata=None)
            context["shared_ticket"] = on_shared_ticket
    elif request.view_args and "token" in request.view_args:
        page = ".ticket" if on_shared_ticket else ".overview"
        context["back_url"] = url_for(page, token=request.view_args["token"])
    return render_template("errors/portal.html", **context), error.status_code


def _typed_details() -> list[tuple[str, str]]:
    """What the person typed into a refused form, to show back (nothing of it was saved)."""
    if request.method != "POST":
        return []
    return [(str(HOLDER_FIELDS[name]), value) for name, value in request.form.items() if name in HOLDER_FIELDS and value]


@bp.errorhandler(PersonalisationClosed)
def _closed(error: PersonalisationClosed) -> tuple[str, int]:
    """An action after the deadline: say that personalisation has closed, and how to reach the consumer desk."""
    db.session.rollback()
    token = request.view_args["token"]
    back_url = url_for(".ticket" if error.ticket is not None else ".overview", token=token)
    return render_template("consumer/closed.html", order=error.order, ticket=error.ticket, back_url=back_url), 403


# --- Rate limits: enough for a person, too few for a script guessing or mail bombing ---


def _token_page_limit() -> str:
    return current_app.config["TOKEN_PAGE_LIMIT"]


def _bad_link_limit() -> str:
    return current_app.config["BAD_LINK_LIMIT"]


def _led_nowhere(response: Response) -> bool:
    """Whether a link page answered "not found": what every guessed link gets, and a real page never."""
    return response.status_code == 404


def _lost_link_limit() -> str:
    return current_app.config["LOST_LINK_LIMIT"]


def _order_id_of_link() -> int | None:
    try:
        return tokens.read_token(tokens.OVERVIEW, (request.view_args or {}).get("token", ""))[0]
    except LinkError:
        return None


def _order_share_email_limit() -> str:
    """SHARE_EMAIL_LIMIT for each ticket of the order: a larger group may send more share emails."""
    count, period = current_app.config["SHARE_EMAIL_LIMIT"].split("/", 1)
    order_id = _order_id_of_link()
    tickets = db.session.scalar(select(func.count()).where(Ticket.order_id == order_id)) if order_id else 0
    return f"{int(count) * max(tickets, 1)}/{period}"


def _share_email_address_limit() -> str:
    return current_app.config["SHARE_EMAIL_ADDRESS_LIMIT"]


def _order_of_link() -> str:
    """Count share emails per order, whichever of its links (old or new) is used."""
    order_id = _order_id_of_link()
    return f"order:{order_id}" if order_id is not None else "link:" + (request.view_args or {}).get("token", "")


#: Every page reached by a link shares two budgets per IP address: a high one for all its
#: requests (one address may be a whole venue's Wi-Fi), and a low one for its misses.
_token_pages_limit = limiter.shared_limit(_token_page_limit, scope="token-pages")
_bad_links_limit = limiter.shared_limit(_bad_link_limit, scope="bad-links", deduct_when=_led_nowhere)


def token_pages(view):
    """A page reached by a link: both budgets apply."""
    return _token_pages_limit(_bad_links_limit(view))


def _use_shop_language(shop: Shop) -> None:
    g.shop_language = shop.default_language


def _page_language() -> str:
    """The language of the page the person acts on: what their emails and tickets are written in."""
    return str(get_locale())


def _booker_ticket(token: str, position: int) -> tuple[Order, Ticket]:
    order = personalisation.order_for_overview(token)
    _use_shop_language(order.shop)
    ticket = order.ticket_at(position)
    if ticket is None:
        abort(404)
    return order, ticket


def _ticket_file(tickets: list[Ticket], *, actor: str) -> Response:
    """Answer with the tickets as one PDF, and put the download on the order's timeline.

    send_file writes the file name as RFC 6266 allows (an ASCII fallback and a UTF-8
    ``filename*``), whatever script the order number is in. The download is recorded
    only once the response that carries it has been built.
    """
    number = tickets[0].order.number
    filename = f"ticket-{number}-{tickets[0].position}.pdf" if len(tickets) == 1 else f"tickets-{number}.pdf"
    response = send_file(
        io.BytesIO(downloads.tickets_pdf(tickets, language=_page_language())),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=filename,
        max_age=0,
    )
    downloads.record_download(tickets, actor=actor)
    db.session.commit()
    return response


def whatsapp_url(text: str, number: str | None = None) -> str:
    digits = "".join(char for char in number or "" if char.isdigit())
    return f"https://wa.me/{digits}?text={quote(text)}"


def consumer_desk_url(shop: Shop, order_number: str, position: int | None = None) -> str | None:
    """WhatsApp link to the shop's consumer desk with the order (and ticket) prefilled."""
    if not shop.consumer_desk_whatsapp:
        return None
    if position is None:
        text = gettext("Hello, I have a question about the tickets of order %(number)s.", number=order_number)
    else:
        text = gettext(
            "Hello, I would like to change the details of ticket %(position)d of order %(number)s.",
            position=position,
            number=order_number,
        )
    return whatsapp_url(text, shop.consumer_desk_whatsapp)


# Globals, so that the macros (imported without the template's context) can use them too.
bp.add_app_template_global(consumer_desk_url)
bp.add_app_template_global(downloads.is_downloadable, "is_downloadable")


@bp.get("/")
def home() -> str:
    return render_template("consumer/home.html")


@bp.get("/o/<token>")
@token_pages
def overview(token: str) -> str:
    order = personalisation.order_for_overview(token)
    _use_shop_language(order.shop)
    downloadable = [ticket for ticket in order.tickets if downloads.is_downloadable(ticket)]
    return render_template(
        "consumer/overview.html",
        order=order,
        token=token,
        downloadable=downloadable,
        closed=order.personalisation_closed(utcnow()),
    )


@bp.get("/o/<token>/calendar.ics")
@token_pages
def overview_calendar(token: str) -> Response:
    """The event as a calendar file, linking back to the booker's overview."""
    order = personalisation.order_for_overview(token)
    _use_shop_language(order.shop)
    return _calendar_file(order.shop, links.external_url("consumer.overview", token=token))


def _calendar_file(shop: Shop, own_page_url: str) -> Response:
    """Answer with the event's .ics: opened by the phone's calendar, or downloaded."""
    return send_file(
        io.BytesIO(ics.event_ics(shop, own_page_url=own_page_url, language=_page_language())),
        mimetype=ics.MIMETYPE,
        download_name=ics.FILENAME,
        max_age=0,
    )


@bp.route("/o/<token>/tickets/<int:position>/claim", methods=["GET", "POST"])
@token_pages
def claim(token: str, position: int):
    order, ticket = _booker_ticket(token, position)
    personalisation.check_open(order)
    if ticket.is_personalised:
        if request.method == "POST":
            raise TicketAlreadyPersonalised()
        flash(gettext("This ticket has already been personalised."), "error")
        return redirect(url_for(".overview", token=token))
    form = HolderForm(order.shop)
    if not form.is_submitted():
        # The booker usually claims for themselves: start from their own details.
        form.first_name.data = order.booker_first_name
        form.last_name.data = order.booker_last_name
        form.email.data = order.booker_email
        form.phone.data = order.booker_phone
    if form.validate_on_submit():
        personalisation.claim(order, ticket, form.holder_details(), language=_page_language())
        db.session.commit()
        flash(gettext("Ticket %(position)d is now personalised.", position=position), "success")
        return redirect(url_for(".overview", token=token))
    return render_template("consumer/claim.html", order=order, ticket=ticket, token=token, form=form)


@bp.get("/o/<token>/tickets/<int:position>/share")
@token_pages
def share(token: str, position: int) -> str:
    order, ticket = _booker_ticket(token, position)
    personalisation.check_open(order)
    return _share_page(order, ticket, token, ShareByEmailForm())


def _share_page(order: Order, ticket: Ticket, token: str, email_form: ShareByEmailForm) -> str:
    if ticket.is_personalised:
        flash(gettext("This ticket has already been personalised."), "error")
    return render_template(
        "consumer/share.html",
        order=order,
        ticket=ticket,
        token=token,
        email_form=email_form,
    )


@bp.errorhandler(TooManyRequests)
def _too_many(error: TooManyRequests):
    """A limit was reached: say when it lifts; on the share page, with the typed address kept and a way back."""
    if request.endpoint != "consumer.share_email":
        return error_pages.too_many_requests(error)
    wait = error_pages.wait_until_limit_lifts()
    order, ticket = _booker_ticket(request.view_args["token"], request.view_args["position"])
    form = ShareByEmailForm()
    form.email.errors = [gettext(
        "This order has sent many share emails in the last hour. You can send this one in %(wait)s; "
        "until then, share the ticket via WhatsApp or a link.", wait=wait)]
    return _share_page(order, ticket, request.view_args["token"], form), 429


@bp.post("/o/<token>/tickets/<int:position>/share/whatsapp")
@token_pages
def share_whatsapp(token: str, position: int):
    """Record the share, then open WhatsApp from a page of our own (see whatsapp below)."""
    order, ticket = _booker_ticket(token, position)
    form = ShareForm()
    if not form.validate_on_submit():
        abort(400)
    personalisation.share_by_whatsapp(order, ticket, seen_share_version=form.share_version.data)
    db.session.commit()
    return redirect(url_for(".whatsapp", token=token, position=position), code=303)


@bp.get("/o/<token>/tickets/<int:position>/share/whatsapp")
@token_pages
def whatsapp(token: str, position: int):
    """The ticket's WhatsApp message, opened by a link (and once by a script) rather than a redirect.

    wa.me answers with a redirect of its own (to api.whatsapp.com today); browsers hold
    every redirect after a form submission to the page's CSP form-action, so a form
    cannot lead there. A link is a plain navigation, whatever wa.me redirects to.
    """
    order, ticket = _booker_ticket(token, position)
    personalisation.check_open(order)
    if ticket.status != TicketStatus.SHARED or ticket.shared_via != personalisation.WHATSAPP:
        return redirect(url_for(".overview", token=token))
    text = gettext(
        "Here is your ticket for %(event)s. Fill in your details to get it: %(url)s",
        event=order.shop.event_name,
        url=links.ticket_url(ticket),
    )
    return render_template(
        "consumer/whatsapp.html", order=order, ticket=ticket, token=token, whatsapp_url=whatsapp_url(text)
    )


@bp.post("/o/<token>/tickets/<int:position>/share/link")
@token_pages
def share_link(token: str, position: int):
    """For the share page's script (share sheet, copy link): a fresh share link as JSON."""
    order, ticket = _booker_ticket(token, position)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        share_url = personalisation.share_as_link(order, ticket)
    except PortalError as error:
        db.session.rollback()
        return {"error": str(error)}, error.status_code
    db.session.commit()
    text = gettext("Here is your ticket for %(event)s. Fill in your details to get it:", event=order.shop.event_name)
    return {"url": share_url, "title": order.shop.event_name, "text": text}


@bp.post("/o/<token>/tickets/<int:position>/share/email")
@token_pages
@limiter.limit(_order_share_email_limit, key_func=_order_of_link, scope="share-email-order")
@limiter.limit(_share_email_address_limit, key_func=get_remote_address, scope="share-email-address")
def share_email(token: str, position: int):
    order, ticket = _booker_ticket(token, position)
    form = ShareByEmailForm()
    if not form.validate_on_submit():
        return _share_page(order, ticket, token, form), 422
    personalisation.share_by_email(
        order, ticket, form.email.data, language=_page_language(), seen_share_version=form.share_version.data
    )
    db.session.commit()
    flash(gettext("Ticket %(position)d has been sent to %(email)s.", position=position, email=form.email.data), "success")
    return redirect(url_for(".overview", token=token), code=303)


@bp.post("/o/<token>/tickets/<int:position>/download")
@token_pages
def download(token: str, position: int) -> Response:
    _, ticket = _booker_ticket(token, position)
    if not ActionForm().validate_on_submit():
        abort(400)
    downloads.check_downloadable(ticket)
    return _ticket_file([ticket], actor=history.BOOKER)


@bp.post("/o/<token>/download")
@token_pages
def download_all(token: str) -> Response:
    order = personalisation.order_for_overview(token)
    _use_shop_language(order.shop)
    if not ActionForm().validate_on_submit():
        abort(400)
    return _ticket_file(downloads.downloadable_tickets(order), actor=history.BOOKER)


@bp.route("/t/<token>", methods=["GET", "POST"])
@token_pages
def ticket(token: str):
    """The recipient's page: the form until the ticket is personalised, then the ticket."""
    ticket = personalisation.ticket_for_link(token)
    _use_shop_language(ticket.order.shop)
    if ticket.is_personalised and request.method == "POST":
        # Details sent for a ticket someone already personalised are refused, not silently dropped.
        raise TicketAlreadyPersonalised()
    closed = ticket.order.personalisation_closed(utcnow())
    if closed and request.method == "POST":
        raise PersonalisationClosed(ticket.order, ticket)
    form = None
    if not ticket.is_personalised and not closed:
        form = HolderForm(ticket.order.shop)
        if form.validate_on_submit():
            personalisation.submit_holder_details(ticket, form.holder_details(), language=_page_language())
            db.session.commit()
            flash(gettext("Thank you! Your ticket is personalised."), "success")
            return redirect(url_for(".ticket", token=token), code=303)
    return render_template(
        "consumer/ticket.html", ticket=ticket, order=ticket.order, token=token, form=form, closed=closed
    )


@bp.get("/t/<token>/calendar.ics")
@token_pages
def ticket_calendar(token: str) -> Response:
    """The event as a calendar file, linking back to this ticket's page."""
    ticket = personalisation.ticket_for_link(token)
    _use_shop_language(ticket.order.shop)
    return _calendar_file(ticket.order.shop, links.external_url("consumer.ticket", token=token))


@bp.post("/t/<token>/download")
@token_pages
def ticket_download(token: str) -> Response:
    ticket = personalisation.ticket_for_link(token)
    _use_shop_language(ticket.order.shop)
    if not ActionForm().validate_on_submit():
        abort(400)
    downloads.check_downloadable(ticket)
    return _ticket_file([ticket], actor=history.RECIPIENT)


@bp.route("/link", methods=["GET", "POST"])
@limiter.limit(_lost_link_limit, methods=["POST"])
def lost_link():
    """"Send me a new link": answers the same whether or not the order and address match."""
    form = LostLinkForm()
    if form.validate_on_submit():
        personalisation.request_current_link(form.order_number.data, form.email.data, language=_page_language())
        db.session.commit()
        return render_template("consumer/link_sent.html")
    return render_template("consumer/lost_link.html", form=form)
