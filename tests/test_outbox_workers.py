"""Several outbox senders at once deliver every message exactly once; a worker stops cleanly."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import MessageStatus, OutgoingMessage
from portal.services.outbox import queue_email

ROOT = Path(__file__).resolve().parent.parent


def queue_messages(app, order_id_factory, count: int) -> None:
    """Queue `count` messages the way the product does, in one transaction."""
    order_id = order_id_factory(tickets=1)
    with app.app_context():
        from portal.models import Order

        order = db.session.get(Order, order_id)
        for number in range(count):
            queue_email(
                "share",
                recipient=f"friend{number}@example.org",
                subject=f"Message {number}",
                template="share",
                order=order,
                ticket=order.tickets[0],
                share_url="http://portal.test/t/x",
            )
        db.session.commit()


def cli_env(app, smtp) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp.port),
    }


def test_four_senders_at_once_deliver_each_message_exactly_once(app, smtp, make_order):
    queue_messages(app, make_order, 200)
    env = cli_env(app, smtp)
    senders = [
        subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "send"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [sender.communicate(timeout=120) for sender in senders]
    assert [sender.returncode for sender in senders] == [0, 0, 0, 0], outputs

    received = Counter(message["To"] for message in smtp.messages)
    expected = {f"friend{n}@example.org" for n in range(200)} | {"booker@example.com"}
    assert set(received) == expected
    assert set(received.values()) == {1}
    smtp.read.update(range(len(smtp.messages)))
    sent_counts = [int(out.split("sent: ")[1].split(",")[0]) for out, _ in outputs]
    assert sum(sent_counts) == 201
    with app.app_context():
        statuses = dict(db.session.execute(select(OutgoingMessage.status, func.count()).group_by(OutgoingMessage.status)).all())
    assert statuses == {MessageStatus.SENT: 201}


def test_worker_delivers_as_messages_arrive_and_stops_on_sigterm(app, smtp, make_order):
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "worker", "--interval", "0.2"],
        cwd=ROOT, env=cli_env(app, smtp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        make_order(tickets=1)
        deadline = time.monotonic() + 30
        while not smtp.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        smtp.take_one("booker@example.com")
    finally:
        worker.send_signal(signal.SIGTERM)
        _, errors = worker.communicate(timeout=30)
    assert worker.returncode == 0
    assert "outbox worker stopped" in errors
