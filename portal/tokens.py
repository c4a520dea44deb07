"""Signed links: the only key a consumer has.

Each purpose has its own salt, so a token made for one purpose is refused for
another. A token names its object and that object's version; bumping the
version in the database revokes every link issued before. Expiry is computed
from the event (not stored in the token), so it follows the event's date.
"""

import functools
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadData, Serializer, Signer, URLSafeSerializer
from itsdangerous.encoding import base64_encode
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


class _CompactJSON:
    """itsdangerous's compact JSON with its encoder made once: the same text.

    Given options, json.dumps builds an encoder for every call; an import signs a link per order.
    """

    _encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    loads = staticmethod(json.loads)

    @staticmethod
    def dumps(obj: Any) -> str:
        return _CompactJSON._encode(obj)


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

    def dump_payload(self, obj: Any) -> bytes:
        """The payload as itsdangerous writes it, without asking zlib when zlib cannot shorten it.

        itsdangerous compresses every payload and keeps the result only if it is shorter;
        for a link's ten-odd bytes that try costs more than the rest of the token (zlib sets
        up its whole state for each call). Deflate shortens nothing without a repeated
        three-byte run (its shortest match), and a short payload cannot pay for a Huffman
        table either: such a payload is left as it is, which is what itsdangerous would do.
        """
        json = Serializer.dump_payload(self, obj)
        if len(json) <= _SURELY_INCOMPRESSIBLE_MAX and not _has_repeated_triple(json):
            return base64_encode(json)
        return super().dump_payload(obj)


#: Payloads this short without a repeated three-byte run come out of zlib longer than they went in.
#: A link's payload is at most 23 bytes ([2147483647,2147483647]). The hardest such input for
#: deflate, a de Bruijn sequence of few letters, first gets shorter at 30 bytes (tests/test_tokens.py).
_SURELY_INCOMPRESSIBLE_MAX = 24


def _has_repeated_triple(data: bytes) -> bool:
    triples = {data[i : i + 3] for i in range(len(data) - 2)}
    return len(triples) < len(data) - 2


@functools.lru_cache(maxsize=16)
def _serializer_for(purpose: str, keys: tuple[str | bytes, ...]) -> URLSafeSerializer:
    # Made once per purpose and keys rather than per token: an import signs thousands.
    return _Serializer(list(keys), salt=f"portal.{purpose}", serializer=_CompactJSON, signer_kwargs=FAST_SHA1)


def make_token(purpose: str, object_id: int, version: int) -> str:
    return _serializer(purpose).dumps([object_id, version])


def token_maker(purpose: str) -> Callable[[int, int], str]:
    """make_token for one purpose, its serializer looked up once: for signing many links in a row."""
    dumps = _serializer(purpose).dumps
    return lambda object_id, version: dumps([object_id, version])


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
