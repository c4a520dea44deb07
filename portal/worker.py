"""The background worker that `flask --app wsgi outbox worker` runs: mail, imports, and any other work that is due.

Each round gives every job its turn. A job does one piece of work that is due and
says whether there may be more right away; when no job had anything to do, the
worker sleeps for the interval. Every job claims its work in the database, so
several workers, on several machines, never do one piece twice; an error in one
round is logged and the worker goes on (a supervisor restarting it would not help).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import click
from flask import current_app

from portal.extensions import db
from portal.models._time import utcnow
from portal.services import import_jobs, outbox, personalisation, reminders


@dataclass(frozen=True)
class Job:
    """One kind of background work."""

    name: str
    #: Does one piece of due work (it may ask `stopping()` to end early); True when there may be more now.
    run: Callable[[Callable[[], bool]], bool]


def print_report(report: outbox.DeliveryReport) -> None:
    """What a round of delivery did: counts on standard output, each failure on standard error."""
    click.echo(f"sent: {report.sent}, failed: {report.failed}")
    for error in report.errors:
        click.echo(f"  {error}", err=True)


def _deliver_mail(stopping: Callable[[], bool]) -> bool:
    report, last_id = outbox.deliver_batch(stop=stopping)
    if report.sent or report.failed:
        print_report(report)
    # A batch with failures may leave messages that are due again only later: rest before looking again.
    return last_id is not None and not report.failed


class Every:
    """Work done at most once per a number of seconds read from the config (the first time at once)."""

    def __init__(self, setting: str, work: Callable[[Callable[[], bool]], bool]) -> None:
        self.setting, self.work = setting, work
        self.last: float | None = None

    def __call__(self, stopping: Callable[[], bool]) -> bool:
        started = time.monotonic()
        if self.last is not None and started - self.last < current_app.config[self.setting]:
            return False
        self.last = started
        return self.work(stopping)


def _send_timed_mail(stopping: Callable[[], bool]) -> bool:
    """What `flask reminders send` does; True when it queued mail, for the mail job to deliver at once."""
    report = reminders.send_due(utcnow())
    if report != reminders.Report():
        click.echo(str(report))
        return True
    return False


#: The worker's jobs, in the order they get their turn.
JOBS: list[Job] = [
    Job("link requests", personalisation.answer_link_requests),
    Job("mail", _deliver_mail),
    # An import takes one worker for as long as it runs (minutes for a large file); the others deliver meanwhile.
    Job("imports", import_jobs.run_next),
    Job("reminders", Every("REMINDERS_INTERVAL_SECONDS", _send_timed_mail)),
]


def send_all_now() -> outbox.DeliveryReport:
    """`flask outbox send`: answer the waiting link requests, then try every queued message once."""
    while personalisation.answer_link_requests(lambda: False):
        pass
    return outbox.deliver_queued()


def run(interval: float) -> None:
    """Run the jobs until SIGTERM or SIGINT (which let the work in hand finish)."""
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo("outbox worker started", err=True)
    while not stopping:
        busy = False
        for job in JOBS:
            if stopping:
                break
            try:
                busy |= job.run(lambda: stopping)
            except Exception:  # noqa: BLE001 (the database or mail server away for a moment: try again, never exit)
                current_app.logger.exception("worker: %s failed; trying again in %s s", job.name, interval)
            finally:
                db.session.remove()
        if not busy and not stopping:
            time.sleep(interval)
    click.echo("outbox worker stopped", err=True)
