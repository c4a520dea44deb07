"""Shared by the benchmarks: the machine they ran on, a scratch database, an SMTP sink in its own process."""

from __future__ import annotations

import multiprocessing
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import requests
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parent.parent
#: Benchmarks never use the test suite's database (it drops its tables per test).
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:55432/portal_bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine(database_url: str | None = None) -> str:
    """One line: CPU model, cores, RAM, Python, and the database server if one is given."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    ram_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    parts = [
        model,
        f"{os.cpu_count()} cores",
        f"{ram_kib / 1024 / 1024:.1f} GiB RAM",
        f"Python {platform.python_version()}",
    ]
    if database_url:
        parts.append(database_version(database_url))
    return ", ".join(parts)


def database_version(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    # The maintenance database: the benchmark's own may not exist yet on a fresh cluster.
    engine = create_engine(make_url(database_url).set(database="postgres"))
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar()
    finally:
        engine.dispose()
    return f"PostgreSQL {version}"


def fresh_postgres_database(database_url: str) -> str:
    """Drop and create the benchmark's PostgreSQL database; returns its URL."""
    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    finally:
        admin.dispose()
    return database_url


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float | None:
    """CPU time used so far by all PostgreSQL server processes on this machine (None if unreadable)."""
    total = 0.0
    found = False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text_ = stat.read_text()
        except OSError:
            continue
        if "(postgres)" in text_:
            found = True
            fields = text_.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total if found else None


# --- An SMTP server in its own process (so it does not share the sender's GIL) ---------

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class _CountingHandler:
    def __init__(self) -> None:
        self.ids: Counter[str] = Counter()
        self.total = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        headers = envelope.content.split(b"\r\n\r\n", 1)[0]
        match = _MESSAGE_ID.search(headers)
        self.ids[match.group(1).decode() if match else "(none)"] += 1
        self.total += 1
        return "250 OK"


def _serve(port: int, pipe) -> None:
    from aiosmtpd.controller import Controller

    handler = _CountingHandler()
    # A fixed greeting name: otherwise every connection asks the resolver for this host's name.
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="sink.localhost")
    controller.start()
    pipe.send("ready")
    while True:
        command = pipe.recv()
        if command == "count":
            pipe.send(dict(handler.ids))
        elif command == "total":
            pipe.send(handler.total)
        elif command == "reset":
            handler.ids.clear()
            handler.total = 0
            pipe.send("ok")
        else:
            controller.stop()
            pipe.send("stopped")
            return


class SmtpSink:
    """aiosmtpd on loopback in a child process; counts the messages it received by Message-ID."""

    def __init__(self) -> None:
        self.port = free_port()
        context = multiprocessing.get_context("spawn")
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(target=_serve, args=(self.port, child_end), daemon=True)

    def __enter__(self) -> SmtpSink:
        self._process.start()
        assert self._pipe.recv() == "ready"
        return self

    def __exit__(self, *exc) -> None:
        self._pipe.send("stop")
        self._pipe.recv()
        self._process.join(timeout=10)

    def cpu_seconds(self) -> float:
        """CPU time the SMTP server process has used so far."""
        return process_cpu_seconds(self._process.pid)

    def received(self) -> Counter[str]:
        self._pipe.send("count")
        return Counter(self._pipe.recv())

    def total(self) -> int:
        """How many messages arrived, cheaply enough to ask every few milliseconds."""
        self._pipe.send("total")
        return self._pipe.recv()

    def reset(self) -> None:
        self._pipe.send("reset")
        self._pipe.recv()


def start_gunicorn(app: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """`gunicorn -c gunicorn.conf.py APP` on a free loopback port, once it answers; the process and its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", app],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            requests.get(base + "/", timeout=30)
            return process, base
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    stop(process)
    raise SystemExit(f"gunicorn serving {app} did not start")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, and wait for gunicorn to finish its requests and exit."""
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
