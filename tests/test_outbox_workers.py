"""Several outbox senders at once deliver every message exactly once; a worker stops cleanly."""

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import MessageStatus, OutgoingMessage
from portal.services import outbox
from tests.conftest import Mailbox, free_port

ROOT = Path(__file__).resolve().parent.parent


def queue_messages(app, order_id_factory, count: int) -> None:
    """Queue `count` messages the way the product does, in one transaction."""
    order_id = order_id_factory(tickets=1)
    with app.app_context():
        from portal.models import Order

        order = db.session.get(Order, order_id)
        ticket = order.tickets[0]
        for number in range(count):
            outbox.queue(
                "share",
                recipient=f"friend{number}@example.org",
                language="en",
                order=order,
                ticket=ticket,
                share_version=ticket.share_version,
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


def start_workers(app, smtp, count: int) -> list[subprocess.Popen]:
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "worker", "--interval", "0.1"],
            cwd=ROOT, env=cli_env(app, smtp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(count)
    ]
    for worker in workers:
        assert "outbox worker started" in worker.stderr.readline()
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> list[str]:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    outputs = [worker.communicate(timeout=30) for worker in workers]
    assert [worker.returncode for worker in workers] == [0] * len(workers), outputs
    return [out for out, _ in outputs]


def statuses(app) -> dict[str, int]:
    with app.app_context():
        counts = db.session.execute(select(OutgoingMessage.status, func.count()).group_by(OutgoingMessage.status)).all()
        db.session.remove()
    return dict(counts)


def test_four_workers_at_once_deliver_each_message_exactly_once(app, smtp, make_order):
    workers = start_workers(app, smtp, 4)
    try:
        queue_messages(app, make_order, 200)
        deadline = time.monotonic() + 60
        while statuses(app).get(MessageStatus.SENT, 0) < 201 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        outputs = stop_workers(workers)

    received = Counter(message["Message-ID"] for message in smtp.messages)
    assert len(received) == 201 and set(received.values()) == {1}
    smtp.read.update(range(len(smtp.messages)))
    assert statuses(app) == {MessageStatus.SENT: 201}
    assert sum(int(n) for out in outputs for n in re.findall(r"sent: (\d+)", out)) == 201


class SlowMailbox(Mailbox):
    """Takes its time to accept each message, and says when one has started arriving."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.receiving = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:
        self.receiving.set()
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_smtp():
    mailbox = SlowMailbox(delay=1.5)
    mailbox.port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    yield mailbox
    controller.stop()


def test_sigterm_during_a_send_finishes_that_message_and_hands_back_the_rest(app, smtp, slow_smtp, make_order):
    queue_messages(app, make_order, 3)
    [worker] = start_workers(app, slow_smtp, 1)
    try:
        assert slow_smtp.receiving.wait(timeout=30), "the worker never started sending"
        worker.send_signal(signal.SIGTERM)  # while the server is still taking the first message
        _, errors = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0 and "outbox worker stopped" in errors

    # The message in hand went out once and is marked sent; the others wait, unclaimed, for the next worker.
    assert [m["To"] for m in slow_smtp.messages] == ["booker@example.com"]
    assert statuses(app) == {MessageStatus.SENT: 1, MessageStatus.QUEUED: 3}
    slow_smtp.delay = 0
    [worker] = start_workers(app, slow_smtp, 1)
    try:
        deadline = time.monotonic() + 30
        while statuses(app).get(MessageStatus.SENT, 0) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop_workers([worker])
    received = Counter(message["Message-ID"] for message in slow_smtp.messages)
    assert len(received) == 4 and set(received.values()) == {1}


#: Passes email_validator's IDNA 2008 check, not the IDNA 2003 codec that encodes it for SMTP
#: (a right-to-left label that ends in a digit).
UNSENDABLE = "eve@\u05d0\u05d11.example"


def test_an_address_the_mail_layer_cannot_encode_fails_alone_and_the_worker_delivers_the_rest(
    app, smtp, make_order, login
):
    """One stored address that cannot be put on the wire is its message's failure, on its order's timeline."""
    shop_id = make_order(tickets=1, booker_email="first@example.com")
    with app.app_context():
        from portal.models import Order

        shop_id = db.session.get(Order, shop_id).shop_id
    bad_order = make_order(tickets=1, shop_id=shop_id, booker_email=UNSENDABLE)
    for n in range(4):
        make_order(tickets=1, shop_id=shop_id, booker_email=f"after{n}@example.com")
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "worker", "--interval", "0.2"],
        cwd=ROOT, env=cli_env(app, smtp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while len(smtp.messages) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # a worker that died on the bad message would be gone by now
        assert worker.poll() is None, "the worker exited"
    finally:
        worker.send_signal(signal.SIGTERM)
        _, errors = worker.communicate(timeout=30)
    assert worker.returncode == 0, errors
    for address in ["first@example.com", *(f"after{n}@example.com" for n in range(4))]:
        smtp.take_one(address)
    assert statuses(app) == {"sent": 5, "failed": 1}
    page = login("Acme Events").get(f"/backoffice/orders/{bad_order}").get_data(as_text=True)
    assert "Email could not be delivered: order confirmation" in page
