"""Organizers, their backoffice users, and those users' sessions and passwords."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import joinedload

from portal.errors import BackofficeUserExists, PasswordTooShort
from portal.extensions import db
from portal.models import BackofficeSession, BackofficeUser, Organizer, Role
from portal.models._time import utcnow

#: Backoffice passwords shorter than this are refused.
MIN_PASSWORD_LENGTH = 10


def _check_password_length(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort()


def create_backoffice_user(
    *, organizer_name: str, email: str, password: str, role: Role = Role.ADMIN, name: str | None = None
) -> BackofficeUser:
    """Add a user to the organizer of that name, creating the organizer if it is new.

    role DOOR makes a door user, who sees the check-in page only; `name` (e.g. "Gate 2")
    is how the door's answers and the timeline name them.
    """
    _check_password_length(password)
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


def start_session(user: BackofficeUser) -> BackofficeSession:
    """A new login of the user; its id goes into the browser's session cookie."""
    started = BackofficeSession(user=user)
    db.session.add(started)
    db.session.flush()
    return started


def current_session(session_id: str, *, max_age: timedelta) -> BackofficeSession | None:
    """The login a browser's cookie names, with its user, if it still stands (not logged out, not too old)."""
    started = db.session.get(
        BackofficeSession,
        session_id,
        options=[joinedload(BackofficeSession.user).joinedload(BackofficeUser.organizer)],
    )
    if started is None or utcnow() - started.created_at > max_age:
        return None
    return started


def end_session(session_id: str) -> None:
    db.session.execute(delete(BackofficeSession).where(BackofficeSession.id == session_id))


def end_sessions(user: BackofficeUser, *, keep: str | None = None) -> None:
    """End every login of the user ("log out everywhere"), except the one `keep` names."""
    db.session.execute(
        delete(BackofficeSession).where(BackofficeSession.user_id == user.id, BackofficeSession.id != (keep or ""))
    )


def change_password(user: BackofficeUser, password: str, *, keep_session: str | None = None) -> None:
    """Set a new password and end the user's other logins (a stolen session ends with the old password)."""
    _check_password_length(password)
    user.set_password(password)
    end_sessions(user, keep=keep_session)
