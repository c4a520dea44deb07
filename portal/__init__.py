"""Ticket personalisation portal: the application factory."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import database, headers
from portal.config import Config
from portal.extensions import babel, csrf, db, limiter, mail, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: type[Config] = Config, overrides: dict[str, Any] | None = None) -> Flask:
    """Create the app; tests pass their config class and per-test overrides."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_object(config)
    app.config.update(overrides or {})
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _fill_in_defaults(app)
    # The catalogs live in the repository's translations/, next to templates/ and static/.
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(ROOT / "translations"))

    from portal import models  # noqa: F401  (the tables must be known to migrations)

    db.init_app(app)
    database.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    mail.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    _secure_transport(app)

    from portal import assets, error_pages, i18n, logs, templating

    logs.install_redaction(app)

    babel.init_app(app, locale_selector=i18n.select_locale)
    i18n.init_app(app)
    templating.init_app(app)
    error_pages.init_app(app)
    assets.init_app(app)

    from portal.consumer import bp as consumer_bp

    app.register_blueprint(consumer_bp)
    from portal.backoffice import bp as backoffice_bp

    app.register_blueprint(backoffice_bp)
    from portal.health import bp as health_bp

    app.register_blueprint(health_bp)

    from portal.cli import register_commands

    register_commands(app)
    return app


def _secure_transport(app: Flask) -> None:
    """Trust the configured proxies' X-Forwarded-* headers, and send the security headers."""
    https = app.config["FORCE_HTTPS"]
    if https:
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["PREFERRED_URL_SCHEME"] = "https"
    headers.init_app(app)  # its hooks see the scheme ProxyFix found
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)


def _fill_in_defaults(app: Flask) -> None:
    """Give a laptop a working setup with nothing configured: SQLite and a kept secret key."""
    instance = Path(app.instance_path)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'portal.sqlite3'}"
    if not app.config.get("SECRET_KEY"):
        if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            # A generated key is one machine's: another app server or worker, or this one after a
            # redeploy, would make its own, and every link already emailed would stop working.
            raise RuntimeError(
                "SECRET_KEY is not set. With a database server the portal runs on more than one machine "
                "(app servers, outbox workers): set the same SECRET_KEY on every one (docs/deploy.md)."
            )
        # Kept on disk so links stay valid across restarts on this one machine.
        key_file = instance / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        app.config["SECRET_KEY"] = key_file.read_text().strip()
    # Flask-WTF signs form tokens with these (itsdangerous takes a list: the last signs, all verify),
    # so a form opened before a key rotation is still accepted after it, as links and sessions are.
    app.config.setdefault("WTF_CSRF_SECRET_KEY", [*app.config["SECRET_KEY_FALLBACKS"], app.config["SECRET_KEY"]])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Several threads and processes write at once: wait for the lock a while (then: busy, 503).
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
        options["connect_args"] = {"timeout": app.config["DATABASE_BUSY_TIMEOUT"], **options.get("connect_args", {})}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
