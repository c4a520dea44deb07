"""Orders import benchmark: rows/s and peak memory of `flask orders import` on a large CSV.

    .venv/bin/python bench/import_bench.py [--rows 100000] [--tickets mixed|single]

Writes a CSV as a Dutch spreadsheet exports it (BOM, ";" separators, decimal
commas) to a temporary folder, creates a fresh SQLite database there (or uses
DATABASE_URL, e.g. a PostgreSQL database), makes a shop with `flask demo`, then
times `flask --app wsgi orders import` in its own process and reads that
process's peak RSS from the kernel (wait4). Prints the figures and the machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
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
        shop_id = json.loads(run(["demo", "--json", "--tickets", "1"], env).stdout)["shop_id"]
        baseline = timed(["orders", "--help"], env, folder_path / "baseline.log")

        log = folder_path / "import.log"
        load_before = os.getloadavg()[0]
        result = timed(["orders", "import", str(csv_path), "--shop", str(shop_id)], env, log)
        load_after = os.getloadavg()[0]
        output = log.read_text()
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
        print(f"wall time:     {result.wall_s:.2f} s (process start to exit, commit included)")
        print(f"rate:          {options.rows / result.wall_s:,.0f} rows/s")
        print(f"CPU time:      {result.cpu_s:.2f} s of the import process "
              f"({(result.cpu_s - baseline.cpu_s) / options.rows * 1e6:.0f} µs per row after start-up)")
        print(f"peak RSS:      {result.peak_rss_mib} MiB "
              f"(the same command doing nothing: {baseline.peak_rss_mib} MiB, {baseline.wall_s:.2f} s, {baseline.cpu_s:.2f} s CPU)")


if __name__ == "__main__":
    main()
