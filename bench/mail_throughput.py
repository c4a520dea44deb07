"""Outbox throughput: queued emails delivered to a local SMTP server by 1 and by 4 `outbox worker`s.

    .venv/bin/python bench/mail_throughput.py [--messages 10000] [--workers 1,4] [--database-url URL]

Uses a scratch PostgreSQL database (default portal_bench on 127.0.0.1:55432; dropped
and created afresh). aiosmtpd runs in its own process and counts what arrives by
Message-ID. For each worker count: start the workers on an empty queue, queue
the messages in one transaction (order confirmations, each with its timeline
entry written on delivery), time until every message is marked sent, stop the
workers with SIGTERM, then check that each message arrived exactly once.
CPU per message is counted over the timed part only (the workers' start-up is
shown on its own).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import delete, func, select  # noqa: E402

from bench.common import (  # noqa: E402
    DEFAULT_PG_URL,
    ROOT,
    SmtpSink,
    fresh_postgres_database,
    machine,
    postgres_cpu_seconds,
    process_cpu_seconds,
)
from bench.scratch_app import make_order  # noqa: E402

SECRET_KEY = "bench-secret-key"


def make_app(database_url: str):
    from portal import create_app
    from portal.config import Config

    return create_app(Config, {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": SECRET_KEY})


def prepare(app) -> int:
    """Empty tables and one demo order (its own confirmation removed); returns the order's id."""
    from portal.extensions import db
    from portal.models import OutgoingMessage

    with app.app_context():
        db.drop_all()
        db.create_all()
    order_id = make_order(app, 1)
    with app.app_context():
        db.session.execute(delete(OutgoingMessage))
        db.session.commit()
    return order_id


def queue(app, order_id: int, count: int) -> None:
    """Queue `count` confirmation emails in one transaction, as an import would."""
    from portal.extensions import db
    from portal.models import Order
    from portal.services.outbox import queue_rendered
    from portal.services.personalisation import overview_link_email

    with app.app_context():
        message = overview_link_email(db.session.get(Order, order_id))
        rows = [{**message, "recipient": f"booker{n}@example.com"} for n in range(count)]
        for start in range(0, count, 2000):
            queue_rendered(rows[start : start + 2000])
        db.session.commit()


def status_counts(app) -> dict[str, int]:
    from portal.extensions import db
    from portal.models import OutgoingMessage

    with app.app_context():
        counts = dict(db.session.execute(select(OutgoingMessage.status, func.count()).group_by(OutgoingMessage.status)).all())
        db.session.remove()
    return counts


def expected_ids(app) -> set[str]:
    from portal.extensions import db
    from portal.models import OutgoingMessage

    with app.app_context():
        ids = {f"<outbox-{i}@ticket-portal>" for i in db.session.scalars(select(OutgoingMessage.id))}
        db.session.remove()
    return ids


def timeline_entries(app) -> int:
    from portal.extensions import db
    from portal.models import OrderEvent
    from portal.services import history

    with app.app_context():
        count = db.session.scalar(select(func.count()).where(OrderEvent.kind == history.EMAIL_SENT))
        db.session.remove()
    return count


def run(app, env: dict[str, str], sink: SmtpSink, workers: int, count: int) -> dict[str, object]:
    order_id = prepare(app)
    sink.reset()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "worker", "--interval", "0.05"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(workers)
    ]
    try:
        for process in processes:
            assert "outbox worker started" in process.stderr.readline()
        queue(app, order_id, count)
        # Start-up (imports, the app, the first empty polls) is over before the clock starts;
        # it is left out of the workers' CPU per message too and shown on its own.
        startup_cpu = [process_cpu_seconds(p.pid) for p in processes]
        sink_cpu, pg_cpu = sink.cpu_seconds(), postgres_cpu_seconds()
        started = time.perf_counter()
        deadline = started + 600
        # Ask the SMTP server (cheap) until everything arrived, then the database until all is marked sent:
        # counting 10,000 rows every few milliseconds would load the database being measured.
        while sink.total() < count or status_counts(app).get("sent", 0) < count:
            if time.perf_counter() > deadline:
                raise SystemExit(f"timed out: {status_counts(app)}")
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        worker_cpu = sum(process_cpu_seconds(p.pid) for p in processes) - sum(startup_cpu)
        sink_cpu = sink.cpu_seconds() - sink_cpu
        pg_cpu = postgres_cpu_seconds() - pg_cpu if pg_cpu is not None else None
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait()
    received = sink.received()
    expected = expected_ids(app)
    exactly_once = set(received) == expected and set(received.values()) == {1}
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    return {
        "workers": workers,
        "messages": count,
        "seconds": elapsed,
        "rate": count / elapsed,
        "exactly_once": exactly_once,
        "duplicates": duplicates,
        "missing": len(expected - set(received)),
        "timeline": timeline_entries(app),
        "statuses": status_counts(app),
        "exit_codes": [p.returncode for p in processes],
        "startup_cpu_s": sum(startup_cpu) / workers,
        "cpu_ms": {
            "workers": 1000 * worker_cpu / count,
            "SMTP server": 1000 * sink_cpu / count,
            "PostgreSQL": 1000 * pg_cpu / count if pg_cpu is not None else float("nan"),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", default="1,4", help="comma-separated worker counts, one run each")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG_URL))
    args = parser.parse_args()
    database_url = args.database_url
    if database_url.startswith("postgresql"):
        fresh_postgres_database(database_url)
    print(f"machine: {machine(database_url)}")
    app = make_app(database_url)
    results = []
    with SmtpSink() as sink:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET_KEY,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(sink.port),
        }
        for workers in [int(w) for w in args.workers.split(",")]:
            result = run(app, env, sink, workers, args.messages)
            results.append(result)
            print(
                f"{workers} worker(s): {result['messages']} messages in {result['seconds']:.2f} s = "
                f"{result['rate']:.0f} messages/s; each arrived exactly once: {result['exactly_once']} "
                f"(duplicates {result['duplicates']}, missing {result['missing']}); "
                f"timeline entries {result['timeline']}; statuses {result['statuses']}; exit codes {result['exit_codes']}"
            )
            cpu = ", ".join(f"{name} {ms:.2f}" for name, ms in result["cpu_ms"].items())
            print(
                f"    CPU ms per message: {cpu}, total {sum(result['cpu_ms'].values()):.2f}; "
                f"start-up (not counted) {result['startup_cpu_s']:.2f} s CPU per worker; "
                f"machine load average {os.getloadavg()[0]:.1f}"
            )
    if len(results) > 1:
        base = results[0]["rate"]
        for result in results[1:]:
            print(f"{result['workers']} workers / {results[0]['workers']}: {result['rate'] / base:.2f}x")
    if not all(r["exactly_once"] for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
