"""Organizers and their backoffice users."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.errors import BackofficeUserExists
from portal.extensions import db
from portal.models import BackofficeUser, Organizer, Role


def create_backoffice_user(
    *, organizer_name: str, email: str, password: str, role: Role = Role.ADMIN, name: str | None = None
) -> BackofficeUser:
    """Add a user to the organizer of that name, creating the organizer if it is new.

    role DOOR makes a door user, who sees the check-in page only; `name` (e.g. "Gate 2")
    is how the door's answers and the timeline name them.
    """
    email = email.strip().lower()
    if db.session.scalar(select(BackofficeUser.id).where(func.lower(BackofficeUser.email) == email)) is not None:
        raise BackofficeUserExists()
    organizer = db.session.scalar(select(Organizer).where(Organizer.name == organizer_name))
    if organizer is None:
        organizer = Organizer(name=organizer_name)
        db.session.add(organizer)
    user = BackofficeUser(organizer=organizer, email=email, role=role, name=name or None)
    user.set_password(password)
    db.session.add(user)
    return user
