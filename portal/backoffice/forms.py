"""Forms of the backoffice. Holder details are validated by the portal's own form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from portal.consumer.forms import HolderForm
from portal.forms import (
    EMAIL_MAX,
    email_field,
    multiline_text,
    name_field,
    normalise_email,
    parse_phone,
    phone_field,
    plain_text,
)
from portal.models import Order, Shop
from portal.services.orders import Booker
from portal.services.shops import ShopSettings


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


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


class ActionForm(FlaskForm):
    """A confirmation button: it carries only the CSRF token."""


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
    """The portal's holder form: an organizer's edit is validated exactly like a consumer's."""


class ShopSettingsForm(FlaskForm):
    event_name = StringField(
        _l("Event name"),
        filters=[_strip],
        validators=[DataRequired(_l("This field is required.")), Length(max=200), plain_text],
        render_kw={"maxlength": 200},
    )
    venue = StringField(
        _l("Venue"),
        filters=[_strip],
        validators=[DataRequired(_l("This field is required.")), Length(max=200), plain_text],
        render_kw={"maxlength": 200},
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

    def __init__(self, shop: Shop, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.shop = shop

    def validate_consumer_desk_whatsapp(self, field) -> None:
        field.data = parse_phone(field.data, self.shop.country) if field.data else None

    def settings(self) -> ShopSettings:
        return ShopSettings(
            event_name=self.event_name.data,
            venue=self.venue.data,
            download_enabled=self.download_enabled.data,
            personalisation_required=self.personalisation_required.data,
            phone_required=self.phone_required.data,
            date_of_birth_required=self.date_of_birth_required.data,
            consumer_desk_whatsapp=self.consumer_desk_whatsapp.data,
            support_contact=(self.support_contact.data or "").strip() or None,
        )


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file to upload."))])


class DoorCodeForm(FlaskForm):
    """What the door scanned (the QR code's content) or typed (the short code under it)."""

    code = StringField(
        _l("Code on the ticket"),
        filters=[_strip],
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
