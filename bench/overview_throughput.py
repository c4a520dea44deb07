"""Overview throughput: the booker's overview of a 10-ticket order vs a bare Flask route, same gunicorn setup.

    .venv/bin/python bench/overview_throughput.py [--databases sqlite,postgresql] [--rounds 2] [--duration 5]

For each database (a fresh SQLite file; a scratch PostgreSQL database, default
portal_bench on 127.0.0.1:55432): migrate it with `flask db upgrade`, create two
10-ticket demo orders with `flask demo` (see PAGES: a fresh order, and one whose
tickets can all be downloaded), start gunicorn with gunicorn.conf.py (rate limits
off) serving the app, and the same gunicorn configuration serving
bench/bare_app.py; then `wrk -t1 -c8 -d5s --latency` against the bare route and
each overview, in turn, `--rounds` times. Reports requests/s, p99 latency and
overview / bare.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import DEFAULT_PG_URL, ROOT, free_port, fresh_postgres_database, machine  # noqa: E402

FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


def start_gunicorn(app: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
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
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def wrk(url: str, duration: int) -> tuple[float, float]:
    """Requests/s and p99 latency in ms of `wrk -t1 -c8` against the URL."""
    out = subprocess.run(
        ["wrk", "-t1", "-c8", f"-d{duration}s", "--latency", url], capture_output=True, text=True, check=True
    ).stdout
    if "Non-2xx or 3xx responses" in out:
        raise SystemExit(f"errors from {url}:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE).groups()
    return rate, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


#: The overview pages measured: `flask demo` options for a 10-ticket order in each state.
PAGES = {
    # Just bought: every ticket open, Claim and Share on each; no forms, so no session cookie.
    "fresh": [],
    # A shop that needs no personal data: a Download form on every ticket and Download all,
    # so the page carries a CSRF token and sets a session cookie (wrk keeps no cookies).
    "downloadable": ["--no-personalisation"],
}


def demo_overview_path(env: dict[str, str], options: list[str]) -> str:
    demo = subprocess.run(
        [*FLASK, "demo", "--json", "--tickets", "10", *options], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return "/" + json.loads(demo.stdout)["overview_url"].split("/", 3)[3]


def bench_database(name: str, database_url: str, rounds: int, duration: int) -> dict[str, object]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret-key",
        "RATELIMIT_ENABLED": "false",
        "PORTAL_BASE_URL": "http://127.0.0.1",
        "MAIL_KEEP_FOLDER": tempfile.mkdtemp(prefix="bench-mail-"),
    }
    subprocess.run([*FLASK, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    paths = {page: demo_overview_path(env, options) for page, options in PAGES.items()}
    portal, portal_base = start_gunicorn("wsgi:app", env)
    try:
        bare, bare_base = start_gunicorn("bench.bare_app:app", env)
    except BaseException:
        stop(portal)
        raise
    runs: dict[str, list[tuple[float, float]]] = {"bare": [], **{page: [] for page in paths}}
    try:
        for page, path in paths.items():
            response = requests.get(portal_base + path, timeout=10)
            assert response.status_code == 200 and "Summer Lights Festival" in response.text, (page, response.status_code)
            assert ("Set-Cookie" in response.headers) == (page == "downloadable"), page
        for _ in range(rounds):
            runs["bare"].append(wrk(bare_base + "/", duration))
            for page, path in paths.items():
                runs[page].append(wrk(portal_base + path, duration))
    finally:
        stop(portal)
        stop(bare)
    rates = {route: statistics.mean(rate for rate, _ in measured) for route, measured in runs.items()}
    return {
        "database": name,
        "rates": rates,
        "p99": {route: max(p99 for _, p99 in measured) for route, measured in runs.items()},
        "ratios": {page: rates[page] / rates["bare"] for page in paths},
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG_URL))
    parser.add_argument("--rounds", type=int, default=2, help="alternating wrk runs per route")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    args = parser.parse_args()
    workers = os.environ.get("GUNICORN_WORKERS", str(os.cpu_count() * 2 + 1))
    print(f"machine: {machine(args.postgres_url if 'postgresql' in args.databases else None)}")
    print(f"gunicorn.conf.py: {workers} workers x {os.environ.get('GUNICORN_THREADS', '1')} thread(s); "
          f"wrk -t1 -c8 -d{args.duration}s, {args.rounds} alternating runs per route")
    failed = False
    with tempfile.TemporaryDirectory() as folder:
        urls = {
            "sqlite": f"sqlite:///{Path(folder) / 'bench.sqlite3'}",
            "postgresql": args.postgres_url,
        }
        for name in args.databases.split(","):
            if name == "postgresql":
                fresh_postgres_database(urls[name])
            result = bench_database(name, urls[name], args.rounds, args.duration)
            print(f"{name}: bare route {result['rates']['bare']:.0f} req/s (p99 {result['p99']['bare']:.1f} ms)")
            for page, ratio in result["ratios"].items():
                print(
                    f"  overview, {page} 10-ticket order: {result['rates'][page]:.0f} req/s "
                    f"(p99 {result['p99'][page]:.1f} ms) = {ratio:.0%} of the bare route"
                )
            failed |= min(result["ratios"].values()) < 0.5
        print("target: each overview >= 50% of the bare route's requests/s")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
