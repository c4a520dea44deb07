"""Backoffice login: a signed session cookie naming a login kept on the server, checked on every request.

The cookie (Flask's own session) holds only the id of a BackofficeSession row. Logging
out deletes the row, so a copy of the cookie is worth nothing afterwards; changing the
password ends the user's other logins, and "log out everywhere" ends them all. A login
ends BACKOFFICE_SESSION_HOURS after it started, whatever the browser does.
"""

from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext
from sqlalchemy import func, select
from werkzeug.exceptions import TooManyRequests
from werkzeug.security import check_password_hash, generate_password_hash

from portal import error_pages
from portal.backoffice import bp
from portal.backoffice.forms import LoginForm, PasswordForm
from portal.extensions import db, limiter
from portal.models import BackofficeUser
from portal.redirects import local_path
from portal.services import organizers

#: The session cookie's key for the id of the login (a BackofficeSession).
SESSION_KEY = "backoffice_session"

#: Pages a visitor without a session may see.
PUBLIC_ENDPOINTS = {"backoffice.login"}
#: Pages a door user may see: the check-in pages (portal/backoffice/door.py), and logging in and out.
#: Every other backoffice page answers them 404, as if it did not exist.
DOOR_ENDPOINTS = {
    "backoffice.login",
    "backoffice.logout",
    "backoffice.logout_everywhere",
    "backoffice.account",
    "backoffice.index",
    "backoffice.door",
    "backoffice.door_shop",
    "backoffice.door_check",
    "backoffice.door_admit",
}

_dummy_hash: str | None = None


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
    """Start a login (the caller commits); nothing set in the session before (by anyone) carries over."""
    session.clear()
    session[SESSION_KEY] = organizers.start_session(user).id


def log_out() -> None:
    """End this login on the server and forget it in the browser (the caller commits)."""
    session_id = session.get(SESSION_KEY)
    if session_id:
        organizers.end_session(session_id)
    session.clear()


def _user_from_session() -> BackofficeUser | None:
    session_id = session.get(SESSION_KEY)
    if not isinstance(session_id, str):
        return None
    max_age = timedelta(hours=current_app.config["BACKOFFICE_SESSION_HOURS"])
    started = organizers.current_session(session_id, max_age=max_age)
    return started.user if started is not None else None


def current_session_id() -> str:
    return session[SESSION_KEY]


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
        if session.get(SESSION_KEY) is not None:
            session.clear()  # ended or expired: forget it
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
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_login_email)
def login():
    if g.backoffice_user is not None:
        return redirect(home_page(g.backoffice_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            log_in(user)
            db.session.commit()
            return redirect(safe_next(request.args.get("next"), user), code=303)
        flash(gettext("The email address or password is not right."), "error")
    return render_template("backoffice/login.html", form=form)


@bp.errorhandler(TooManyRequests)
def _too_many_attempts(error: TooManyRequests):
    flash(gettext("Too many login attempts. Please try again in %(wait)s.", wait=error_pages.wait_until_limit_lifts()), "error")
    return render_template("backoffice/login.html", form=LoginForm(formdata=None)), 429


@bp.post("/logout")
def logout():
    # CSRFProtect has checked the token: another site cannot log the user out.
    log_out()
    db.session.commit()
    flash(gettext("You have been logged out."), "success")
    return redirect(url_for("backoffice.login"), code=303)


@bp.post("/logout/everywhere")
def logout_everywhere():
    """End every login of this user: on this browser and on every other."""
    organizers.end_sessions(current_user())
    session.clear()
    db.session.commit()
    flash(gettext("You have been logged out on every device."), "success")
    return redirect(url_for("backoffice.login"), code=303)


@bp.route("/account", methods=["GET", "POST"])
def account():
    """The user's own password: changing it ends their other logins."""
    form = PasswordForm(current_user())
    if form.validate_on_submit():
        organizers.change_password(current_user(), form.new_password.data, keep_session=current_session_id())
        db.session.commit()
        flash(gettext("Your password has been changed. You were logged out everywhere else."), "success")
        return redirect(url_for(".account"), code=303)
    return render_template("backoffice/account.html", form=form), 422 if form.errors else 200
