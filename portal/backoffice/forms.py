"""Forms of the backoffice. Holder details are validated by the portal's own form."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import HiddenInput

from portal.forms import (
    EventTimeField,
    HolderForm,
    email_field,
    multiline_text,
    name_field,
    normalise_email,
    parse_phone,
    phone_field,
    plain_text,
    strip_text,
)
from portal.i18n import LANGUAGE_NAMES
from portal.models import BackofficeUser, Order, Shop
from portal.models.shops import reminder_points
from portal.validation import EMAIL_MAX
from portal.services.orders import Booker
from portal.services.organizers import MIN_PASSWORD_LENGTH
from portal.services.shops import ShopSettings


class LoginForm(FlaskForm):
    email = EmailField(
        _l("Email"),
        validators=[DataRequired(_l("This field is required.")), Length(max=EMAIL_MAX), plain_text],
        render_kw={"autocomplete": "username", "maxlength": EMAIL_MAX},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("This field is required.")), Length(max=500)],
        render_kw={"autocomplete": "current-password"},
    )


class PasswordForm(FlaskForm):
    """A user's own new password, confirmed with the current one."""

    def __init__(self, user: BackofficeUser, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def validate_current_password(self, field) -> None:
        if not self.user.check_password(field.data):
            raise ValidationError(_l("This is not your current password."))

    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(_l("This field is required.")), Length(max=500)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(_l("This field is required.")),
            Length(min=MIN_PASSWORD_LENGTH, max=500, message=_l("Choose a password of at least 10 characters.")),
        ],
        render_kw={"autocomplete": "new-password", "minlength": MIN_PASSWORD_LENGTH},
    )
    repeated_password = PasswordField(
        _l("New password again"),
        validators=[DataRequired(_l("This field is required.")), EqualTo("new_password", _l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class ContactForm(FlaskForm):
    """The main booker's contact details."""

    first_name = name_field(_l("First name"))
    last_name = name_field(_l("Last name"))
    email = email_field()
    phone = phone_field(_l("Mobile"))

    def __init__(self, shop: Shop, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.shop = shop

    @classmethod
    def for_order(cls, order: Order) -> ContactForm:
        return cls(
            order.shop,
            data={
                "first_name": order.booker_first_name,
                "last_name": order.booker_last_name,
                "email": order.booker_email,
                "phone": order.booker_phone,
            },
        )

    def validate_email(self, field) -> None:
        field.data = normalise_email(field.data)

    def validate_phone(self, field) -> None:
        field.data = parse_phone(field.data, self.shop.country) if field.data else None

    def booker(self) -> Booker:
        return Booker(self.first_name.data, self.last_name.data, self.email.data, self.phone.data)


class TicketHolderForm(HolderForm):
    """The portal's holder form: an organizer's edit is validated exactly like a consumer's.

    Without autofill: the organizer's browser would fill in the organizer's own details.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self:
            field.render_kw = {**(field.render_kw or {}), "autocomplete": "off"}


class ShopSettingsForm(FlaskForm):
    event_name = StringField(
        _l("Event name"),
        filters=[strip_text],
        validators=[DataRequired(_l("This field is required.")), Length(max=200), plain_text],
        render_kw={"maxlength": 200},
    )
    venue = StringField(
        _l("Venue"),
        filters=[strip_text],
        validators=[DataRequired(_l("This field is required.")), Length(max=200), plain_text],
        render_kw={"maxlength": 200},
    )
    default_language = SelectField(
        _l("Default language"),
        validators=[DataRequired(_l("This field is required."))],
        # Each language named in itself, marked as such for screen readers.
        choices=[SelectChoice(code, name, render_kw={"lang": code}) for code, name in LANGUAGE_NAMES.items()],
        description=_l("Emails and tickets are written in the language each person uses on the portal; this one until then."),
    )
    download_enabled = BooleanField(_l("Download order enabled"))
    personalisation_required = BooleanField(_l("Personalisation required"))
    phone_required = BooleanField(_l("Phone required"))
    date_of_birth_required = BooleanField(_l("Date of birth required"))
    consumer_desk_whatsapp = phone_field(_l("Consumer desk WhatsApp number"))
    support_contact = TextAreaField(
        _l("Support contact for refunds"),
        validators=[Length(max=1000), multiline_text],
        render_kw={"rows": 3, "maxlength": 1000},
    )
    personalisation_deadline = EventTimeField(
        _l("Personalisation deadline"),
        validators=[Optional()],
        description=_l(
            "In the event's time zone. After it, consumers can no longer fill in, share or change tickets; "
            "you still can. Leave empty to allow changes until the event."
        ),
    )
    reminder_days = StringField(
        _l("Reminders, in days before the deadline"),
        filters=[strip_text],
        validators=[Length(max=40)],
        description=_l(
            "For example 7,1: bookers and recipients with tickets still to fill in are reminded a week and a day "
            "before the deadline (without a deadline, before the event). Leave empty for no reminders."
        ),
        render_kw={"maxlength": 40, "inputmode": "numeric", "autocomplete": "off"},
    )

    def __init__(self, shop: Shop, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.shop = shop
        if not self.is_submitted():
            self.personalisation_deadline.show(shop.personalisation_deadline, shop.timezone)

    def validate_consumer_desk_whatsapp(self, field) -> None:
        field.data = parse_phone(field.data, self.shop.country) if field.data else None

    def validate_personalisation_deadline(self, field) -> None:
        deadline = field.moment(self.shop.timezone)
        if deadline is not None and deadline >= self.shop.event_starts_at:
            raise ValidationError(_l("The deadline must be before the event starts."))

    def validate_reminder_days(self, field) -> None:
        parts = [part.strip() for part in (field.data or "").split(",") if part.strip()]
        if not all(part.isdigit() and 1 <= int(part) <= 365 for part in parts):
            raise ValidationError(_l("Write whole days from 1 to 365, separated by commas, for example 7,1."))
        field.data = ",".join(str(days) for days in reminder_points(",".join(parts)))

    def settings(self) -> ShopSettings:
        return ShopSettings(
            event_name=self.event_name.data,
            venue=self.venue.data,
            default_language=self.default_language.data,
            download_enabled=self.download_enabled.data,
            personalisation_required=self.personalisation_required.data,
            phone_required=self.phone_required.data,
            date_of_birth_required=self.date_of_birth_required.data,
            consumer_desk_whatsapp=self.consumer_desk_whatsapp.data,
            support_contact=(self.support_contact.data or "").strip() or None,
            personalisation_deadline=self.personalisation_deadline.moment(self.shop.timezone),
            reminder_days=self.reminder_days.data or "",
        )


class ReopenForm(FlaskForm):
    """Open Personalisation's confirmation; after the deadline it asks for the order's own deadline.

    It carries the personalisation version it showed, so a repeated submission resets once.
    """

    personalisation_version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    own_deadline = EventTimeField(_l("This order's own deadline"), validators=[InputRequired(_l("Enter a date and time."))])

    def __init__(self, order: Order, *, now: datetime, needs_deadline: bool, suggested: datetime, **kwargs) -> None:
        super().__init__(data={"personalisation_version": order.personalisation_version}, **kwargs)
        self.order = order
        self.now = now
        if not needs_deadline:
            del self.own_deadline
        elif not self.is_submitted():
            self.own_deadline.show(suggested, order.shop.timezone)

    def validate_own_deadline(self, field) -> None:
        deadline = field.moment(self.order.shop.timezone)
        if deadline <= self.now:
            raise ValidationError(_l("The deadline must be in the future."))
        if deadline >= self.order.shop.event_starts_at:
            raise ValidationError(_l("The deadline must be before the event starts."))

    def chosen_deadline(self) -> datetime | None:
        return self.own_deadline.moment(self.order.shop.timezone) if "own_deadline" in self else None


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file to upload."))])


class DoorCodeForm(FlaskForm):
    """What the door scanned (the QR code's content) or typed (the short code under it)."""

    code = StringField(
        _l("Code on the ticket"),
        filters=[strip_text],
        validators=[
            DataRequired(_l("Scan the QR code, or type the code printed under it.")),
            Length(max=300, message=_l("This is not a ticket's code: it is far too long.")),
            plain_text,
        ],
        render_kw={
            "autocomplete": "off",
            "autocapitalize": "characters",
            "autocorrect": "off",
            "spellcheck": "false",
            "maxlength": 300,
        },
    )
