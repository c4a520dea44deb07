"""Configuration read from the environment, with safe defaults for a laptop."""

import os


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def database_url(value: str | None) -> str | None:
    """DATABASE_URL as SQLAlchemy should read it: a plain PostgreSQL URL means psycopg 3.

    Hosting platforms and libpq's tools (psql, pg_dump) write postgres://… or postgresql://…;
    SQLAlchemy knows no "postgres" dialect, and SQLAlchemy 2.0 reads "postgresql" as psycopg2,
    which the portal does not install.
    """
    if value is None:
        return None
    scheme, separator, rest = value.partition("://")
    if separator and scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    return value


class Config:
    """Production and development settings; every value can come from the environment."""

    #: Signs sessions, CSRF tokens and personalisation links. When unset, the
    #: factory keeps a generated key in the instance folder (fine for one machine).
    SECRET_KEY = os.environ.get("SECRET_KEY")
    #: Earlier keys, comma-separated: links and sessions signed with them keep working.
    SECRET_KEY_FALLBACKS = _env_list("SECRET_KEY_FALLBACKS")

    #: None means SQLite in the instance folder (filled in by the factory).
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL"))
    #: hide_parameters: a failed statement's log line and traceback never show the values (personal data).
    #: pool_pre_ping: a connection that died in the pool (a database restart) is replaced before use.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}

    #: Seconds a request waits for a database that is busy (SQLite locked by a long import or a backup)
    #: before it answers "busy, try again" (503): well within gunicorn's timeout.
    DATABASE_BUSY_TIMEOUT = int(os.environ.get("DATABASE_BUSY_TIMEOUT", "10"))

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
    #: Seconds a sender holds the messages it claimed; if it dies, they are sent again after this.
    #: Keep it longer than a batch takes to send.
    OUTBOX_CLAIM_LEASE_SECONDS = int(os.environ.get("OUTBOX_CLAIM_LEASE_SECONDS", "300"))
    #: Seconds a worker holds an orders import without reporting progress (it reports several times a
    #: second); if it dies, another worker takes the import again from the start after this.
    IMPORT_CLAIM_LEASE_SECONDS = int(os.environ.get("IMPORT_CLAIM_LEASE_SECONDS", "120"))
    #: Seconds between the outbox worker's runs of the time-based mail (what `flask reminders send` does).
    REMINDERS_INTERVAL_SECONDS = int(os.environ.get("REMINDERS_INTERVAL_SECONDS", "300"))

    #: Absolute base of every link in an email, e.g. https://tickets.example.com
    PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:5000")
    #: Personalisation and share links stop working this many days after the event.
    LINK_VALID_DAYS_AFTER_EVENT = int(os.environ.get("LINK_VALID_DAYS_AFTER_EVENT", "30"))

    #: Largest request body (MAX_UPLOAD_MB, in MB): the backoffice's CSV import is the only upload. The upload
    #: only stores the file (a worker imports it), so the limit is one of disk: 256 MB holds a million rows
    #: of up to about 250 bytes (100,000 typical rows take about 8 MB). See docs/deploy.md.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_MB", "256")) * 1024 * 1024

    #: A phone user may open the page and submit much later; a week is generous but bounded.
    WTF_CSRF_TIME_LIMIT = 7 * 24 * 3600
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_HTTPONLY = True

    #: Served over HTTPS (usually behind a proxy that ends TLS): redirect http to https,
    #: send HSTS and mark the session cookie Secure.
    FORCE_HTTPS = _env_bool("FORCE_HTTPS", False)
    SESSION_COOKIE_SECURE = FORCE_HTTPS
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "https" if FORCE_HTTPS else "http")
    #: How many reverse proxies in front of the app set X-Forwarded-For/-Proto/-Host (0: none,
    #: the headers are ignored). Only then is the client's address (rate limits) taken from them.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
    #: Pages may load scripts, styles and images from this site only; no inline code; forms post
    #: to this site only (WhatsApp opens from a link, not a form: see consumer.views.whatsapp).
    CONTENT_SECURITY_POLICY = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )

    BABEL_DEFAULT_LOCALE = "en"
    LANGUAGES = ("en", "nl")

    #: Where requests are counted: memory:// for one process, redis://… for several servers
    #: (with memory://, each gunicorn worker counts on its own).
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    #: RATELIMIT_ENABLED=false switches every limit off: for load benchmarks only.
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    #: 429 answers say when to try again (Retry-After).
    RATELIMIT_HEADERS_ENABLED = True
    #: Requests to pages reached by a link (/o/…, /t/…) per IP address, good links or bad: against
    #: a flood from one address. High, because one address can carry a crowd of bookers: a
    #: venue's Wi-Fi, a mobile network's shared address (carrier-grade NAT).
    TOKEN_PAGE_LIMIT = os.environ.get("TOKEN_PAGE_LIMIT", "1200/minute")
    #: Links that lead nowhere (a damaged or made-up link: 404) per IP address. A script guessing
    #: links is stopped after this many misses; opening real links never counts against it.
    BAD_LINK_LIMIT = os.environ.get("BAD_LINK_LIMIT", "30/minute;200/hour")
    #: "Send me a new link" submissions per IP address.
    LOST_LINK_LIMIT = os.environ.get("LOST_LINK_LIMIT", "5/minute;20/hour")
    #: Share emails an order may send, per ticket in it: "3/hour" lets a booker of 20 tickets send 60
    #: an hour (each ticket shared by email three times), while a script on one order is stopped.
    SHARE_EMAIL_LIMIT = os.environ.get("SHARE_EMAIL_LIMIT", "3/hour")
    #: Share emails per IP address, whatever the order: no mail bombing strangers from one machine.
    SHARE_EMAIL_ADDRESS_LIMIT = os.environ.get("SHARE_EMAIL_ADDRESS_LIMIT", "90/hour")
    #: Backoffice login attempts allowed per IP address, and separately per email address.
    BACKOFFICE_LOGIN_LIMIT = os.environ.get("BACKOFFICE_LOGIN_LIMIT", "10/minute")
    #: A backoffice session ends this many hours after login, whatever the browser does.
    BACKOFFICE_SESSION_HOURS = int(os.environ.get("BACKOFFICE_SESSION_HOURS", "12"))


class TestConfig(Config):
    """Settings for the test suite: isolated database, no real mail unless a test asks."""

    TESTING = True
    SECRET_KEY = "test-secret-key"
    SECRET_KEY_FALLBACKS: list[str] = []
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL")) or "sqlite://"
    PORTAL_BASE_URL = "http://portal.test"
    MAIL_SERVER = None
