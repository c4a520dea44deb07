"""Form fields and validators shared by the portal and the backoffice."""

from __future__ import annotations

import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from wtforms import EmailField, StringField, TelField
from wtforms.validators import DataRequired, Length, ValidationError

#: Long enough for any real name (Wolfeschlegelsteinhausenbergerdorff fits), short enough for a ticket.
NAME_MAX = 100
EMAIL_MAX = 254


def normalise_email(value: str) -> str:
    """Check the address's syntax (no DNS look-up: a form must never hang on a resolver)."""
    try:
        # SMTPUTF8 off: a non-ASCII local part cannot be delivered through most relays (or smtplib).
        return validate_email(value, check_deliverability=False, allow_smtputf8=False).normalized
    except EmailNotValidError as error:
        raise ValidationError(_l("Enter a valid email address, like name@example.com.")) from error


def parse_phone(value: str, region: str) -> str:
    """Return the number in E.164 form; numbers without + are read as the shop's country's."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as error:
        raise ValidationError(_l("Enter a valid phone number, like +31 6 12345678.")) from error
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_l("Enter a valid phone number, like +31 6 12345678."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def plain_text(form, field) -> None:
    """Refuse control characters: they have no place in a name and can break emails and PDFs."""
    if any(unicodedata.category(char) in {"Cc", "Cf", "Co", "Cs"} for char in field.data or ""):
        raise ValidationError(_l("Use letters, spaces and punctuation only."))


def multiline_text(form, field) -> None:
    """Like plain_text, but line breaks and tabs are allowed (addresses, contact notes)."""
    if any(unicodedata.category(char) in {"Cc", "Cf", "Co", "Cs"} and char not in "\r\n\t" for char in field.data or ""):
        raise ValidationError(_l("Use letters, spaces and punctuation only."))


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def name_field(label: str) -> StringField:
    return StringField(
        label,
        filters=[_strip],
        validators=[DataRequired(_l("This field is required.")), Length(max=NAME_MAX), plain_text],
        render_kw={"autocomplete": "off", "maxlength": NAME_MAX},
    )


def email_field(label: str = _l("Email")) -> EmailField:
    return EmailField(
        label,
        filters=[_strip],
        validators=[DataRequired(_l("This field is required.")), Length(max=EMAIL_MAX)],
        render_kw={"autocomplete": "email", "maxlength": EMAIL_MAX, "inputmode": "email"},
    )


def phone_field(label: str = _l("Phone")) -> TelField:
    return TelField(
        label,
        filters=[_strip],
        validators=[Length(max=40)],
        render_kw={"autocomplete": "tel", "maxlength": 40},
    )
