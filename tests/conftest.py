"""Fixtures: an app on a real database, a real SMTP server on loopback, and factories."""

from __future__ import annotations

import email
import itertools
import email.policy
import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html import unescape

import pytest
from aiosmtpd.controller import Controller
from werkzeug.serving import make_server

from portal import create_app, worker
from portal.config import TestConfig
from portal.extensions import db
from portal.models import Organizer, Shop
from portal.services import outbox
from portal.services.orders import Booker, OrderLine, create_order


_order_numbers = itertools.count(100001)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """What a real SMTP server on loopback received; tests must read every message."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.read: set[int] = set()
        self.lock = threading.Lock()
        self.port = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def take(self, to: str) -> list[EmailMessage]:
        """Messages delivered to this address since the last look, marked as seen."""
        with self.lock:
            found = [(i, m) for i, m in enumerate(self.messages) if m["To"] == to and i not in self.read]
            self.read.update(i for i, _ in found)
        return [m for _, m in found]

    def take_one(self, to: str) -> EmailMessage:
        messages = self.take(to)
        assert len(messages) == 1, f"expected one message to {to}, got {len(messages)}"
        return messages[0]

    def unread(self) -> list[EmailMessage]:
        with self.lock:
            return [m for i, m in enumerate(self.messages) if i not in self.read]


def body(message: EmailMessage, subtype: str = "plain") -> str:
    return message.get_body(preferencelist=(subtype,)).get_content()


def links_in(message: EmailMessage) -> list[str]:
    """Every http(s) link in the message's plain-text and HTML bodies."""
    found = re.findall(r"https?://[^\s\"<>]+", body(message, "plain"))
    found += [unescape(href) for href in re.findall(r'href="([^"]+)"', body(message, "html"))]
    return list(dict.fromkeys(found))


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    mailbox = Mailbox()
    mailbox.port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    yield mailbox
    controller.stop()
    # The guard: a test that caused mail must say which mail it expected.
    unexpected = mailbox.unread()
    assert not unexpected, "unexpected mail: " + ", ".join(f"{m['To']}: {m['Subject']}" for m in unexpected)


@pytest.fixture
def app_config(tmp_path, smtp) -> dict[str, object]:
    """Overrides for the test app; a test may change them before asking for `app`."""
    config: dict[str, object] = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port}
    if not TestConfig.SQLALCHEMY_DATABASE_URI.startswith("postgresql"):
        # A file, not :memory:, so a live server's threads share one database.
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'portal.sqlite3'}"
    return config


@pytest.fixture
def app(app_config):
    app = create_app(TestConfig, app_config)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def deliver(app):
    """Run the outbox once, as `flask outbox send` would; returns the report."""

    def deliver() -> outbox.DeliveryReport:
        with app.app_context():
            return worker.send_all_now()

    return deliver


@pytest.fixture
def run_imports(app):
    """Run every import waiting, as a worker's imports job would; returns how many ran."""
    from portal.services import import_jobs

    def run_imports() -> int:
        ran = 0
        with app.app_context():
            while import_jobs.run_next(lambda: False):
                ran += 1
            db.session.remove()
        return ran

    return run_imports


@pytest.fixture
def make_shop(app):
    """Factory: a shop of a (new or given) organizer; keyword arguments set its settings."""

    def make_shop(organizer_name: str = "Acme Events", **settings) -> int:
        with app.app_context():
            organizer = db.session.query(Organizer).filter_by(name=organizer_name).one_or_none()
            if organizer is None:
                organizer = Organizer(name=organizer_name)
            starts = datetime.now(UTC) + timedelta(days=30)
            values = {
                "event_name": "Harbour Jazz Nights",
                "event_starts_at": starts,
                "event_ends_at": starts + timedelta(hours=5),
                "venue": "Pier 5, Rotterdam",
                "consumer_desk_whatsapp": "+31 20 555 0100",
                **settings,
            }
            shop = Shop(organizer=organizer, **values)
            db.session.add(shop)
            db.session.commit()
            return shop.id

    return make_shop


@pytest.fixture
def make_order(app, make_shop):
    """Factory: a completed order (its confirmation queued, not yet delivered); returns its id."""

    def make_order(
        tickets: int = 4,
        *,
        shop_id: int | None = None,
        booker_email: str = "booker@example.com",
        number: str | None = None,
        **shop_settings,
    ) -> int:
        shop_id = shop_id or make_shop(**shop_settings)
        with app.app_context():
            order = create_order(
                db.session.get(Shop, shop_id),
                number=number or f"NX-2026-{next(_order_numbers):06d}",
                booker=Booker("Sam", "de Vries", booker_email, "+31612345678"),
                lines=[OrderLine("Day ticket", tickets, 4500)],
            )
            db.session.commit()
            return order.id

    return make_order


@pytest.fixture
def live_server(app):
    """The app served over real HTTP by a threaded server on loopback."""
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def login(app):
    """Factory: a test client logged in to the backoffice as a new user of that organizer.

    The organizer is created when it does not exist yet (make_shop's default is "Acme Events").
    `role` and `name` as `organizer create-user` takes them (an organizer user by default).
    """
    from portal.models import Role
    from portal.services.organizers import create_backoffice_user
    from tests.pages import csrf_token

    users = itertools.count(1)

    def login(
        organizer_name: str = "Acme Events", *, password: str = "correct horse battery staple",
        role: Role = Role.ADMIN, name: str | None = None,
    ):
        email = f"staff{next(users)}@{organizer_name.lower().replace(' ', '-')}.example"
        with app.app_context():
            create_backoffice_user(organizer_name=organizer_name, email=email, password=password, role=role, name=name)
            db.session.commit()
        client = app.test_client()
        page = client.get("/backoffice/login").get_data(as_text=True)
        response = client.post(
            "/backoffice/login", data={"csrf_token": csrf_token(page), "email": email, "password": password}
        )
        assert response.status_code == 303, f"login answered {response.status_code}"
        client.user_email = email
        return client

    return login


# --- The app under gunicorn, as it runs in production -------------------------

import subprocess  # noqa: E402


class GunicornServer:
    """A running `gunicorn -c gunicorn.conf.py wsgi:app`; its logs are files in the test's tmp_path."""

    def __init__(self, process, url: str, logs: list) -> None:
        self.process, self.url, self.logs = process, url, logs

    def log_text(self) -> str:
        """Everything the server wrote: access log, error log, stdout and stderr."""
        return "\n".join(path.read_text(errors="replace") for path in self.logs if path.exists())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(2)  # SIGINT: gunicorn's quick shutdown (its logs are written per line)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def gunicorn(app, tmp_path):
    """Factory: start the app under gunicorn on a free loopback port, on the test's database and key.

    `start(workers=4, env={...}, args=[...])` returns a GunicornServer once every worker answers;
    all are stopped before the test's database is dropped (PostgreSQL would wait on their connections).
    """
    import os
    import sys
    import time
    from pathlib import Path

    import requests

    root = Path(__file__).resolve().parent.parent
    servers: list[GunicornServer] = []

    def start(workers: int = 4, env: dict[str, str] | None = None, args: list[str] = ()) -> GunicornServer:
        port = free_port()
        access_log, error_log, output = (tmp_path / f"gunicorn-{port}-{name}.log" for name in ("access", "error", "output"))
        environment = {
            key: value for key, value in os.environ.items()
            if not key.startswith(("MAIL_", "RATELIMIT_", "SECRET_KEY", "GUNICORN_"))
        }
        environment.update(
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            SECRET_KEY=app.config["SECRET_KEY"],
            PORTAL_BASE_URL=app.config["PORTAL_BASE_URL"],
            MAIL_KEEP_FOLDER=str(tmp_path / "gunicorn-mail"),
            **(env or {}),
        )
        with output.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
                 "--workers", str(workers), "--access-logfile", str(access_log), "--error-logfile", str(error_log),
                 "--capture-output", *args, "wsgi:app"],
                cwd=root, env=environment, stdout=out, stderr=subprocess.STDOUT,
            )
        server = GunicornServer(process, f"http://127.0.0.1:{port}", [access_log, error_log, output])
        servers.append(server)
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "gunicorn exited:\n" + server.log_text()
            assert time.monotonic() < deadline, "gunicorn did not start:\n" + server.log_text()
            booted = server.log_text().count("Booting worker")
            try:
                if booted >= workers and requests.get(server.url + "/", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        # Let every worker finish importing the app before a test races them.
        for _ in range(workers * 2):
            requests.get(server.url + "/", timeout=10)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def door_login(login):
    """Factory: a test client logged in as a door user (role door, named e.g. "Gate 2") of that organizer.

    `role=Role.ADMIN` logs in an organizer user with a name instead.
    """
    from portal.models import Role

    def door_login(organizer_name: str = "Acme Events", *, name: str | None = "Gate 2", role: Role = Role.DOOR):
        return login(organizer_name, role=role, name=name)

    return door_login
