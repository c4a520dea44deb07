"""Orders import benchmark: rows/s and peak memory of the import, from the command line and in the background.

    .venv/bin/python bench/import_bench.py [--rows 100000] [--tickets mixed|single] [--via cli,worker] [--base PATH]
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:55432/portal_imports_bench .venv/bin/python bench/import_bench.py

Writes a CSV as a Dutch spreadsheet exports it (BOM, ";" separators, decimal
commas) to a temporary folder. Then, for each way asked for, on a database of
its own (a fresh SQLite file, or DATABASE_URL dropped and created afresh),
migrated and given a shop by `flask demo`:

- `cli`: times `flask --app wsgi orders import FILE --shop ID` in its own process,
  start to exit, and reads its peak RSS and CPU time from the kernel (wait4);
- `worker`: uploads the file on the backoffice's import page to gunicorn (started
  with gunicorn.conf.py), logged in as the demo organizer, then starts one
  `flask --app wsgi outbox worker` and times the import from the worker's claim to
  its commit (the import's own started_at and finished_at), and reads the worker's
  peak RSS and CPU time (the worker is stopped with SIGTERM once the import is done);
- `--base PATH`: the same `cli` run of the code in PATH (e.g. a git worktree of
  main), on a database migrated by that code, in the same run for comparison.

Prints the figures and the machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import requests
from sqlalchemy import create_engine, text

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import ROOT, fresh_postgres_database, machine, start_gunicorn, stop  # noqa: E402

FIRST_NAMES = ["Sanne", "Daan", "Émilie", "Łukasz", "Fatima", "Jan-Willem", "Zoë", "Mohammed", "Anna", "Bram"]
LAST_NAMES = ["de Vries", "Jansen", "Bakker", "Żółć", "El Amrani", "van den Berg", "Visser", "Smit", "O'Brien"]
DOMAINS = ["example.com", "example.nl", "mail.example.org", "voorbeeld.nl"]
TICKET_TYPES = [("Day ticket", 4500), ("Weekend pass", 8950), ("Camping", 2500), ("VIP", 19900)]


def write_csv(path: Path, rows: int, tickets: str, prefix: str) -> int:
    """Write the file row by row (never held in memory); returns the number of tickets in it."""
    rng = random.Random(42)
    total_tickets = 0
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(["Order number", "First name", "Last name", "Email", "Mobile", "Ticket type", "Quantity", "Unit price"])
        for i in range(rows):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = f"{first.lower().replace('ł', 'l')}.{i}@{rng.choice(DOMAINS)}".replace("é", "e").replace("ë", "e")
            mobile = rng.choice([f"06 {rng.randint(10_000_000, 39_999_999)}", f"+316{rng.randint(10_000_000, 39_999_999)}", ""])
            ticket_type, cents = rng.choice(TICKET_TYPES)
            quantity = 1 if tickets == "single" else rng.randint(1, 4)
            total_tickets += quantity
            price = f"{cents // 100},{cents % 100:02d}"
            writer.writerow([f"{prefix}-{i:07d}", first, last, email, mobile, ticket_type, quantity, price])
    return total_tickets


#: Run in the code's own folder, whose portal package comes first on the path (PYTHONPATH too, below).
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


def environment(root: Path, database_url: str, folder: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAIL_")}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="import-bench",
        PORTAL_BASE_URL="https://tickets.example.com",
        MAIL_KEEP_FOLDER=str(folder / "mail"),  # nothing is sent: the worker is stopped once the import is done
        PYTHONPATH=str(root),  # the code of `root`, not this checkout's installed package
    )
    return env


def run(root: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*FLASK, *args], cwd=root, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"flask {' '.join(args)} failed in {root}:\n{result.stdout}\n{result.stderr}")
    return result


class Run(NamedTuple):
    """What one import took."""

    wall_s: float
    #: User and system CPU seconds: unlike wall time, hardly slowed by other work on the machine.
    cpu_s: float
    peak_rss_mib: int
    output: str


def timed_cli(root: Path, csv_path: Path, shop_id: int, env: dict[str, str], log: Path) -> Run:
    with log.open("w") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*FLASK, "orders", "import", str(csv_path), "--shop", str(shop_id)],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"the import failed:\n{log.read_text()[-3000:]}")
    # ru_maxrss is in KiB on Linux.
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, log.read_text().splitlines()[0])


def _csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def logged_in(base: str, demo: dict) -> requests.Session:
    session = requests.Session()
    login = session.get(base + "/backoffice/login", timeout=30)
    session.post(base + "/backoffice/login", timeout=30, data={
        "csrf_token": _csrf_token(login.text), "email": demo["organizer_email"], "password": demo["organizer_password"],
    }).raise_for_status()
    return session


def upload(session: requests.Session, base: str, shop_id: int, csv_path: Path) -> tuple[float, str]:
    """The file uploaded on the import page: seconds until the answer, and the import page it led to."""
    path = f"{base}/backoffice/shops/{shop_id}/import"
    form = session.get(path, timeout=30)
    with csv_path.open("rb") as file:
        started = time.perf_counter()
        response = session.post(path, data={"csrf_token": _csrf_token(form.text)}, timeout=600,
                                files={"file": (csv_path.name, file, "text/csv")}, allow_redirects=False)
        elapsed = time.perf_counter() - started
    if response.status_code != 303:
        sys.exit(f"the upload was answered {response.status_code}:\n{response.text[-3000:]}")
    return elapsed, response.headers["Location"]


def in_the_background(csv_path: Path, demo: dict, env: dict[str, str], database_url: str) -> tuple[Run, float]:
    """Upload to gunicorn, then one worker imports: the import's run (claim to commit) and the upload's seconds."""
    process, base = start_gunicorn("wsgi:app", env)
    try:
        upload_s, location = upload(logged_in(base, demo), base, demo["shop_id"], csv_path)
    finally:
        stop(process)
    import_id = int(location.rsplit("/", 1)[1])
    worker = subprocess.Popen([*FLASK, "outbox", "worker", "--interval", "0.2"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    engine = create_engine(database_url)
    try:
        while True:
            with engine.connect() as connection:
                status, started, finished, errors = connection.execute(
                    text("SELECT status, started_at, finished_at, errors FROM order_import WHERE id = :id"), {"id": import_id}
                ).one()
            if status in ("done", "failed"):
                # The worker's own peak (VmHWM). Not wait4's ru_maxrss: Linux carries into a child the peak
                # of the process it was spawned from, here this one, which held the uploaded file.
                peak_mib = _peak_rss_kib(worker.pid) // 1024
                break
            if worker.poll() is not None:
                sys.exit(f"the worker exited:\n{worker.stderr.read()[-3000:]}")
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, _, usage = os.wait4(worker.pid, 0)
        engine.dispose()
    if status != "done":
        sys.exit(f"the import failed: {errors}")
    if isinstance(started, str):  # SQLite
        started, finished = datetime.fromisoformat(started), datetime.fromisoformat(finished)
    run = Run((finished - started).total_seconds(), usage.ru_utime + usage.ru_stime, peak_mib, f"import {import_id}: done")
    return run, upload_s


def _peak_rss_kib(pid: int) -> int:
    """The process's peak resident memory so far (Linux: VmHWM)."""
    return int(re.search(r"^VmHWM:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE).group(1))


def fresh_database(folder: Path, name: str) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{folder / (name + '.sqlite3')}"
    return fresh_postgres_database(url)


def counted(database_url: str, prefix: str) -> dict[str, int]:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        counts = {
            table: connection.execute(
                text(f'SELECT count(*) FROM "{table}" WHERE {where}'), {"prefix": f"{prefix}-%"}
            ).scalar_one()
            for table, where in [
                ("order", "number LIKE :prefix"),
                ("ticket", 'order_id IN (SELECT id FROM "order" WHERE number LIKE :prefix)'),
                ("outgoing_message", 'order_id IN (SELECT id FROM "order" WHERE number LIKE :prefix)'),
            ]
        }
    engine.dispose()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--tickets", choices=["mixed", "single"], default="mixed",
        help="mixed: each row an order of 1-4 tickets; single: each row an order of 1 ticket",
    )
    parser.add_argument("--via", default="cli,worker",
                        help="cli: `flask orders import`; worker: an upload to gunicorn, imported by `flask outbox worker`")
    parser.add_argument("--base", type=Path, help="also time `flask orders import` of the code in this folder")
    options = parser.parse_args()
    ways = [way.strip() for way in options.via.split(",") if way.strip()]

    with tempfile.TemporaryDirectory(prefix="import-bench-") as folder_name:
        folder = Path(folder_name)
        prefix = f"B{secrets.token_hex(3).upper()}"
        csv_path = folder / "orders.csv"
        started = time.perf_counter()
        tickets = write_csv(csv_path, options.rows, options.tickets, prefix)
        print(f"wrote {options.rows:,} rows ({tickets:,} tickets, {csv_path.stat().st_size / 2**20:.1f} MiB) "
              f"in {time.perf_counter() - started:.1f} s")

        variants = ([("base cli", options.base.resolve())] if options.base else []) + [(way, ROOT) for way in ways]
        results = []
        for name, root in variants:
            database_url = fresh_database(folder, name.replace(" ", "-"))
            env = environment(root, database_url, folder)
            run(root, ["db", "upgrade"], env)
            demo = json.loads(run(root, ["demo", "--json", "--tickets", "1"], env).stdout)
            load_before = os.getloadavg()[0]
            upload_s = None
            if name == "worker":
                result, upload_s = in_the_background(csv_path, demo, env, database_url)
            else:
                result = timed_cli(root, csv_path, demo["shop_id"], env, folder / f"{name}.log")
            load_after = os.getloadavg()[0]
            counts = counted(database_url, prefix)
            if counts != {"order": options.rows, "ticket": tickets, "outgoing_message": options.rows}:
                sys.exit(f"{name}: unexpected row counts after the import: {counts}")
            results.append((name, result, upload_s, load_before, load_after))
            print(f"{name}: {result.output}", flush=True)

        print(f"date:          {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
        print(f"machine:       {machine(os.environ.get('DATABASE_URL') or 'sqlite://')}")
        print(f"rows:          {options.rows:,} ({options.tickets}: {tickets:,} tickets; as many orders and emails queued)")
        for name, result, upload_s, load_before, load_after in results:
            what = "claim to commit" if name == "worker" else "process start to exit"
            print(f"{name:12s}  {options.rows / result.wall_s:8,.0f} rows/s  {result.wall_s:7.2f} s ({what})  "
                  f"CPU {result.cpu_s:6.2f} s ({result.cpu_s / options.rows * 1e6:.0f} µs/row)  "
                  f"peak RSS {result.peak_rss_mib} MiB  load {load_before:.1f} → {load_after:.1f}"
                  + (f"  upload answered in {upload_s:.2f} s" if upload_s is not None else ""))


if __name__ == "__main__":
    main()
