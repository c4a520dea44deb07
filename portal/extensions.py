"""Flask extensions, created once here and bound to an app in the factory."""

import functools
from collections.abc import Callable
from typing import Any

from flask import current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Named constraints let Alembic alter them on SQLite and PostgreSQL alike.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
mail = Mail()
csrf = CSRFProtect()
babel = Babel()
# The storage comes from RATELIMIT_STORAGE_URI (a storage_uri given here would override the config).
# Behind reverse proxies, TRUSTED_PROXIES makes the factory apply ProxyFix: the remote address is the client's.
limiter = Limiter(key_func=get_remote_address)


View = Callable[..., Any]


def rate_limited(*limits: Callable[[View], View]) -> Callable[[View], View]:
    """Apply Flask-Limiter decorators to a view (the first outermost), or none while RATELIMIT_ENABLED is off.

    Switched off, Flask-Limiter still works out every limit of a decorated view on
    each request, about as much work as a bare Flask request; load benchmarks run so.
    """

    def decorate(view: View) -> View:
        limited = view
        for limit in reversed(limits):
            limited = limit(limited)

        @functools.wraps(view)
        def dispatch(*args: Any, **kwargs: Any) -> Any:
            if current_app.config["RATELIMIT_ENABLED"]:
                return limited(*args, **kwargs)
            return view(*args, **kwargs)

        return dispatch

    return decorate
