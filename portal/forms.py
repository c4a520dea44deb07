"""Form fields, validators and forms that the portal and the backoffice share.

The rules themselves are in portal.validation; here they become WTForms validators
whose refusal shows next to the field.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, EmailField, Field, StringField, TelField
from wtforms.validators import DataRequired, Length, ValidationError

from portal import validation
from portal.models import Shop
from portal.services.personalisation import HolderDetails
from portal.validation import EMAIL_MAX, NAME_MAX, InvalidValue


def checked(rule: Callable[[str], str]) -> Callable[[str], str]:
    """A rule of portal.validation, refusing with a ValidationError (shown next to the field)."""

    def check(value: str) -> str:
        try:
            return rule(value)
        except InvalidValue as error:
            raise ValidationError(error.message) from error

    return check


normalise_email = checked(validation.normalise_email)


def parse_phone(value: str, region: str) -> str:
    return checked(lambda text: validation.parse_phone(text, region))(value)


def plain_text(form: FlaskForm | None, field: Field) -> None:
    checked(validation.check_plain_text)(field.data or "")


def person_name(form: FlaskForm | None, field: Field) -> None:
    checked(validation.check_name)(field.data or "")


def multiline_text(form: FlaskForm | None, field: Field) -> None:
    checked(validation.check_multiline_text)(field.data or "")


def strip_text(value: str | None) -> str | None:
    """A field filter: leading and trailing spaces are never meant."""
    return value.strip() if isinstance(value, str) else value


class ActionForm(FlaskForm):
    """A button that acts: it carries only the CSRF token."""


def name_field(label: str, autocomplete: str = "off") -> StringField:
    """A person's first or last name; `autocomplete` lets a phone fill in the person's own ("given-name")."""
    return StringField(
        label,
        filters=[strip_text],
        validators=[DataRequired(_l("This field is required.")), Length(max=NAME_MAX), person_name],
        render_kw={"autocomplete": autocomplete, "maxlength": NAME_MAX},
    )


def email_field(label: str = _l("Email")) -> EmailField:
    return EmailField(
        label,
        filters=[strip_text],
        validators=[DataRequired(_l("This field is required.")), Length(max=EMAIL_MAX)],
        render_kw={"autocomplete": "email", "maxlength": EMAIL_MAX, "inputmode": "email"},
    )


def phone_field(label: str = _l("Phone")) -> TelField:
    return TelField(
        label,
        filters=[strip_text],
        validators=[Length(max=40)],
        render_kw={"autocomplete": "tel", "maxlength": 40},
    )


#: The holder's details as people read them (the form's labels, and what a refused form shows back).
HOLDER_FIELDS = {
    "first_name": _l("First name"),
    "last_name": _l("Last name"),
    "email": _l("Email"),
    "phone": _l("Phone"),
    "date_of_birth": _l("Date of birth"),
}
class EventTimeField(DateTimeLocalField):
    """A date and time as the organizer reads and types it: in the event's time zone (a datetime-local input).

    The form shows a moment with show() and reads it back, in UTC, with moment().
    """

    def __init__(self, label: str, **kwargs) -> None:
        super().__init__(label, format="%Y-%m-%dT%H:%M", **kwargs)

    def show(self, moment: datetime | None, zone: str) -> None:
        self.data = moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None) if moment else None

    def moment(self, zone: str) -> datetime | None:
        return self.data.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC) if self.data else None


class HolderForm(FlaskForm):
    """The details of the person who will use a ticket, as the shop asks for them.

    The booker's claim, the recipient's page and the organizer's edit all use it.
    """

    first_name = name_field(HOLDER_FIELDS["first_name"], autocomplete="given-name")
    last_name = name_field(HOLDER_FIELDS["last_name"], autocomplete="family-name")
    email = email_field(HOLDER_FIELDS["email"])
    phone = phone_field(HOLDER_FIELDS["phone"])
    date_of_birth = DateField(
        HOLDER_FIELDS["date_of_birth"],
        validators=[DataRequired(_l("Enter a date of birth."))],
        render_kw={"autocomplete": "bday"},
    )

    def __init__(self, shop: Shop, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.shop = shop
        if not shop.date_of_birth_required:
            del self.date_of_birth
        # Marked (and announced) as required where the shop asks for it.
        self.phone.flags.required = shop.phone_required

    def validate_date_of_birth(self, field) -> None:
        if field.data > date.today():
            raise ValidationError(_l("A date of birth cannot be in the future."))
        if field.data.year < 1900:
            raise ValidationError(_l("Enter a date of birth after 1900."))

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
