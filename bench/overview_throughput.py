"""Overview throughput: the booker's overview of a 10-ticket order vs a bare Flask route, same gunicorn setup.

    .venv/bin/python bench/overview_throughput.py [--databases sqlite,postgresql] [--rounds 2] [--duration 5]

For each database (a fresh SQLite file; a scratch PostgreSQL database, default
portal_bench on 127.0.0.1:55432): migrate it with `flask db upgrade`, create the
10-ticket demo orders of PAGES with `flask demo` (a fresh order; one whose
tickets can all be downloaded; and a burst: 500 orders of one event, every
request another booker's link), start gunicorn with gunicorn.conf.py serving
the app with rate limits off (what the target is about), the app again with
them on (their cost, reported beside it: limits high enough that wrk is never
refused, but counted on every request), and bench/bare_app.py; then
`wrk -t1 -c8 -d5s --latency` against the bare route and each overview, in turn,
`--rounds` times. Reports requests/s, p99 latency and overview / bare (per round,
against the bare run next to it; the median), and where the machine's CPU went
per request (the gunicorn processes, wrk, and the rest: the database server,
the kernel, other work).

Target (a floor): each overview, rate limits off, >= 20 % of the bare route's requests/s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import (  # noqa: E402
    DEFAULT_PG_URL,
    ROOT,
    fresh_postgres_database,
    machine,
    process_cpu_seconds,
    start_gunicorn,
    stop,
)

FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


#: wrk script for a burst: each request asks for the next path of the file named by WRK_PATHS.
ROTATE_PATHS = """
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
local next_path = 0
request = function()
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path])
end
"""


def wrk(base: str, paths: list[str], duration: int) -> tuple[float, float]:
    """Requests/s and p99 latency in ms of `wrk -t1 -c8` against the path (or, in turn, the paths)."""
    command = ["wrk", "-t1", "-c8", f"-d{duration}s", "--latency"]
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as folder:
        if len(paths) > 1:
            script, listing = Path(folder) / "rotate.lua", Path(folder) / "paths"
            script.write_text(ROTATE_PATHS)
            listing.write_text("\n".join(paths) + "\n")
            command += ["-s", str(script)]
            env["WRK_PATHS"] = str(listing)
        out = subprocess.run([*command, base + paths[0]], capture_output=True, text=True, check=True, env=env).stdout
    if "Non-2xx or 3xx responses" in out:
        raise SystemExit(f"errors from {base}{paths[0]}:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE).groups()
    return rate, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


#: The overview pages measured: `flask demo` options for 10-ticket orders in each state.
PAGES = {
    # Just bought: every ticket open, Claim and Share on each; no forms, so no session cookie.
    "fresh": [],
    # A shop that needs no personal data: a Download form on every ticket and Download all,
    # so the page carries a CSRF token and sets a session cookie (wrk keeps no cookies).
    "downloadable": ["--no-personalisation"],
    # After the confirmation mailing: 500 bookers of one event, each request another's link.
    "burst of 500 bookers": ["--orders", "500"],
}


#: The fresh page again, served with rate limits on: what they cost.
LIMITED = "fresh, rate limits on"
#: The floor: the overview's requests/s as a share of the bare route's.
TARGET = 0.2


def demo_overview_paths(env: dict[str, str], options: list[str]) -> list[str]:
    demo = subprocess.run(
        [*FLASK, "demo", "--json", "--tickets", "10", *options], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return ["/" + url.split("/", 3)[3] for url in json.loads(demo.stdout)["overview_urls"]]


def cpu_seconds(pids: list[int]) -> float:
    """User and system time of these processes so far."""
    return sum(map(process_cpu_seconds, pids))


def machine_busy_seconds() -> float:
    """CPU time spent by the whole machine so far (all cores, everything but idle and iowait)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def measured(process: subprocess.Popen, base: str, paths: list[str], duration: int) -> dict[str, float]:
    """One wrk run with the CPU it cost per request: the gunicorn processes, wrk, and the rest of the machine."""
    pids = [process.pid, *map(int, Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split())]
    gunicorn_before, machine_before, wrk_before = cpu_seconds(pids), machine_busy_seconds(), os.times()
    rate, p99 = wrk(base, paths, duration)
    gunicorn_cpu, machine_cpu = cpu_seconds(pids) - gunicorn_before, machine_busy_seconds() - machine_before
    wrk_after = os.times()
    wrk_cpu = (wrk_after.children_user - wrk_before.children_user) + (wrk_after.children_system - wrk_before.children_system)
    requests_made = rate * duration
    return {
        "rate": rate,
        "p99": p99,
        "gunicorn_ms": 1000 * gunicorn_cpu / requests_made,
        "wrk_ms": 1000 * wrk_cpu / requests_made,
        "rest_ms": 1000 * (machine_cpu - gunicorn_cpu - wrk_cpu) / requests_made,
    }


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
    paths = {page: demo_overview_paths(env, options) for page, options in PAGES.items()}
    limited_env = {**env, "RATELIMIT_ENABLED": "true", "TOKEN_PAGE_LIMIT": "100000000/minute",
                   "BAD_LINK_LIMIT": "100000000/minute"}
    servers = []
    try:
        for app, app_env in (("wsgi:app", env), ("wsgi:app", limited_env), ("bench.bare_app:app", env)):
            servers.append(start_gunicorn(app, app_env))
        (portal, portal_base), (limited, limited_base), (bare, bare_base) = servers
        for page, page_paths in paths.items():
            for path in (page_paths[0], page_paths[-1]):
                response = requests.get(portal_base + path, timeout=10)
                assert response.status_code == 200 and "Summer Lights Festival" in response.text, (page, response.status_code)
                assert ("Set-Cookie" in response.headers) == (page == "downloadable"), page
        runs: dict[str, list[dict[str, float]]] = {"bare": [], **{page: [] for page in paths}, LIMITED: []}
        for _ in range(rounds):
            runs["bare"].append(measured(bare, bare_base, ["/"], duration))
            for page, page_paths in paths.items():
                runs[page].append(measured(portal, portal_base, page_paths, duration))
            runs[LIMITED].append(measured(limited, limited_base, paths["fresh"], duration))
    finally:
        for process, _ in servers:
            stop(process)
    summary = {
        route: {key: statistics.mean(run[key] for run in route_runs) for key in route_runs[0]} | {
            "p99": max(run["p99"] for run in route_runs)
        }
        for route, route_runs in runs.items()
    }
    # Each round's overview against the bare route measured next to it: the machine's speed drifts.
    ratios = {
        page: sorted(run["rate"] / bare["rate"] for run, bare in zip(runs[page], runs["bare"], strict=True))
        for page in [*paths, LIMITED]
    }
    return {"database": name, "summary": summary, "ratios": ratios}


def describe(route: str, figures: dict[str, float]) -> str:
    return (
        f"{route}: {figures['rate']:.0f} req/s (p99 {figures['p99']:.1f} ms); CPU per request "
        f"{figures['gunicorn_ms']:.2f} ms gunicorn, {figures['wrk_ms']:.2f} ms wrk, {figures['rest_ms']:.2f} ms the rest"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG_URL))
    parser.add_argument("--rounds", type=int, default=3, help="alternating wrk runs per route")
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
            load = os.getloadavg()[0]
            result = bench_database(name, urls[name], args.rounds, args.duration)
            print(f"{name} (load average {load:.1f} before, {os.getloadavg()[0]:.1f} after):")
            print("  " + describe("bare route", result["summary"]["bare"]))
            for page, ratios in result["ratios"].items():
                print(
                    f"  {describe('overview, ' + page, result['summary'][page])}\n"
                    f"    = {statistics.median(ratios):.0%} of the bare route (median of the rounds; "
                    f"{ratios[0]:.0%} to {ratios[-1]:.0%})"
                )
            failed |= min(statistics.median(r) for page, r in result["ratios"].items() if page != LIMITED) < TARGET
        print(f"target: each overview, rate limits off, >= {TARGET:.0%} of the bare route's requests/s")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
