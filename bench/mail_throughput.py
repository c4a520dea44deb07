"""Outbox throughput: queued emails delivered to a local SMTP server by 1 and by 4 `outbox worker`s.

    .venv/bin/python bench/mail_throughput.py [--messages 10000] [--workers 1,4] [--database-url URL]
                                              [--code DIR[,DIR...]]

Each `--code` is a checkout of the portal (default: this one); give an older one too
to measure before and after on the same machine in one run, each checkout in turn
per worker count. For each run: a fresh scratch PostgreSQL database (default
portal_bench on 127.0.0.1:55432) migrated by that checkout (`flask db upgrade`),
the workers started on an empty queue, then `flask demo --orders N --tickets 1`
queues N order confirmations in one transaction (each confirmation's timeline
entry is written on delivery). The rate is timed by the messages' own sent_at, from
the first to the last (the workers start on the demo's commit, before its process
has exited); then the workers are stopped with SIGTERM and each message is checked
to have arrived exactly once (aiosmtpd in its own process counts them by
Message-ID). CPU per message is counted from the workers' start-up to the last
message: the workers' own, the SMTP server's and PostgreSQL's (which includes the
demo command's queries).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.common import (  # noqa: E402
    DEFAULT_PG_URL,
    ROOT,
    SmtpSink,
    fresh_postgres_database,
    machine,
    postgres_cpu_seconds,
    process_cpu_seconds,
)

SECRET_KEY = "bench-secret-key"


def flask(code: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`flask --app wsgi …` of the checkout `code` (its own `portal` package first on the path)."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=code, env={**env, "PYTHONPATH": str(code)}, check=True, capture_output=True, text=True,
    )


def counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            statuses = dict(connection.execute(text("SELECT status, count(*) FROM outgoing_message GROUP BY status")).all())
            sent = connection.execute(text("SELECT count(*) FROM order_event WHERE kind = 'email_sent'")).scalar()
            ids = {f"<outbox-{i}@ticket-portal>" for i in connection.scalars(text("SELECT id FROM outgoing_message"))}
    finally:
        engine.dispose()
    return {"statuses": statuses, "timeline": sent, "ids": ids}


def run(code: Path, database_url: str, env: dict[str, str], sink: SmtpSink, workers: int, count: int) -> dict:
    fresh_postgres_database(database_url)
    flask(code, env, "db", "upgrade")
    sink.reset()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "worker", "--interval", "0.05"],
            cwd=code, env={**env, "PYTHONPATH": str(code)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(workers)
    ]
    try:
        for process in processes:
            assert "outbox worker started" in process.stderr.readline()
        # Start-up (imports, the app, the first empty polls) is over before the clock starts;
        # it is left out of the workers' CPU per message too.
        startup_cpu = [process_cpu_seconds(p.pid) for p in processes]
        sink_cpu, pg_cpu = sink.cpu_seconds(), postgres_cpu_seconds()
        flask(code, env, "demo", "--orders", str(count), "--tickets", "1")
        # The workers may start sending before the demo process has exited: the rate is timed
        # from the messages' own sent_at stamps (first to last), not from here.
        deadline = time.perf_counter() + 900
        engine = create_engine(database_url)
        with engine.connect() as connection:
            while True:
                if sink.total() >= count:
                    sent = connection.execute(text("SELECT count(*) FROM outgoing_message WHERE status = 'sent'")).scalar()
                    connection.rollback()
                    if sent >= count:
                        break
                if time.perf_counter() > deadline:
                    raise SystemExit("timed out")
                time.sleep(0.02)
            first, last = connection.execute(text("SELECT min(sent_at), max(sent_at) FROM outgoing_message")).one()
        engine.dispose()
        # A message's sent_at is stamped as it is marked; one message's time is added for the first.
        elapsed = (last - first).total_seconds() * count / (count - 1)
        worker_cpu = sum(process_cpu_seconds(p.pid) for p in processes) - sum(startup_cpu)
        sink_cpu = sink.cpu_seconds() - sink_cpu
        pg_cpu = postgres_cpu_seconds() - pg_cpu if pg_cpu is not None else None
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait()
    received = sink.received()
    stored = counts(database_url)
    return {
        "code": code,
        "workers": workers,
        "messages": count,
        "seconds": elapsed,
        "rate": count / elapsed,
        "exactly_once": set(received) == stored["ids"] and set(received.values()) == {1},
        "duplicates": sum(n - 1 for n in received.values() if n > 1),
        "missing": len(stored["ids"] - set(received)),
        "timeline": stored["timeline"],
        "statuses": stored["statuses"],
        "exit_codes": [p.returncode for p in processes],
        "cpu_ms": {
            "workers": 1000 * worker_cpu / count,
            "SMTP server": 1000 * sink_cpu / count,
            # The demo command's own queries are in this figure too: it queued the messages while it ran.
            "PostgreSQL": 1000 * pg_cpu / count if pg_cpu is not None else float("nan"),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", default="1,4", help="comma-separated worker counts, one run each")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG_URL))
    parser.add_argument("--code", default=str(ROOT), help="comma-separated checkouts of the portal to measure in turn")
    args = parser.parse_args()
    if args.messages < 2:
        parser.error("--messages must be at least 2: the rate is timed from the first message sent to the last")
    codes = [Path(code).resolve() for code in args.code.split(",")]
    print(f"machine: {machine(args.database_url)}")
    results = []
    with SmtpSink() as sink:
        env = {
            **os.environ,
            "DATABASE_URL": args.database_url,
            "SECRET_KEY": SECRET_KEY,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(sink.port),
        }
        for workers in [int(w) for w in args.workers.split(",")]:
            for code in codes:
                result = run(code, args.database_url, env, sink, workers, args.messages)
                results.append(result)
                print(
                    f"{code.name}, {workers} worker(s): {result['messages']} messages in {result['seconds']:.2f} s = "
                    f"{result['rate']:.0f} messages/s; each arrived exactly once: {result['exactly_once']} "
                    f"(duplicates {result['duplicates']}, missing {result['missing']}); "
                    f"timeline entries {result['timeline']}; statuses {result['statuses']}; exit codes {result['exit_codes']}"
                )
                cpu = ", ".join(f"{name} {ms:.2f}" for name, ms in result["cpu_ms"].items())
                print(f"    CPU ms per message: {cpu}; load average {os.getloadavg()[0]:.1f}", flush=True)
    if not all(r["exactly_once"] for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
