"""Mail leaves through the outbox: queued with the change, delivered after, never lost."""

import json
import re
from datetime import timedelta
from email import message_from_bytes
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from portal.extensions import db
from portal.models import MessageStatus, Order, OutgoingMessage
from portal.models._time import utcnow
from portal.services import outbox
from tests.conftest import Mailbox, free_port, links_in
from tests.pages import csrf_token, path_of

DOWN_PORT = free_port()


def overview_path_of(smtp, address="booker@example.com") -> str:
    return path_of(links_in(smtp.take_one(address))[0])


def share_by_email(client, overview_path: str, position: int, address: str) -> None:
    page = client.get(f"{overview_path}/tickets/{position}/share").get_data(as_text=True)
    response = client.post(
        f"{overview_path}/tickets/{position}/share/email", data={"csrf_token": csrf_token(page), "email": address}
    )
    assert response.status_code == 303


def messages(app) -> list[SimpleNamespace]:
    """A snapshot of the outbox, readable after the app context ends."""
    with app.app_context():
        rows = db.session.scalars(select(OutgoingMessage).order_by(OutgoingMessage.id))
        return [SimpleNamespace(**{c.key: getattr(m, c.key) for c in OutgoingMessage.__mapper__.column_attrs}) for m in rows]


class RefusingMailbox(Mailbox):
    """An SMTP server that refuses some recipients, for good (5xx) or for now (4xx)."""

    def __init__(self, refuse: dict[str, str]) -> None:
        super().__init__()
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def server_on():
    """Start a mailbox on a port for the rest of the test; like `smtp`, all its mail must be read."""
    started: list[tuple[Controller, Mailbox]] = []

    def start(mailbox: Mailbox, port: int) -> Mailbox:
        mailbox.port = port
        controller = Controller(mailbox, hostname="127.0.0.1", port=port)
        controller.start()
        started.append((controller, mailbox))
        return mailbox

    yield start
    for controller, mailbox in started:
        controller.stop()
        assert not mailbox.unread(), "unexpected mail"


def test_share_while_server_down_is_kept_and_sent_later(app, client, runner, server_on, make_order):
    """The booker shares while no mail server answers: the share stands, the mail waits."""
    make_order(tickets=2)
    mailbox = server_on(Mailbox(), free_port())
    app.extensions["mail"].port = mailbox.port  # the confirmation goes out through this one
    assert runner.invoke(args=["outbox", "send"]).exit_code == 0
    overview_path = overview_path_of(mailbox)

    app.extensions["mail"].port = DOWN_PORT  # nothing listens here
    share_by_email(client, overview_path, 2, "friend@example.org")
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 1 and "failed: 1" in result.output
    share = messages(app)[-1]
    assert (share.kind, share.status, share.attempts) == ("share", MessageStatus.QUEUED, 1)
    assert "Shared by email with friend@example.org" in client.get(overview_path).get_data(as_text=True)

    server_on(mailbox_back := Mailbox(), DOWN_PORT)
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0 and "sent: 1, failed: 0" in result.output
    share_mail = mailbox_back.take_one("friend@example.org")
    assert client.get(path_of(links_in(share_mail)[0])).status_code == 200
    assert runner.invoke(args=["outbox", "send"]).output.startswith("sent: 0, failed: 0")  # not twice


def test_recipient_refused_for_good_is_marked_failed_on_the_timeline(app, client, smtp, deliver, make_order, server_on):
    order_id = make_order(tickets=2)
    deliver()
    overview_path = overview_path_of(smtp)
    refusing = server_on(RefusingMailbox({"nobody@example.org": "550 5.1.1 No such user"}), free_port())
    app.extensions["mail"].port = refusing.port
    share_by_email(client, overview_path, 1, "nobody@example.org")
    share_by_email(client, overview_path, 2, "friend@example.org")

    report = deliver()
    assert (report.sent, report.failed) == (1, 1)
    refusing.take_one("friend@example.org")
    failed = [m for m in messages(app) if m.recipient == "nobody@example.org"]
    assert [m.status for m in failed] == [MessageStatus.FAILED]
    assert "550" in failed[0].last_error
    with app.app_context():
        kinds = [e.kind for e in db.session.get(Order, order_id).events]
    assert kinds.count("email_failed") == 1
    assert deliver().failed == 0  # not retried


def test_temporary_refusal_is_retried_later_with_back_off(app, client, smtp, deliver, make_order, server_on):
    make_order(tickets=1)
    deliver()
    overview_path = overview_path_of(smtp)
    busy = server_on(RefusingMailbox({"friend@example.org": "451 4.7.1 Try again later"}), free_port())
    app.extensions["mail"].port = busy.port
    share_by_email(client, overview_path, 1, "friend@example.org")
    assert deliver().failed == 1
    [share] = [m for m in messages(app) if m.kind == "share"]
    assert share.status == MessageStatus.QUEUED
    assert share.next_attempt_at > utcnow() + timedelta(seconds=30)

    # The worker respects the back-off: nothing is due yet.
    with app.app_context():
        report, last_id = outbox.deliver_batch()
    assert last_id is None and report.sent == 0

    busy.refuse.clear()
    with app.app_context():
        db.session.get(OutgoingMessage, share.id).next_attempt_at = utcnow()
        db.session.commit()
        report, _ = outbox.deliver_batch()
    assert report.sent == 1
    busy.take_one("friend@example.org")


def test_a_message_claimed_by_a_crashed_sender_is_sent_after_its_claim_runs_out(app, smtp, deliver, make_order):
    make_order(tickets=1)
    with app.app_context():
        message = db.session.scalars(select(OutgoingMessage)).one()
        message.status = MessageStatus.SENDING
        message.claimed_until = utcnow() + timedelta(minutes=1)
        message_id = message.id
        db.session.commit()
    assert deliver().sent == 0  # another sender still holds it
    with app.app_context():
        db.session.get(OutgoingMessage, message_id).claimed_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert deliver().sent == 1
    smtp.take_one("booker@example.com")


class TestWithoutMailServer:
    @pytest.fixture
    def app_config(self, app_config, tmp_path):
        return {**app_config, "MAIL_SERVER": None, "MAIL_KEEP_FOLDER": str(tmp_path / "kept")}

    def test_messages_are_kept_as_eml_files(self, app, runner, make_order, tmp_path):
        make_order(tickets=1)
        result = runner.invoke(args=["outbox", "send"])
        assert result.exit_code == 0, result.output
        [kept] = list((tmp_path / "kept").glob("*.eml"))
        message = message_from_bytes(kept.read_bytes())
        assert message["To"] == "booker@example.com"
        assert "Harbour Jazz Nights" in message["Subject"]
        assert [m.status for m in messages(app)] == [MessageStatus.SENT]


def test_a_message_arrives_exactly_as_written_whatever_its_text(app, smtp, deliver, make_order):
    """Non-ASCII subject and body, a line longer than SMTP allows, a line starting with a dot.

    aiosmtpd refuses a line over 998 bytes, as RFC 5321 lets a server do: the message arrives only if it has none.
    """
    from portal.services import orders

    event = "Zoë’s feest — " + "lang " * 30
    support = "Łukasz’ balie\n.een regel met een punt vooraan\nFrom here " + "Zoë = y " * 140  # one line of 1,100+ bytes
    order_id = make_order(tickets=1, event_name=event, support_contact=support)
    with app.app_context():
        orders.cancel(db.session.get(Order, order_id), actor_label="staff@example.org")
        db.session.commit()
    assert deliver().sent == 2
    confirmation, cancellation = smtp.take("booker@example.com")
    assert confirmation["Subject"] == f"Your tickets for {event}"
    assert confirmation["Message-ID"].startswith("<outbox-")
    assert "Zoë’s feest" in confirmation.get_body(preferencelist=("html",)).get_content()
    plain = cancellation.get_body(preferencelist=("plain",)).get_content()
    assert " ".join(support.split()) in " ".join(plain.split()) and "Hello Sam," in plain


def test_an_address_smtplib_cannot_send_to_fails_alone_and_the_batch_goes_on(app, smtp, deliver, make_order):
    """Such an address can still arrive by other routes (e.g. an old import): one bad message never blocks the rest."""
    make_order(tickets=1, booker_email="zoë@example.org")
    make_order(tickets=1, booker_email="booker@example.com")
    report = deliver()
    assert (report.sent, report.failed) == (1, 1)
    smtp.take_one("booker@example.com")
    failed = [m for m in messages(app) if m.status == MessageStatus.FAILED]
    assert [m.kind for m in failed] == ["confirmation"]


def test_a_line_break_in_a_subject_fails_that_message_alone(app, smtp, deliver, make_order, make_shop):
    """A line break would let the text after it pass for a header of its own (header injection).

    The forms refuse one in an event's name; a name stored by other means must still not get through.
    """
    make_order(tickets=1)
    make_order(tickets=1, booker_email="friend@example.org", event_name="Hi\r\nBcc: everyone@example.org")
    report = deliver()
    assert (report.sent, report.failed) == (1, 1)
    smtp.take_one("booker@example.com")
    [failed] = [m for m in messages(app) if m.status == MessageStatus.FAILED]
    assert (failed.recipient, failed.attempts) == ("friend@example.org", 1)
    assert "line break" in failed.last_error


def outbox_status(runner, *options: str) -> tuple[int, dict]:
    result = runner.invoke(args=["outbox", "status", "--json", *options])
    return result.exit_code, json.loads(result.output.splitlines()[0])


def test_outbox_status_counts_what_waits_fails_and_went_out(app, client, runner, smtp, make_order, server_on):
    make_order(tickets=2)
    code, status = outbox_status(runner, "--max-age", "600")
    assert code == 0
    assert {k: status[k] for k in ("due", "retrying", "sending", "failed", "sent_last_hour")} == {
        "due": 1, "retrying": 0, "sending": 0, "failed": 0, "sent_last_hour": 0}
    assert 0 <= status["oldest_unsent_age_seconds"] < 60

    assert runner.invoke(args=["outbox", "send"]).exit_code == 0
    overview_path = overview_path_of(smtp)
    refusing = server_on(RefusingMailbox({"nobody@example.org": "550 5.1.1 No such user",
                                          "later@example.org": "451 4.7.1 Try again later"}), free_port())
    app.extensions["mail"].port = refusing.port
    share_by_email(client, overview_path, 1, "nobody@example.org")
    share_by_email(client, overview_path, 2, "later@example.org")
    runner.invoke(args=["outbox", "send"])
    code, status = outbox_status(runner)
    assert (status["due"], status["retrying"], status["failed"], status["sent_last_hour"]) == (0, 1, 1, 1)

    # Workers down for two hours: the watch says so, by its exit code.
    with app.app_context():
        db.session.execute(OutgoingMessage.__table__.update().where(OutgoingMessage.status == MessageStatus.QUEUED)
                           .values(created_at=utcnow() - timedelta(hours=2)))
        db.session.commit()
    result = runner.invoke(args=["outbox", "status", "--max-age", "600"])
    assert result.exit_code == 1
    assert "queued:  1 (0 due now, 1 waiting to be tried again)" in result.output
    assert "failed:  1 " in result.output and "sent in the last hour: 1" in result.output
    assert "oldest still to send: queued 120 min ago" in result.output
    assert re.search(r"has waited 7,2\d\d s, more than 600 s", result.output)
