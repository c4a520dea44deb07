"""Signed links: the only key a consumer has.

Each purpose has its own salt, so a token made for one purpose is refused for
another. A token names its object and that object's version; bumping the
version in the database revokes every link issued before. Expiry is computed
from the event (not stored in the token), so it follows the event's date.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer

from portal.errors import LinkExpired, LinkInvalid
from portal.models.shops import Shop

OVERVIEW = "overview"
SHARE = "share"
#: The largest id or version a database integer column holds.
_MAX_INT = 2**31 - 1
#: What a token the portal made is written with: URL-safe base64 and itsdangerous's separator.
#: (Base64 decoding skips other characters, so "token" + "é" would otherwise read as the token.)
_TOKEN = re.compile(r"[A-Za-z0-9_.-]+")


def _serializer(purpose: str) -> URLSafeSerializer:
    """The purpose's serializer, made once per app: it signs with SECRET_KEY and accepts its fallbacks too.

    With SECRET_KEY_FALLBACKS, a key rotation breaks no link in flight.
    """
    serializers: dict[str, URLSafeSerializer] = current_app.extensions.setdefault("link_serializers", {})
    serializer = serializers.get(purpose)
    if serializer is None:
        keys = [*current_app.config["SECRET_KEY_FALLBACKS"], current_app.config["SECRET_KEY"]]
        serializer = serializers[purpose] = URLSafeSerializer(keys, salt=f"portal.{purpose}")
    return serializer


def make_token(purpose: str, object_id: int, version: int) -> str:
    return _serializer(purpose).dumps([object_id, version])


def read_token(purpose: str, token: str) -> tuple[int, int]:
    """Return (object id, version) of a genuine token for this purpose, or raise LinkInvalid."""
    if not _TOKEN.fullmatch(token):
        raise LinkInvalid()
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


def links_expired(shop: Shop) -> bool:
    """Whether the shop's event is over long enough (LINK_VALID_DAYS_AFTER_EVENT) for its links to stop working."""
    valid_days = current_app.config["LINK_VALID_DAYS_AFTER_EVENT"]
    return datetime.now(UTC) > shop.event_ends_at + timedelta(days=valid_days)


def check_not_expired(shop: Shop) -> None:
    if links_expired(shop):
        raise LinkExpired()
