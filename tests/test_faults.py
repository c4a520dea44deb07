"""Faults: a mail server that hangs, a worker killed mid-batch, errors that would leak addresses.

(Down, 4xx and 5xx servers: tests/test_outbox.py. SQLite busy under concurrent writers:
tests/test_races.py::test_many_writers_at_once_all_succeed.)
"""

import asyncio
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from portal.config import TestConfig
from portal.extensions import db
from portal.models import MessageStatus, OutgoingMessage
from portal.models._time import utcnow
from tests.conftest import Mailbox, free_port
from tests.test_outbox import RefusingMailbox, messages
from tests.test_outbox_workers import cli_env, queue_messages

ROOT = Path(__file__).resolve().parent.parent


class SlowMailbox(Mailbox):
    """An SMTP server that takes `delay` seconds to accept each message (after receiving it)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server, session, envelope) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.delay)
        return answer


@pytest.fixture
def mail_server():
    """Start a mailbox on a free port for the rest of the test."""
    controllers = []

    def start(mailbox: Mailbox) -> Mailbox:
        mailbox.port = free_port()
        controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
        controller.start()
        controllers.append(controller)
        return mailbox

    yield start
    for controller in controllers:
        controller.stop()


class TestMailServerTimingOut:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "MAIL_TIMEOUT": 1}

    def test_a_hanging_mail_server_keeps_the_message_queued_with_back_off(self, app, deliver, make_order, mail_server):
        make_order(tickets=1)
        hanging = mail_server(SlowMailbox(delay=5))
        app.extensions["mail"].port = hanging.port

        started = time.monotonic()
        report = deliver()
        took = time.monotonic() - started

        assert took < 4, f"the sender waited {took:.1f}s"  # MAIL_TIMEOUT, not the server, decides
        assert report.failed == 1
        [message] = messages(app)
        assert (message.status, message.attempts) == (MessageStatus.QUEUED, 1)
        assert message.next_attempt_at > utcnow() + timedelta(seconds=30)
        assert "timed out" in message.last_error.lower()

        hanging.delay = 0  # the server recovers; the message goes out on the next try
        with app.app_context():
            db.session.get(OutgoingMessage, message.id).next_attempt_at = utcnow()
            db.session.commit()
        assert deliver().sent == 1
        assert "booker@example.com" in [m["To"] for m in hanging.messages]


def test_worker_killed_mid_batch_loses_nothing_and_sends_at_most_one_twice(app, smtp, make_order, mail_server):
    queue_messages(app, make_order, 30)
    slow = mail_server(SlowMailbox(delay=0.15))
    env = {**cli_env(app, smtp), "MAIL_PORT": str(slow.port), "OUTBOX_CLAIM_LEASE_SECONDS": "2"}
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "worker", "--interval", "0.2"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(slow.messages) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    killed_after = len(slow.messages)
    assert 5 <= killed_after < 31, "the kill did not land in the middle of the batch"
    with app.app_context():
        in_limbo = db.session.scalar(
            select(func.count()).where(OutgoingMessage.status == MessageStatus.SENDING))
    assert in_limbo > 0  # claimed by the dead worker

    time.sleep(2.2)  # the dead worker's claim runs out
    slow.delay = 0
    sender = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "send"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert sender.returncode == 0, sender.stderr

    received = Counter(message["To"] for message in slow.messages)
    expected = {f"friend{n}@example.org" for n in range(30)} | {"booker@example.com"}
    assert set(received) == expected  # none lost
    assert sum(received.values()) - len(expected) <= 1  # only the one in flight may arrive twice
    with app.app_context():
        statuses = dict(db.session.execute(
            select(OutgoingMessage.status, func.count()).group_by(OutgoingMessage.status)).all())
    assert statuses == {MessageStatus.SENT: 31}


def test_delivery_errors_never_log_the_recipients_address(app, runner, make_order, mail_server):
    make_order(tickets=1, booker_email="nobody@example.org")
    refusing = mail_server(RefusingMailbox({"nobody@example.org": "550 5.1.1 <nobody@example.org>: no such user"}))
    app.extensions["mail"].port = refusing.port

    result = runner.invoke(args=["outbox", "send"])

    assert result.exit_code == 1
    [message] = messages(app)
    assert message.status == MessageStatus.FAILED and "550" in message.last_error
    assert "nobody@example.org" not in message.last_error
    assert "550" in result.output and "nobody@example.org" not in result.output


@pytest.mark.skipif(
    TestConfig.SQLALCHEMY_DATABASE_URI.startswith("postgresql"),
    reason="SQLite's whole-database write lock; PostgreSQL locks rows (an import never blocks a claim there)",
)
class TestDatabaseBusy:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "DATABASE_BUSY_TIMEOUT": 1}

    def test_a_claim_while_the_database_is_locked_answers_busy_keeps_what_was_typed_and_saves_nothing(
        self, app, client, smtp, deliver, make_order
    ):
        import re
        import sqlite3

        from portal.models import Order
        from tests.conftest import links_in
        from tests.pages import csrf_token, path_of

        order_id = make_order(tickets=1)
        deliver()
        claim = path_of(links_in(smtp.take_one("booker@example.com"))[0]) + "/tickets/1/claim"
        typed = {"first_name": "Noor", "last_name": "Bakker", "email": "noor@example.org"}
        form = {"csrf_token": csrf_token(client.get(claim).get_data(as_text=True)), **typed}

        # A long import or a backup holds the write lock.
        locker = sqlite3.connect(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"), isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            started = time.monotonic()
            response = client.post(claim, data=form)
            took = time.monotonic() - started
        finally:
            locker.execute("ROLLBACK")
            locker.close()

        assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 9  # Flask-Limiter rounds it down
        assert took < 5, f"the busy answer took {took:.1f} s"  # DATABASE_BUSY_TIMEOUT, far below gunicorn's
        html = response.get_data(as_text=True)
        assert "Busy, please try again" in html
        kept = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
        assert kept == form
        with app.app_context():
            assert db.session.get(Order, order_id).ticket_at(1).status == "open"  # nothing half-written

        again = client.post(claim, data=kept)  # the page's "Try again"
        assert again.status_code == 302
        with app.app_context():
            assert db.session.get(Order, order_id).ticket_at(1).holder_email == "noor@example.org"
        deliver()
        smtp.take_one("noor@example.org")
