"""Organizers and their backoffice users."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.errors import BackofficeUserExists
from portal.extensions import db
from portal.models import BackofficeUser, Organizer


def create_backoffice_user(*, organizer_name: str, email: str, password: str) -> BackofficeUser:
    """Add a user to the organizer of that name, creating the organizer if it is new."""
    email = email.strip().lower()
    if db.session.scalar(select(BackofficeUser.id).where(func.lower(BackofficeUser.email) == email)) is not None:
        raise BackofficeUserExists()
    organizer = db.session.scalar(select(Organizer).where(Organizer.name == organizer_name))
    if organizer is None:
        organizer = Organizer(name=organizer_name)
        db.session.add(organizer)
    user = BackofficeUser(organizer=organizer, email=email)
    user.set_password(password)
    db.session.add(user)
    return user
