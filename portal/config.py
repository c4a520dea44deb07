"""Configuration read from the environment, with safe defaults for a laptop."""

import os


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


class Config:
    """Production and development settings; every value can come from the environment."""

    #: Signs sessions, CSRF tokens and personalisation links. When unset, the
    #: factory keeps a generated key in the instance folder (fine for one machine).
    SECRET_KEY = os.environ.get("SECRET_KEY")
    #: Earlier keys, comma-separated: links and sessions signed with them keep working.
    SECRET_KEY_FALLBACKS = _env_list("SECRET_KEY_FALLBACKS")

    #: None means SQLite in the instance folder (filled in by the factory).
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    MAIL_SERVER = os.environ.get("MAIL_SERVER")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _env_bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Tickets <tickets@localhost>")
    MAIL_SUPPRESS_SEND = False
    #: With no MAIL_SERVER, messages are kept here as .eml files (default: instance/mail).
    MAIL_KEEP_FOLDER = os.environ.get("MAIL_KEEP_FOLDER")
    #: Seconds to wait on the SMTP server before giving up on a message (it is retried later).
    MAIL_TIMEOUT = int(os.environ.get("MAIL_TIMEOUT", "10"))

    #: Absolute base of every link in an email, e.g. https://tickets.example.com
    PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:5000")
    #: Personalisation and share links stop working this many days after the event.
    LINK_VALID_DAYS_AFTER_EVENT = int(os.environ.get("LINK_VALID_DAYS_AFTER_EVENT", "30"))

    #: A phone user may open the page and submit much later; a week is generous but bounded.
    WTF_CSRF_TIME_LIMIT = 7 * 24 * 3600
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_HTTPONLY = True

    BABEL_DEFAULT_LOCALE = "en"
    LANGUAGES = ("en", "nl")

    #: Where login attempts are counted: memory:// for one process, redis://… for several servers.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    #: Backoffice login attempts allowed per IP address, and separately per email address.
    BACKOFFICE_LOGIN_LIMIT = os.environ.get("BACKOFFICE_LOGIN_LIMIT", "10/minute")
    #: A backoffice session ends this many hours after login, whatever the browser does.
    BACKOFFICE_SESSION_HOURS = int(os.environ.get("BACKOFFICE_SESSION_HOURS", "12"))


class TestConfig(Config):
    """Settings for the test suite: isolated database, no real mail unless a test asks."""

    TESTING = True
    SECRET_KEY = "test-secret-key"
    SECRET_KEY_FALLBACKS: list[str] = []
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or "sqlite://"
    PORTAL_BASE_URL = "http://portal.test"
    MAIL_SERVER = None
