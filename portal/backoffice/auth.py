"""Backoffice login: a signed session cookie naming the user, checked on every request.

The session holds the user's id, a fingerprint of their password hash (so changing
the password ends every other session) and the login time (sessions end after
BACKOFFICE_SESSION_HOURS whatever the browser does).
"""

from __future__ import annotations

import hashlib
import time

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext
from sqlalchemy import func, select
from werkzeug.exceptions import TooManyRequests
from werkzeug.security import check_password_hash, generate_password_hash

from portal.backoffice import bp
from portal.backoffice.forms import LoginForm
from portal.extensions import db, limiter, rate_limited
from portal.models import BackofficeUser
from portal.redirects import local_path

USER_KEY = "backoffice_user_id"
FINGERPRINT_KEY = "backoffice_fingerprint"
SINCE_KEY = "backoffice_since"

#: Pages a visitor without a session may see.
PUBLIC_ENDPOINTS = {"backoffice.login"}
#: Pages a door user may see: the check-in pages (portal/backoffice/door.py), and logging in and out.
#: Every other backoffice page answers them 404, as if it did not exist.
DOOR_ENDPOINTS = {
    "backoffice.login",
    "backoffice.logout",
    "backoffice.index",
    "backoffice.door",
    "backoffice.door_shop",
    "backoffice.door_check",
    "backoffice.door_admit",
}

_dummy_hash: str | None = None


def _fingerprint(user: BackofficeUser) -> str:
    # The hash already carries a random salt; hashing it again reveals nothing about the password.
    return hashlib.sha256(f"backoffice-session:{user.password_hash}".encode()).hexdigest()[:32]


def authenticate(email: str, password: str) -> BackofficeUser | None:
    """The user with this email and password, or None (taking as long either way)."""
    global _dummy_hash
    user = db.session.scalar(select(BackofficeUser).where(func.lower(BackofficeUser.email) == email.strip().lower()))
    if user is None:
        # Check a password anyway, so the answer's timing does not tell which emails exist.
        _dummy_hash = _dummy_hash or generate_password_hash("not a real password")
        check_password_hash(_dummy_hash, password)
        return None
    return user if user.check_password(password) else None


def log_in(user: BackofficeUser) -> None:
    # A fresh session: nothing set before login (by anyone) carries over into it.
    session.clear()
    session[USER_KEY] = user.id
    session[FINGERPRINT_KEY] = _fingerprint(user)
    session[SINCE_KEY] = int(time.time())


def log_out() -> None:
    session.clear()


def _user_from_session() -> BackofficeUser | None:
    user_id = session.get(USER_KEY)
    if user_id is None:
        return None
    max_age = current_app.config["BACKOFFICE_SESSION_HOURS"] * 3600
    if time.time() - session.get(SINCE_KEY, 0) > max_age:
        return None
    user = db.session.get(BackofficeUser, user_id)
    if user is None or session.get(FINGERPRINT_KEY) != _fingerprint(user):
        return None
    return user


def current_user() -> BackofficeUser:
    """The logged-in user; every backoffice view but the login page runs with one."""
    return g.backoffice_user


def home_page(user: BackofficeUser) -> str:
    """Where a user starts: the orders, or for door staff the check-in page."""
    return url_for("backoffice.door" if user.is_door else "backoffice.orders")


def safe_next(target: str | None, user: BackofficeUser) -> str:
    """Where to go after login: a backoffice page of this site, never another site (nor a broken header).

    Door staff go back only to a check-in page (any other page would be "not found").
    """
    target = local_path(target)
    allowed = bp.url_prefix + ("/door" if user.is_door else "") + "/"
    if target and (target.startswith(allowed) or target == allowed.rstrip("/")):
        return target
    return home_page(user)


@bp.before_request
def require_login():
    """Let a logged-in user through; send anyone else to the login page (the response), or None.

    Also called by an error handler for an error the app's own hooks raised before this ran.
    """
    g.backoffice_user = _user_from_session()
    if g.backoffice_user is None and request.endpoint not in PUBLIC_ENDPOINTS:
        if session.get(USER_KEY) is not None:
            log_out()  # expired or revoked: forget it
        next_page = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("backoffice.login", next=next_page))
    if g.backoffice_user is not None and g.backoffice_user.is_door and request.endpoint not in DOOR_ENDPOINTS:
        abort(404)  # orders, shops and imports do not exist for door staff
    return None


def _login_limit() -> str:
    return current_app.config["BACKOFFICE_LOGIN_LIMIT"]


def _login_email() -> str:
    """Count attempts per account too, so spreading guesses over many addresses does not help."""
    return "email:" + request.form.get("email", "").strip().lower()


@bp.route("/login", methods=["GET", "POST"])
@rate_limited(
    limiter.limit(_login_limit, methods=["POST"]),
    limiter.limit(_login_limit, methods=["POST"], key_func=_login_email),
)
def login():
    if g.backoffice_user is not None:
        return redirect(home_page(g.backoffice_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            log_in(user)
            return redirect(safe_next(request.args.get("next"), user), code=303)
        flash(gettext("The email address or password is not right."), "error")
    return render_template("backoffice/login.html", form=form)


@bp.errorhandler(TooManyRequests)
def _too_many_attempts(error: TooManyRequests):
    flash(gettext("Too many login attempts. Please wait a minute and try again."), "error")
    return render_template("backoffice/login.html", form=LoginForm(formdata=None)), 429


@bp.post("/logout")
def logout():
    # CSRFProtect has checked the token: another site cannot log the user out.
    log_out()
    flash(gettext("You have been logged out."), "success")
    return redirect(url_for("backoffice.login"), code=303)
