"""Requests for a fresh link ("send me a new link"), answered by the worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models._time import UTCDateTime, utcnow


class LinkRequest(db.Model):
    """What someone typed into "send me a new link", until the worker has answered it (then it is deleted).

    The page only stores the request, so it does the same work whether or not an order
    matches: how long it takes tells nothing about which orders exist.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    order_number: Mapped[str] = mapped_column(String(40))
    email: Mapped[str] = mapped_column(String(254))
    #: The page's language: the email is written in it.
    language: Mapped[str] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
