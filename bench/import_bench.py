"""Orders import benchmark: rows/s and peak memory of `flask orders import` on a large CSV.

    .venv/bin/python bench/import_bench.py [--rows 100000] [--tickets mixed|single] [--via cli|backoffice]

Writes a CSV as a Dutch spreadsheet exports it (BOM, ";" separators, decimal
commas) to a temporary folder, creates a fresh SQLite database there (or uses
DATABASE_URL, e.g. a PostgreSQL database), makes a shop with `flask demo`, then
times `flask --app wsgi orders import` in its own process and reads that
process's peak RSS from the kernel (wait4). Prints the figures and the machine.

`--via backoffice` uploads the file through the backoffice's import page instead,
to gunicorn started with gunicorn.conf.py (its worker timeout included), logged
in as the demo organizer: the wall time of the upload, and the peak RSS and CPU
time of the gunicorn workers.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import re
import secrets
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

from bench.common import ROOT, process_cpu_seconds, start_gunicorn, stop  # noqa: E402

FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]

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


def run(args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*FLASK, *args], cwd=ROOT, env=env, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


class Run(NamedTuple):
    """What one flask command took, in its own process."""

    wall_s: float
    #: User and system CPU seconds: unlike wall time, hardly slowed by other work on the machine.
    cpu_s: float
    peak_rss_mib: int
    exit_code: int


def timed(args: list[str], env: dict[str, str], log: Path) -> Run:
    with log.open("w") as out:
        started = time.perf_counter()
        process = subprocess.Popen([*FLASK, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
    # ru_maxrss is in KiB on Linux.
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, os.waitstatus_to_exitcode(status))


def _csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def _worker_figures(pids: list[int]) -> tuple[float, int]:
    """CPU seconds so far and the largest peak RSS (MiB) of these gunicorn workers."""
    peak_kib = max(
        int(re.search(r"^VmHWM:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE).group(1))
        for pid in pids
    )
    return sum(map(process_cpu_seconds, pids)), peak_kib // 1024


def uploaded(csv_path: Path, demo: dict, env: dict[str, str]) -> Run:
    """The file uploaded on the backoffice's import page, as an organizer would, to gunicorn."""
    process, base = start_gunicorn("wsgi:app", env)
    try:
        workers = [int(pid) for pid in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()]
        session = requests.Session()
        login = session.get(base + "/backoffice/login", timeout=30)
        session.post(base + "/backoffice/login", timeout=30, data={
            "csrf_token": _csrf_token(login.text), "email": demo["organizer_email"], "password": demo["organizer_password"],
        }).raise_for_status()
        path = f"{base}/backoffice/shops/{demo['shop_id']}/import"
        form = session.get(path, timeout=30)
        cpu_before, _ = _worker_figures(workers)
        started = time.perf_counter()
        with csv_path.open("rb") as file:
            try:
                response = session.post(path, data={"csrf_token": _csrf_token(form.text)}, timeout=3600,
                                        files={"file": (csv_path.name, file, "text/csv")})
            except requests.ConnectionError as error:
                sys.exit(f"the upload failed after {time.perf_counter() - started:.1f} s: {error}")
        elapsed = time.perf_counter() - started
        cpu_after, peak_mib = _worker_figures(workers)
    finally:
        stop(process)
    if response.status_code != 200 or "new orders imported" not in response.text:
        sys.exit(f"the upload was answered {response.status_code}:\n{response.text[-3000:]}")
    return Run(elapsed, cpu_after - cpu_before, peak_mib, 0)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--tickets", choices=["mixed", "single"], default="mixed",
        help="mixed: each row an order of 1-4 tickets; single: each row an order of 1 ticket",
    )
    parser.add_argument(
        "--via", choices=["cli", "backoffice"], default="cli",
        help="cli: `flask orders import`; backoffice: an upload on the import page, to gunicorn",
    )
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="import-bench-") as folder:
        folder_path = Path(folder)
        database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{folder_path / 'bench.sqlite3'}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "import-bench",
            "PORTAL_BASE_URL": "https://tickets.example.com",
        }
        env.pop("MAIL_SERVER", None)  # the import only queues mail; nothing is sent

        # Order numbers unique per run, so a shared PostgreSQL database can be reused.
        prefix = f"B{secrets.token_hex(3).upper()}"
        csv_path = folder_path / "orders.csv"
        started = time.perf_counter()
        tickets = write_csv(csv_path, options.rows, options.tickets, prefix)
        print(f"wrote {options.rows:,} rows ({tickets:,} tickets, {csv_path.stat().st_size / 2**20:.1f} MiB) "
              f"in {time.perf_counter() - started:.1f} s")

        run(["db", "upgrade"], env)
        demo = json.loads(run(["demo", "--json", "--tickets", "1"], env).stdout)
        baseline = timed(["orders", "--help"], env, folder_path / "baseline.log")

        log = folder_path / "import.log"
        load_before = os.getloadavg()[0]
        if options.via == "backoffice":
            result = uploaded(csv_path, demo, env)
            output = f"uploaded on the backoffice's import page: {options.rows:,} new orders imported"
        else:
            result = timed(["orders", "import", str(csv_path), "--shop", str(demo["shop_id"])], env, log)
            output = log.read_text()
        load_after = os.getloadavg()[0]
        if result.exit_code != 0:
            sys.exit(f"import failed (exit {result.exit_code}):\n{output[-3000:]}")

        engine = create_engine(database_url)
        with engine.connect() as connection:
            counts = {
                table: connection.execute(
                    text(f'SELECT count(*) FROM "{table}" WHERE {where}'), {"prefix": f"{prefix}-%"}
                ).scalar_one()
                for table, where in [
                    ("order", "number LIKE :prefix"),
                    ("ticket", 'order_id IN (SELECT id FROM "order" WHERE number LIKE :prefix)'),
                    ("order_event", 'order_id IN (SELECT id FROM "order" WHERE number LIKE :prefix)'),
                    ("outgoing_message", 'order_id IN (SELECT id FROM "order" WHERE number LIKE :prefix)'),
                ]
            }
            backend = f"{engine.dialect.name} {'.'.join(map(str, engine.dialect.server_version_info or ()))}"
        engine.dispose()
        if counts["order"] != options.rows or counts["ticket"] != tickets or counts["outgoing_message"] != options.rows:
            sys.exit(f"unexpected row counts after import: {counts}")

        print(f"import output: {output.strip().splitlines()[0]}")
        print(f"date:          {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
        print(f"machine:       {machine()}")
        print(f"load average:  {load_before:.2f} before, {load_after:.2f} after (other work on the machine slows the figures)")
        print(f"database:      {backend}")
        print(f"rows:          {options.rows:,} ({options.tickets}: {tickets:,} tickets; "
              f"{counts['order']:,} orders, {counts['order_event']:,} events, {counts['outgoing_message']:,} emails queued)")
        if options.via == "backoffice":
            print(f"wall time:     {result.wall_s:.2f} s (the upload's POST until its answer, commit included; "
                  f"gunicorn.conf.py's worker timeout: {gunicorn_timeout()} s)")
            print(f"rate:          {options.rows / result.wall_s:,.0f} rows/s")
            print(f"CPU time:      {result.cpu_s:.2f} s of the gunicorn workers "
                  f"({result.cpu_s / options.rows * 1e6:.0f} µs per row)")
            print(f"peak RSS:      {result.peak_rss_mib} MiB (the largest of the gunicorn workers)")
            return
        print(f"wall time:     {result.wall_s:.2f} s (process start to exit, commit included)")
        print(f"rate:          {options.rows / result.wall_s:,.0f} rows/s")
        print(f"CPU time:      {result.cpu_s:.2f} s of the import process "
              f"({(result.cpu_s - baseline.cpu_s) / options.rows * 1e6:.0f} µs per row after start-up)")
        print(f"peak RSS:      {result.peak_rss_mib} MiB "
              f"(the same command doing nothing: {baseline.peak_rss_mib} MiB, {baseline.wall_s:.2f} s, {baseline.cpu_s:.2f} s CPU)")


def gunicorn_timeout() -> object:
    """The worker timeout gunicorn.conf.py sets (from GUNICORN_TIMEOUT, or its default)."""
    settings: dict[str, object] = {}
    exec(compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), settings)
    return settings["timeout"]


if __name__ == "__main__":
    main()
