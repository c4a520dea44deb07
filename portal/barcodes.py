"""Signed barcodes and short codes: the formats other scanners read (docs/barcodes.md).

A ticket's QR code holds ``PT1:<shop>:<key>:<ticket>:<version>:<signature>``: the
shop's id, the number of the shop key that signed it, the ticket's id and its
barcode version, then the Ed25519 signature of everything before the last colon,
in RFC 4648 base32 without padding. Every character is in the QR code's
alphanumeric set, so the code stays small. Anyone with the shop's public key can
check a barcode offline; only the portal, which keeps the private key, can make one.

A short code is printed under the QR code for typing in: twelve characters from an
alphabet without look-alikes, drawn at random for each barcode version.

This module knows nothing about the ORM or Flask, like tokens.py and tickets_pdf.py.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

#: The content's format and its version: a later format gets another prefix, so both can be told apart.
PREFIX = "PT1"
SEPARATOR = ":"
#: Digits and capitals without look-alikes: none of 0 O Q, 1 I L, 2's Z, 5's S, 8's B, 6's G.
SHORT_CODE_ALPHABET = "234679ACDEFHJKMNPRTUVWXY"
SHORT_CODE_LENGTH = 12
#: Printed and shown in groups of this many characters, joined by a hyphen.
SHORT_CODE_GROUP = 4

_FIELDS = re.compile(rf"{PREFIX}:([1-9][0-9]{{0,17}}):([1-9][0-9]{{0,8}}):([1-9][0-9]{{0,17}}):([1-9][0-9]{{0,8}})")
_SIGNATURE = re.compile(r"[A-Z2-7]{103}")
_SHORT_CODE_SEPARATORS = re.compile(r"[\s\-–—_.]+")


class BarcodeUnreadable(ValueError):
    """The text is not a barcode of this format."""


@dataclass(frozen=True)
class Barcode:
    """What a barcode names. `message` is what its signature signs."""

    shop_id: int
    key_number: int
    ticket_id: int
    version: int

    @property
    def message(self) -> str:
        return SEPARATOR.join((PREFIX, str(self.shop_id), str(self.key_number), str(self.ticket_id), str(self.version)))


@dataclass(frozen=True)
class SignedBarcode:
    """A barcode as read from a QR code: what it names and its signature (not yet checked)."""

    barcode: Barcode
    signature: bytes

    def is_signed_by(self, public_key: bytes) -> bool:
        """Whether the signature is the shop key's (its raw 32-byte public key) over this barcode."""
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(self.signature, self.barcode.message.encode("ascii"))
        except (InvalidSignature, ValueError):
            return False
        return True


def sign(barcode: Barcode, private_key: bytes) -> str:
    """The QR code's content for this barcode, signed with the shop key's raw 32-byte private key."""
    message = barcode.message
    signature = Ed25519PrivateKey.from_private_bytes(private_key).sign(message.encode("ascii"))
    return message + SEPARATOR + base64.b32encode(signature).decode("ascii").rstrip("=")


def looks_signed(text: str) -> bool:
    """Whether the text claims to be a barcode of this format (it may still be damaged or forged)."""
    return text.startswith(PREFIX + SEPARATOR)


def parse(text: str) -> SignedBarcode:
    """Read a barcode's fields and signature; raises BarcodeUnreadable for anything else."""
    message, separator, signature = text.strip().rpartition(SEPARATOR)
    fields = _FIELDS.fullmatch(message)
    if not separator or fields is None or _SIGNATURE.fullmatch(signature) is None:
        raise BarcodeUnreadable(text)
    try:
        raw = base64.b32decode(signature + "=" * (-len(signature) % 8))
    except binascii.Error as error:
        raise BarcodeUnreadable(text) from error
    if base64.b32encode(raw).decode("ascii").rstrip("=") != signature:
        raise BarcodeUnreadable(text)  # 103 characters carry 515 bits: one way only to write each signature
    shop_id, key_number, ticket_id, version = (int(field) for field in fields.groups())
    return SignedBarcode(Barcode(shop_id, key_number, ticket_id, version), raw)


# --- Shop keys -------------------------------------------------------------------


def new_key_pair() -> tuple[bytes, bytes]:
    """A fresh Ed25519 key pair from the operating system's randomness: (private, public), 32 raw bytes each."""
    private_key = Ed25519PrivateKey.generate()
    return private_key.private_bytes_raw(), private_key.public_key().public_bytes_raw()


def public_key_pem(public_key: bytes) -> str:
    """The raw public key as PEM (SubjectPublicKeyInfo), which every crypto library reads."""
    key = Ed25519PublicKey.from_public_bytes(public_key)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


# --- Short codes -----------------------------------------------------------------


#: How many short codes there are: 24 ** 12, about 3.7e16 (55 bits).
SHORT_CODES = len(SHORT_CODE_ALPHABET) ** SHORT_CODE_LENGTH


def new_short_code() -> str:
    """A fresh short code: 12 characters drawn at random (about 55 bits), nothing derived from the ticket.

    One number drawn from the operating system's randomness and written in the alphabet's
    base: five times cheaper than a draw per character, for the hundreds of thousands of
    tickets of an import.
    """
    number = secrets.randbelow(SHORT_CODES)
    characters = []
    for _ in range(SHORT_CODE_LENGTH):
        number, index = divmod(number, len(SHORT_CODE_ALPHABET))
        characters.append(SHORT_CODE_ALPHABET[index])
    return "".join(characters)


def normalise_short_code(text: str) -> str | None:
    """The short code as stored, from what someone typed (any case, spaces or hyphens); None if it cannot be one."""
    code = _SHORT_CODE_SEPARATORS.sub("", text).upper()
    if len(code) != SHORT_CODE_LENGTH or any(char not in SHORT_CODE_ALPHABET for char in code):
        return None
    return code


def grouped(code: str) -> str:
    """A short code as printed: K7MX-3HPA-9PRT."""
    return "-".join(code[start : start + SHORT_CODE_GROUP] for start in range(0, len(code), SHORT_CODE_GROUP))
