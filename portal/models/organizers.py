"""Organizers and the backoffice users who work for them."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from portal.extensions import db
from portal.models._time import UTCDateTime, utcnow

if TYPE_CHECKING:
    from portal.models.shops import Shop


class Organizer(db.Model):
    """The company running events; everything in the backoffice is scoped to one."""

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Shown in the backoffice and used by the CLI to pick the organizer.
    name: Mapped[str] = mapped_column(String(200), unique=True)

    shops: Mapped[list[Shop]] = relationship(back_populates="organizer")
    users: Mapped[list[BackofficeUser]] = relationship(back_populates="organizer")


class Role(enum.StrEnum):
    #: Everything of the organizer's: orders, shops, imports, and the door.
    ADMIN = "admin"
    #: Door staff: the check-in page of the organizer's shops and nothing else.
    DOOR = "door"


class BackofficeUser(db.Model):
    """A person who logs in to the backoffice for one organizer."""

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizer.id"), index=True)
    #: Login name, stored lower-case.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    #: Werkzeug's salted scrypt hash; never the password itself.
    password_hash: Mapped[str] = mapped_column(String(255))
    #: admin or door (Role): what the user may see.
    role: Mapped[str] = mapped_column(String(10), default=Role.ADMIN, server_default=Role.ADMIN)
    #: How the door answer and the timeline name the user, e.g. "Gate 2"; the email when unset.
    name: Mapped[str | None] = mapped_column(String(100))

    organizer: Mapped[Organizer] = relationship(back_populates="users")

    @property
    def is_door(self) -> bool:
        return self.role == Role.DOOR

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


class BackofficeSession(db.Model):
    """One login of a backoffice user, from login to logout.

    The browser's signed session cookie names it; the user is logged in only while it
    exists, so logging out (deleting it) ends the session on the server's side too: a
    copy of the cookie taken before is worth nothing.
    """

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_session_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("backoffice_user.id"), index=True)
    #: Sessions end BACKOFFICE_SESSION_HOURS after this, whatever the browser does.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[BackofficeUser] = relationship()
