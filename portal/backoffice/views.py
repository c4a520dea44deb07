"""Backoffice pages: load (scoped to the user's organizer), check, one service call, commit once.

Another organizer's shop, order or ticket answers 404, exactly like one that does
not exist: a guessed id tells nothing.
"""

from __future__ import annotations

from pathlib import PurePath
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import format_number, get_locale, gettext, lazy_gettext as _l
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import contains_eager, selectinload
from werkzeug.exceptions import NotFound, RequestEntityTooLarge

from portal.backoffice import bp, charts, timeline
from portal.backoffice.auth import current_user, home_page, require_login
from portal.backoffice.forms import ContactForm, ImportForm, ReopenForm, ShopSettingsForm, TicketHolderForm
from portal.errors import OrderCancelled, PortalError
from portal.extensions import db
from portal.forms import ActionForm
from portal.models import ImportStatus, Order, OrderEvent, OrderImport, OrderStatus, Shop, Ticket
from portal.models._time import utcnow
from portal.services import import_jobs, orders, progress, shops
from portal.services.imports import SKIPPED_LISTED
from portal.headers import never_cache

#: Orders shown per page of the list.
PER_PAGE = 25


# Customers' personal data.
bp.after_request(never_cache)


@bp.errorhandler(PortalError)
def _refused(error: PortalError):
    """A rule refused the action: nothing was saved; say why on the order (or the list)."""
    db.session.rollback()
    flash(str(error), "error")
    order_id = (request.view_args or {}).get("order_id")
    return redirect(url_for(".order", order_id=order_id) if order_id else url_for(".orders"), code=303)


@bp.errorhandler(NotFound)
def _not_found(error: NotFound):
    return render_template("backoffice/not_found.html"), 404


@bp.app_template_filter("timeline_sentence")
def _timeline_sentence(event: OrderEvent) -> str:
    return timeline.describe(event)


@bp.app_template_filter("timeline_actor")
def _timeline_actor(event: OrderEvent) -> str:
    return timeline.actor(event)


# --- Loading, always within the user's organizer ------------------------------


def _organizer_id() -> int:
    return current_user().organizer_id


def _scoped_orders() -> Select[tuple[Order]]:
    return select(Order).join(Order.shop).where(Shop.organizer_id == _organizer_id())


def _order_or_404(order_id: int) -> Order:
    return db.first_or_404(_scoped_orders().where(Order.id == order_id))


def _ticket_or_404(order_id: int, position: int) -> tuple[Order, Ticket]:
    order = _order_or_404(order_id)
    ticket = order.ticket_at(position)
    if ticket is None:
        abort(404)
    return order, ticket


def _shop_or_404(shop_id: int) -> Shop:
    return db.first_or_404(select(Shop).where(Shop.id == shop_id, Shop.organizer_id == _organizer_id()))


def _organizer_shops() -> list[Shop]:
    return list(
        db.session.scalars(
            select(Shop).where(Shop.organizer_id == _organizer_id()).order_by(Shop.event_starts_at.desc(), Shop.id)
        )
    )


def _back_to(order: Order) -> Response:
    return redirect(url_for(".order", order_id=order.id), code=303)


# --- Ticketing → Orders --------------------------------------------------------


@bp.get("/")
def index():
    return redirect(home_page(current_user()))


def _like_escaped(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _search_condition(search: str):
    """Order number, booker name or email, or any ticket holder's name or email contains the text."""
    pattern = _like_escaped(search.lower())

    def contains(expression):
        return func.lower(expression).like(pattern, escape="\\")

    def full_name(first, last):
        return func.coalesce(first, "") + " " + func.coalesce(last, "")

    holder_matches = (
        select(Ticket.id)
        .where(
            Ticket.order_id == Order.id,
            or_(contains(full_name(Ticket.holder_first_name, Ticket.holder_last_name)), contains(Ticket.holder_email)),
        )
        .exists()
    )
    return or_(
        contains(Order.number),
        contains(full_name(Order.booker_first_name, Order.booker_last_name)),
        contains(Order.booker_email),
        holder_matches,
    )


#: Where the orders list keeps what is searched for: in the signed session, never in an address.
SEARCH_KEY = "orders_search"


def _searchable(text: str) -> str:
    """The search text with white space collapsed and control characters left out: no stored
    name has them, and PostgreSQL refuses a NUL in a query outright."""
    return "".join(char for char in " ".join(text.split()) if char.isprintable())[:200]


# Endpoint "orders" (as the navigation says); the function is named apart from the services module.
@bp.route("/orders", methods=["GET", "POST"], endpoint="orders")
def orders_list():
    """The orders list. The filter form is posted: a name or address searched for never enters a URL,
    so no access log, Referer or login?next= carries it; the list keeps showing it until cleared."""
    if request.method == "POST":
        session[SEARCH_KEY] = _searchable(request.form.get("q", ""))
        filters = {
            "status": request.form.get("status") or None,
            "shop": request.form.get("shop", type=int),
            "pending": request.form.get("pending") or None,
        }
        return redirect(url_for(".orders", **filters), code=303)
    search = session.get(SEARCH_KEY, "")
    status = request.args.get("status", "")
    status = status if status in set(OrderStatus) else ""
    shop_id = request.args.get("shop", type=int)
    pending = request.args.get("pending") == "1"
    query = _scoped_orders()
    if search:
        query = query.where(_search_condition(search))
    if status:
        query = query.where(Order.status == status)
    if shop_id:
        query = query.where(Order.shop_id == shop_id)
    if pending:
        query = query.where(Order.status == OrderStatus.COMPLETED, Order.with_tickets_to_fill_in())
    query = query.options(contains_eager(Order.shop), selectinload(Order.tickets)).order_by(
        Order.created_at.desc(), Order.id.desc()
    )
    page = db.paginate(query, per_page=PER_PAGE, max_per_page=PER_PAGE, error_out=False)
    return render_template(
        "backoffice/orders.html",
        page=page,
        search=search,
        status=status,
        shop_id=shop_id,
        pending=pending,
        shops=_organizer_shops(),
        statuses=[(OrderStatus.COMPLETED, _l("Completed")), (OrderStatus.CANCELLED, _l("Cancelled"))],
    )


def _order_actions(order: Order) -> list[dict[str, object]]:
    """The order-level ⋯ menu: each action, where it leads, and why it is off (if it is)."""
    menu = [
        (orders.RESEND, _l("Resend"), ".resend"),
        (orders.OPEN_PERSONALISATION, _l("Open Personalisation"), ".reopen_personalisation"),
        (orders.REFUND, _l("Refund"), ".refund"),
        (orders.CANCEL, _l("Cancel"), ".cancel"),
    ]
    return [
        {
            "name": name,
            "label": label,
            "url": url_for(endpoint, order_id=order.id),
            "refusal": orders.action_refusal(order, name),
        }
        for name, label, endpoint in menu
    ]


@bp.get("/orders/<int:order_id>")
def order(order_id: int):
    order = _order_or_404(order_id)
    events = db.session.scalars(
        select(OrderEvent)
        .where(OrderEvent.order_id == order.id)
        .options(selectinload(OrderEvent.ticket))
        .order_by(OrderEvent.created_at.desc(), OrderEvent.id.desc())
    ).all()
    return render_template("backoffice/order.html", order=order, events=events, actions=_order_actions(order))


@bp.route("/orders/<int:order_id>/contact", methods=["GET", "POST"])
def edit_contact(order_id: int):
    order = _order_or_404(order_id)
    form = ContactForm.for_order(order)
    if form.validate_on_submit():
        changed = orders.edit_contact(order, form.booker(), actor_label=current_user().email)
        db.session.commit()
        if changed:
            flash(gettext("The contact details have been saved."), "success")
        else:
            flash(gettext("Nothing was changed."), "success")
        return _back_to(order)
    return render_template("backoffice/contact.html", order=order, form=form)


# --- The order-level ⋯ actions: GET shows what will happen, POST does it ----


@bp.route("/orders/<int:order_id>/resend", methods=["GET", "POST"])
def resend(order_id: int):
    order = _order_or_404(order_id)
    form = ActionForm()
    if form.validate_on_submit():
        orders.resend(order, actor_label=current_user().email)
        db.session.commit()
        flash(gettext("The order email is on its way to %(email)s.", email=order.booker_email), "success")
        return _back_to(order)
    return render_template(
        "backoffice/resend.html", order=order, form=form, attachments=orders.resend_attachments(order)
    )


@bp.route("/orders/<int:order_id>/open-personalisation", methods=["GET", "POST"])
def reopen_personalisation(order_id: int):
    order = _order_or_404(order_id)
    now = utcnow()
    form = ReopenForm(
        order,
        now=now,
        needs_deadline=orders.needs_own_deadline(order, now=now),
        suggested=now + orders.OWN_DEADLINE_AHEAD,
    )
    if form.validate_on_submit():
        reopened = orders.reopen_personalisation(
            order,
            actor_label=current_user().email,
            seen_version=form.personalisation_version.data,
            own_deadline=form.chosen_deadline(),
        )
        db.session.commit()
        if reopened:
            message = gettext("Personalisation reopened. A new link is on its way to %(email)s.", email=order.booker_email)
        else:
            message = gettext("Personalisation had been reopened already; its one new link went to %(email)s.",
                              email=order.booker_email)
        flash(message, "success")
        return _back_to(order)
    return render_template(
        "backoffice/reopen.html",
        order=order,
        form=form,
        refusal=orders.action_refusal(order, orders.OPEN_PERSONALISATION),
    )


@bp.get("/orders/<int:order_id>/refund")
def refund(order_id: int):
    """Refunds are processed by support: this page says so and changes nothing."""
    order = _order_or_404(order_id)
    return render_template("backoffice/refund.html", order=order, refusal=orders.action_refusal(order, orders.REFUND))


@bp.route("/orders/<int:order_id>/cancel", methods=["GET", "POST"])
def cancel(order_id: int):
    order = _order_or_404(order_id)
    form = ActionForm()
    if form.validate_on_submit():
        orders.cancel(order, actor_label=current_user().email)
        db.session.commit()
        flash(gettext("Order %(number)s has been cancelled.", number=order.number), "success")
        return _back_to(order)
    return render_template(
        "backoffice/cancel.html", order=order, form=form, refusal=orders.action_refusal(order, orders.CANCEL)
    )


# --- Ticket-level ⋯ → Edit: the form, then a confirmation step ---------------


def _holder_form(ticket: Ticket) -> TicketHolderForm:
    return TicketHolderForm(
        ticket.order.shop,
        data={
            "first_name": ticket.holder_first_name,
            "last_name": ticket.holder_last_name,
            "email": ticket.holder_email,
            "phone": ticket.holder_phone,
            "date_of_birth": ticket.holder_date_of_birth,
        },
    )


@bp.route("/orders/<int:order_id>/tickets/<int:position>/edit", methods=["GET", "POST"])
def edit_ticket(order_id: int, position: int):
    order, ticket = _ticket_or_404(order_id, position)
    if order.is_cancelled:
        raise OrderCancelled()
    form = _holder_form(ticket)
    if form.validate_on_submit():
        details = form.holder_details()
        changes = orders.holder_changes(ticket, details)
        if not changes and ticket.is_personalised:
            flash(gettext("Nothing was changed."), "success")
            return _back_to(order)
        return render_template(
            "backoffice/ticket_confirm.html",
            order=order,
            ticket=ticket,
            form=form,
            changes=[timeline.FIELDS.get(name, name) for name in changes],
            notify_previous=bool(ticket.holder_email) and ticket.holder_email.casefold() != details.email.casefold(),
        )
    return render_template("backoffice/ticket_edit.html", order=order, ticket=ticket, form=form)


@bp.post("/orders/<int:order_id>/tickets/<int:position>/edit/confirm")
def confirm_ticket_edit(order_id: int, position: int):
    order, ticket = _ticket_or_404(order_id, position)
    form = _holder_form(ticket)
    if not form.validate_on_submit():
        # The carried values are checked again: a tampered or stale confirmation goes back to the form.
        return render_template("backoffice/ticket_edit.html", order=order, ticket=ticket, form=form), 422
    orders.edit_ticket_holder(ticket, form.holder_details(), actor_label=current_user().email)
    db.session.commit()
    flash(gettext("Ticket %(position)d has been saved with its new holder.", position=ticket.position), "success")
    return _back_to(order)


# --- Shops ----------------------------------------------------------------------


@bp.get("/shops", endpoint="shops")
def shops_list():
    return render_template("backoffice/shops.html", shops=_organizer_shops())


@bp.route("/shops/<int:shop_id>", methods=["GET", "POST"])
def shop(shop_id: int):
    shop = _shop_or_404(shop_id)
    form = ShopSettingsForm(shop, obj=shop)
    if form.validate_on_submit():
        shops.update_settings(shop, form.settings())
        db.session.commit()
        flash(gettext("The settings have been saved. The portal uses them from now on."), "success")
        return redirect(url_for(".shop", shop_id=shop.id), code=303)
    return render_template("backoffice/shop.html", shop=shop, form=form, **_personalisation_status(shop))


def _personalisation_status(shop: Shop) -> dict[str, object]:
    """Where the shop's personalisation stands: figures, chart and days left (until the deadline, else the event)."""
    if not shop.personalisation_required:
        return {}
    now = utcnow()
    zone = ZoneInfo(shop.timezone)
    closes = shop.personalisation_deadline or shop.event_starts_at
    today, closing_day = now.astimezone(zone).date(), closes.astimezone(zone).date()
    figures = progress.shop_progress(shop)
    return {
        "progress": figures,
        "chart": charts.progress_chart(figures, end=closing_day, today=today),
        "days_left": (closing_day - today).days if now < closes else None,
    }


# --- Orders imports: the upload stores the file; a worker imports it; its page shows how far it got ----


@bp.route("/shops/<int:shop_id>/import", methods=["GET", "POST"])
def import_orders(shop_id: int):
    shop = _shop_or_404(shop_id)
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        order_import = import_jobs.store(
            shop,
            upload.stream,
            filename=PurePath((upload.filename or "").replace("\\", "/")).name,
            uploaded_by=current_user(),
            language=str(get_locale()),
        )
        db.session.commit()
        return redirect(url_for(".order_import", import_id=order_import.id), code=303)
    return _import_page(shop, form), 422 if form.is_submitted() else 200


def _import_page(shop: Shop, form: ImportForm) -> str:
    return render_template(
        "backoffice/import.html",
        shop=shop,
        form=form,
        upload_max_mb=_upload_max_mb(),
        upload_max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
        too_large=_too_large_message(),
    )


def _scoped_imports() -> Select[tuple[OrderImport]]:
    return (
        select(OrderImport)
        .join(OrderImport.shop)
        .where(Shop.organizer_id == _organizer_id())
        .options(contains_eager(OrderImport.shop), selectinload(OrderImport.uploaded_by))
    )


def _import_or_404(import_id: int) -> OrderImport:
    return db.first_or_404(_scoped_imports().where(OrderImport.id == import_id))


@bp.get("/imports", endpoint="imports")
def imports_list():
    query = _scoped_imports().order_by(OrderImport.created_at.desc(), OrderImport.id.desc())
    page = db.paginate(query, per_page=PER_PAGE, max_per_page=PER_PAGE, error_out=False)
    return render_template(
        "backoffice/imports.html", page=page, standings={i.id: import_jobs.standing(i) for i in page.items}
    )


def _standing_text(standing: import_jobs.Standing) -> str:
    """Where the import stands, in a sentence (the same on the page and in its progress's JSON)."""
    done, total = format_number(standing.done), format_number(standing.total)
    if standing.status == ImportStatus.QUEUED:
        return gettext("Waiting for a worker to start the import.")
    if standing.status == ImportStatus.CHECKING:
        return gettext("Checking rows: %(done)s of %(total)s.", done=done, total=total)
    if standing.status == ImportStatus.CREATING:
        return gettext("Writing orders: %(done)s of %(total)s.", done=done, total=total)
    if standing.status == ImportStatus.DONE:
        return gettext("Done.")
    return gettext("Not imported.")


@bp.get("/imports/<int:import_id>")
def order_import(import_id: int):
    order_import = _import_or_404(import_id)
    standing = import_jobs.standing(order_import)
    return render_template(
        "backoffice/order_import.html",
        order_import=order_import,
        standing=standing,
        standing_text=_standing_text(standing),
        list_max=SKIPPED_LISTED,
        holds_database=db.engine.dialect.name == "sqlite",
        busy_timeout=current_app.config["DATABASE_BUSY_TIMEOUT"],
    )


@bp.get("/imports/<int:import_id>/progress")
def import_progress(import_id: int):
    """How far the import got, for the page's script: it reloads the page once the import is finished."""
    order_import = _import_or_404(import_id)
    standing = import_jobs.standing(order_import)
    return {
        "status": standing.status,
        "done": standing.done,
        "total": standing.total,
        "percent": standing.percent,
        "text": _standing_text(standing),
        "finished": order_import.is_finished,
    }


def _upload_max_mb() -> int:
    return current_app.config["MAX_CONTENT_LENGTH"] // 2**20


def _too_large_message() -> str:
    return gettext(
        "The file is larger than %(max)d MB. Split it into smaller files and upload them one "
        "after another: orders imported from an earlier file are skipped.",
        max=_upload_max_mb(),
    )


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge):
    """A file over the upload limit (MAX_UPLOAD_MB): on the import page, said next to the file field.

    Raised by the app's own hooks as they read the form, before the login check had run.
    """
    if request.endpoint != "backoffice.import_orders" or require_login() is not None:
        return render_template("errors/http.html", code=413, error=error), 413
    try:
        shop = _shop_or_404(request.view_args["shop_id"])
    except NotFound as not_found:  # raised here it would not reach the 404 handler, but be a 500
        return _not_found(not_found)
    form = ImportForm(formdata=None)
    form.file.errors = [_too_large_message()]
    return _import_page(shop, form), 413
