"""Forms of the consumer portal."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import HiddenInput

from portal.forms import email_field, name_field, normalise_email, parse_phone, phone_field, plain_text
from portal.models import Shop
from portal.services.personalisation import HolderDetails


class HolderForm(FlaskForm):
    """The details of the person who will use a ticket, as the shop asks for them."""

    first_name = name_field(_l("First name"))
    last_name = name_field(_l("Last name"))
    email = email_field()
    phone = phone_field()
    date_of_birth = DateField(_l("Date of birth"), validators=[DataRequired(_l("Enter a date of birth."))])

    def __init__(self, shop: Shop, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.shop = shop
        if not shop.date_of_birth_required:
            del self.date_of_birth

    def validate_email(self, field) -> None:
        field.data = normalise_email(field.data)

    def validate_phone(self, field) -> None:
        if not field.data:
            if self.shop.phone_required:
                raise ValidationError(_l("This field is required."))
            field.data = None
            return
        field.data = parse_phone(field.data, self.shop.country)

    def holder_details(self) -> HolderDetails:
        return HolderDetails(
            first_name=self.first_name.data,
            last_name=self.last_name.data,
            email=self.email.data,
            phone=self.phone.data,
            date_of_birth=self.date_of_birth.data if "date_of_birth" in self else None,
        )


class ShareForm(FlaskForm):
    """A share button: its CSRF token and the ticket's share version the page showed.

    A share is made only from that version, so tapping twice (the app was slow to
    open) shares once and never revokes the link the first tap sent.
    """

    share_version = IntegerField(widget=HiddenInput(), validators=[Optional()])


class ShareByEmailForm(ShareForm):
    email = email_field(_l("Email"))

    def validate_email(self, field) -> None:
        field.data = normalise_email(field.data)


class LostLinkForm(FlaskForm):
    """"Send me a new link": the order number and the address the order was booked with."""

    order_number = StringField(
        _l("Order number"),
        validators=[DataRequired(_l("This field is required.")), Length(max=40), plain_text],
        render_kw={"autocomplete": "off", "maxlength": 40},
    )
    email = email_field()


class ActionForm(FlaskForm):
    """A button that acts: it carries only the CSRF token."""
