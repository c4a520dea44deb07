"""What people type, checked and normalised: names, email addresses, phone numbers.

No form library here: the forms (portal.forms) and the orders import
(portal.services.imports) apply the same rules, and a refusal is an InvalidValue
whose message says what to type instead.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, ValidatedEmail, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES, EMAIL_MAX_LENGTH
from flask_babel import lazy_gettext as _l
from flask_mail import sanitize_address

#: Long enough for any real name (Wolfeschlegelsteinhausenbergerdorff fits), short enough for a ticket.
NAME_MAX = 100
EMAIL_MAX = 254


class InvalidValue(ValueError):
    """A value that cannot be used; `message` (translated where it is shown) says what to type instead."""

    def __init__(self, message: object) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


_INVALID_EMAIL = _l("Enter a valid email address, like name@example.com.")
_INVALID_PHONE = _l("Enter a valid phone number, like +31 6 12345678.")
_NOT_PLAIN_TEXT = _l("Use letters, spaces and punctuation only.")
_NOT_A_NAME = _l("Enter a name with letters.")


def _validate_email(value: str) -> ValidatedEmail:
    """email_validator as the portal uses it: syntax only (no DNS look-up: a form must never hang on a resolver)."""
    # SMTPUTF8 off: a non-ASCII local part cannot be delivered through most relays (or smtplib).
    return validate_email(value, check_deliverability=False, allow_smtputf8=False)


def normalise_email(value: str) -> str:
    """Check the address's syntax and that mail can be sent to it; return it normalised (the domain in lower case).

    email_validator checks an international domain by IDNA 2008; Flask-Mail encodes it by
    Python's older IDNA 2003 codec, which refuses some that pass (``אב1.example``: a
    right-to-left label ending in a digit). An address the mail layer cannot encode is
    refused here, where the person can still correct it.
    """
    try:
        normalised = _validate_email(value).normalized
        sanitize_address(normalised)
    except (EmailNotValidError, UnicodeError) as error:
        raise InvalidValue(_INVALID_EMAIL) from error
    return normalised


#: An address of plain ASCII: a dot-atom of common characters, "@", then letters, digits, dots and hyphens.
_PLAIN_ADDRESS = re.compile(r"([A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*)@([A-Za-z0-9.-]+)")


class EmailNormaliser:
    """normalise_email for the many addresses of a file, checking each domain once instead of once per address.

    The domain check is most of email_validator's work and does not depend on the
    part before the @-sign. A plain address (_PLAIN_ADDRESS: a local part that
    email_validator keeps as it is) is put together as email_validator does it:
    the local part (in lower case for RFC 2142 names such as "info"), "@", the
    normalised domain, within the same length limits. Anything else, and anything
    that would be refused, goes through normalise_email: same results, same errors.
    """

    #: Enough for the domains of any real file; past it domains are not kept, so memory stays flat.
    MAX_DOMAINS = 10_000

    def __init__(self) -> None:
        #: Domain as written -> (normalised domain, its ASCII form), or None when it fails the check.
        self._domains: dict[str, tuple[str, str] | None] = {}

    def __call__(self, value: str) -> str:
        match = _PLAIN_ADDRESS.fullmatch(value)
        if match is not None:
            local_part, domain = match.groups()
            checked = self._domain(domain)
            if checked is not None:
                if local_part.lower() in CASE_INSENSITIVE_MAILBOX_NAMES:
                    local_part = local_part.lower()
                normalised = f"{local_part}@{checked[0]}"
                # email_validator limits the address as written, normalised (in UTF-8) and with the ASCII domain.
                longest = max(len(value), len(normalised.encode()), len(local_part) + 1 + len(checked[1]))
                if longest <= EMAIL_MAX_LENGTH:
                    return normalised
        return normalise_email(value)

    def _domain(self, domain: str) -> tuple[str, str] | None:
        if domain in self._domains:
            return self._domains[domain]
        try:
            # With the shortest local part: should that make the address too long, so it is with any other.
            checked = _validate_email(f"a@{domain}")
        except EmailNotValidError:
            result = None
        else:
            result = (checked.domain, checked.ascii_domain)
        if len(self._domains) < self.MAX_DOMAINS:
            self._domains[domain] = result
        return result


def parse_phone(value: str, region: str) -> str:
    """Return the number in E.164 form; numbers without + are read as the shop's country's."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as error:
        raise InvalidValue(_INVALID_PHONE) from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue(_INVALID_PHONE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _has_control_characters(text: str, allowed: str = "") -> bool:
    """Whether the text has a control, format, private-use or surrogate character, other than those allowed."""
    # Printable text has none of them (of categories C and Z, only the space is printable):
    # one quick call answers for most text.
    if text.isprintable():
        return False
    return any(unicodedata.category(char) in {"Cc", "Cf", "Co", "Cs"} and char not in allowed for char in text)


def check_plain_text(text: str) -> str:
    """Refuse control characters: they have no place in a name and can break emails and PDFs."""
    if _has_control_characters(text):
        raise InvalidValue(_NOT_PLAIN_TEXT)
    return text


def check_multiline_text(text: str) -> str:
    """Like check_plain_text, but line breaks and tabs are allowed (addresses, contact notes)."""
    if _has_control_characters(text, allowed="\r\n\t"):
        raise InvalidValue(_NOT_PLAIN_TEXT)
    return text


def check_name(text: str) -> str:
    """A person's name: plain text with at least one letter, in any script (not only emoji or symbols)."""
    check_plain_text(text)
    if not any(char.isalpha() for char in text):
        raise InvalidValue(_NOT_A_NAME)
    return text
