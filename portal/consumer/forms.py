"""Forms of the consumer portal."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import HiddenInput

from portal.forms import email_field, normalise_email, plain_text


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
