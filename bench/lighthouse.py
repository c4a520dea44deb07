"""Lighthouse scores of the booker's overview, the recipient's form and the backoffice order page.

    .venv/bin/python bench/lighthouse.py [--write] [--runs 3]

Starts the portal under gunicorn on a fresh SQLite database in a temporary folder,
makes a demo order (`flask demo`), shares one ticket via WhatsApp for a recipient
link, logs in to the backoffice for a session cookie, then runs Lighthouse 13
(`npx lighthouse`, from package.json: `npm ci`) with Debian's Chromium in its
default mobile configuration (simulated slow 4G and a mid-range phone's CPU).
Prints performance, accessibility and best-practices scores per page (the median
of --runs runs by performance), and the audits that did not pass; --write puts
them into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import free_port, machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHROME = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CHROME_FLAGS = (
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
    "--disable-background-networking --disable-component-update --disable-sync"
)
CATEGORIES = ("performance", "accessibility", "best-practices")
BENCHMARKS = ROOT / "docs" / "benchmarks.md"


def flask(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env, check=True,
        capture_output=True, text=True,
    ).stdout


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def wait_until_up(base: str, process: subprocess.Popen) -> None:
    for _ in range(100):
        if process.poll() is not None:
            raise SystemExit("gunicorn exited; see its log above")
        try:
            requests.get(base + "/", timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


def pages(base: str, demo: dict) -> list[tuple[str, str, dict[str, str]]]:
    """(name, url, extra headers) of the three pages, made the way people reach them."""
    overview = demo["overview_url"]
    booker = requests.Session()
    share_page = booker.get(f"{overview}/tickets/1/share").text
    share_version = re.search(r'name="share_version" type="hidden" value="([^"]+)"', share_page).group(1)
    # The share answers with the portal's own page, whose button opens WhatsApp with the message.
    whatsapp_page = booker.post(
        f"{overview}/tickets/1/share/whatsapp",
        data={"csrf_token": csrf_token(share_page), "share_version": share_version},
    ).text
    whatsapp_link = html.unescape(re.search(r'id="open-whatsapp" href="([^"]+)"', whatsapp_page).group(1))
    [message] = parse_qs(urlsplit(whatsapp_link).query)["text"]
    [recipient_form] = re.findall(r"https?://\S+/t/\S+", message)

    organizer = requests.Session()
    login = organizer.get(f"{base}/backoffice/login").text
    response = organizer.post(
        f"{base}/backoffice/login",
        data={"csrf_token": csrf_token(login), "email": demo["organizer_email"], "password": demo["organizer_password"]},
        allow_redirects=False,
    )
    assert response.status_code == 303, f"backoffice login answered {response.status_code}"
    cookie = "; ".join(f"{name}={value}" for name, value in organizer.cookies.items())
    return [
        ("Booker's overview (/o/…)", overview, {}),
        ("Recipient's form (/t/…)", recipient_form, {}),
        ("Backoffice order page", f"{base}/backoffice/orders/{demo['order_id']}", {"Cookie": cookie}),
    ]


def lighthouse(url: str, headers: dict[str, str], output: Path) -> dict:
    command = [
        "npx", "--no-install", "lighthouse", url,
        f"--chrome-flags={CHROME_FLAGS}",
        f"--only-categories={','.join(CATEGORIES)}",
        "--output=json", f"--output-path={output}", "--quiet",
    ]
    if headers:
        command.append(f"--extra-headers={json.dumps(headers)}")
    subprocess.run(command, cwd=ROOT, env={**os.environ, "CHROME_PATH": CHROME}, check=True)
    return json.loads(output.read_text())


def not_passed(report: dict, category: str) -> list[str]:
    """The audits of a category that lost points, with their scores."""
    audits = report["audits"]
    found = []
    for ref in report["categories"][category]["auditRefs"]:
        audit = audits[ref["id"]]
        if ref["weight"] and audit["score"] is not None and audit["score"] < 1:
            value = f" ({audit['displayValue']})" if audit.get("displayValue") else ""
            found.append(f"{audit['id']} {audit['score']:.2f}{value}")
    return found


def markdown(results: list[tuple[str, dict[str, int], list[str]]], versions: str) -> str:
    lines = [
        "## Lighthouse",
        "",
        "```",
        ".venv/bin/python bench/lighthouse.py [--write]      # or: make lighthouse",
        "```",
        "",
        "Lighthouse 13 (npm, `package.json`) in its default mobile configuration (a",
        "mid-range phone on simulated slow 4G) with Debian's Chromium, against gunicorn",
        "on loopback with a fresh SQLite database and a `flask demo` order. The",
        "recipient's form is reached through a WhatsApp share of ticket 1; the backoffice",
        "page with a logged-in session cookie (`--extra-headers`). Each page is measured",
        "three times and the median run (by performance) is shown: on a busy 2-core",
        "machine one run's Total Blocking Time varies a lot. Scores out of 100; anything",
        "under 95 is a defect to fix.",
        "",
        "| Page | Performance | Accessibility | Best practices |",
        "|---|---:|---:|---:|",
    ]
    for name, scores, _ in results:
        lines.append(f"| {name} | {scores['performance']} | {scores['accessibility']} | {scores['best-practices']} |")
    lines += ["", f"Measured {datetime.now(UTC):%Y-%m-%d} on {versions}."]
    misses = [f"- {name}: {', '.join(items)}" for name, _, items in results if items]
    if misses:
        lines += ["", "Audits that did not score fully:", "", *misses]
    return "\n".join(lines) + "\n"


def write_section(section: str) -> None:
    """Replace the Lighthouse section of docs/benchmarks.md, or append it."""
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Lighthouse\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    BENCHMARKS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update the Lighthouse section of docs/benchmarks.md")
    parser.add_argument("--runs", type=int, default=3, help="Lighthouse runs per page; the median is reported")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lighthouse-") as folder:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{folder}/portal.sqlite3",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "PORTAL_BASE_URL": base,
            "MAIL_KEEP_FOLDER": f"{folder}/mail",
            "MAIL_SERVER": "",
        }
        flask(env, "db", "upgrade")
        demo = json.loads(flask(env, "demo", "--json", "--tickets", "4"))
        log = open(Path(folder) / "gunicorn.log", "w")
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "-w", "2", "wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(base, server)
            results = []
            for name, url, headers in pages(base, demo):
                # The median run (by performance) of several: one run on a busy machine says little.
                reports = sorted(
                    (lighthouse(url, headers, Path(folder) / "report.json") for _ in range(args.runs)),
                    key=lambda report: report["categories"]["performance"]["score"],
                )
                report = reports[len(reports) // 2]
                scores = {category: round(report["categories"][category]["score"] * 100) for category in CATEGORIES}
                misses = [item for category in CATEGORIES for item in not_passed(report, category)]
                results.append((name, scores, misses))
                print(f"{name:32} " + "  ".join(f"{category} {score:3d}" for category, score in scores.items()))
                for item in misses:
                    print(f"    not fully: {item}")
            chromium = subprocess.run([CHROME, "--version"], capture_output=True, text=True).stdout.strip()
            load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
            versions = f"{machine()}, {chromium}, Lighthouse {report['lighthouseVersion']} (load average {load})"
            print(versions)
        finally:
            server.terminate()
            server.wait(timeout=20)
            log.close()
    if args.write:
        write_section(markdown(results, versions))
        print(f"written to {BENCHMARKS.relative_to(ROOT)}")
    low = [(name, category) for name, scores, _ in results for category, score in scores.items() if score < 95]
    if low:
        print("under 95 (a defect to fix): " + ", ".join(f"{name} {category}" for name, category in low))
        raise SystemExit(1)


if __name__ == "__main__":
    main()
