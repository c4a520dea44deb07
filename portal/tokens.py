"""Signed links: the only key a consumer has.

Each purpose has its own salt, so a token made for one purpose is refused for
another. A token names its object and that object's version; bumping the
version in the database revokes every link issued before. Expiry is computed
from the event (not stored in the token), so it follows the event's date.
"""

import functools
import hashlib
import hmac
from datetime import timedelta

from flask import current_app
from itsdangerous import BadData, Signer, URLSafeSerializer
from itsdangerous.signer import HMACAlgorithm

from portal.errors import LinkExpired, LinkInvalid
from portal.models._time import utcnow
from portal.models.shops import Shop


class OneShotHMAC(HMACAlgorithm):
    """itsdangerous's HMAC-SHA1, computed by OpenSSL in one call: the same signatures, faster.

    itsdangerous's SHA-1 wraps hashlib's in a Python function, which sends the hmac module
    down its pure-Python path, and builds an HMAC object for every signature.
    """

    def __init__(self) -> None:
        super().__init__(hashlib.sha1)

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.digest(key, value, hashlib.sha1)


#: Signer options for every signer of the portal's (links and sessions).
FAST_SHA1 = {"digest_method": hashlib.sha1, "algorithm": OneShotHMAC()}

OVERVIEW = "overview"
SHARE = "share"
#: The largest id or version a database integer column holds.
_MAX_INT = 2**31 - 1


def _serializer(purpose: str) -> URLSafeSerializer:
    # itsdangerous signs with the last key and accepts all of them: rotation without broken links.
    return _serializer_for(purpose, (*current_app.config["SECRET_KEY_FALLBACKS"], current_app.config["SECRET_KEY"]))


class _Signer(Signer):
    """itsdangerous's signer, deriving each key once (it would for every signature and check)."""

    @functools.lru_cache(maxsize=8)  # noqa: B019 (a few signers live as long as the process)
    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        return super().derive_key(secret_key)


class _Serializer(URLSafeSerializer):
    """itsdangerous's URL-safe serializer, with its signer made once instead of for every token.

    A signer holds only the keys and the salt; every page reached by a link checks a token.
    """

    default_signer = _Signer

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        if salt is not None and salt != self.salt:
            return super().make_signer(salt)
        return self._signer

    @functools.cached_property
    def _signer(self) -> Signer:
        return super().make_signer()


@functools.lru_cache(maxsize=16)
def _serializer_for(purpose: str, keys: tuple[str | bytes, ...]) -> URLSafeSerializer:
    # Made once per purpose and keys rather than per token: an import signs thousands.
    return _Serializer(list(keys), salt=f"portal.{purpose}", signer_kwargs=FAST_SHA1)


def make_token(purpose: str, object_id: int, version: int) -> str:
    return _serializer(purpose).dumps([object_id, version])


def read_token(purpose: str, token: str) -> tuple[int, int]:
    """Return (object id, version) of a genuine token for this purpose, or raise LinkInvalid."""
    try:
        payload = _serializer(purpose).loads(token)
    except BadData as error:
        raise LinkInvalid() from error
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        # Ids and versions fit a database integer: anything else cannot be ours (and would not fit a query).
        or not all(type(value) is int and 0 <= value <= _MAX_INT for value in payload)
    ):
        raise LinkInvalid()
    return payload[0], payload[1]


def check_not_expired(shop: Shop) -> None:
    valid_days = current_app.config["LINK_VALID_DAYS_AFTER_EVENT"]
    if utcnow() > shop.event_ends_at + timedelta(days=valid_days):
        raise LinkExpired()
