"""The keys a shop signs its barcodes with (portal.barcodes; docs/security.md on making and rotating them)."""

from __future__ import annotations

from datetime import datetime
from sqlalchemy import ForeignKey, LargeBinary, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.barcodes import new_key_pair
from portal.extensions import db
from portal.models._time import UTCDateTime, utcnow
from portal.models.shops import Shop

#: The number of a shop's first key.
FIRST_KEY_NUMBER = 1


class ShopKey(db.Model):
    """An Ed25519 key pair of one shop. The newest signs; retired ones only tell old barcodes apart from forged ones."""

    # Also finds a shop's keys (shop_id leads).
    __table_args__ = (UniqueConstraint("shop_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    #: 1 for the shop's first key, one more at each rotation; named in every barcode the key signs.
    number: Mapped[int]
    #: The raw 32-byte Ed25519 private key; wiped (None) when the key is retired.
    private_key: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    #: The raw 32-byte Ed25519 public key: verifies the key's barcodes, offline too.
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: When a newer key replaced it; its barcodes have been replaced by then.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    shop: Mapped[Shop] = relationship(back_populates="keys")

    @classmethod
    def generate(cls, number: int) -> ShopKey:
        private_key, public_key = new_key_pair()
        return cls(number=number, private_key=private_key, public_key=public_key)


@event.listens_for(Shop, "init")
def _first_key(shop: Shop, args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    """Every new shop gets its signing key with it, however it is made (CLI, tests, a future shop form)."""
    shop.keys.append(ShopKey.generate(FIRST_KEY_NUMBER))
