"""The import page's upload against a bare upload of the same file: how long until the organizer has an answer.

    .venv/bin/python bench/upload_bench.py [--rows 100000] [--repeat 5]
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:55432/portal_imports_bench .venv/bin/python bench/upload_bench.py

Writes the import benchmark's CSV, starts the portal and bench/bare_app.py under
gunicorn (gunicorn.conf.py, two workers each) on a fresh database, logs in as
the demo organizer, then uploads the file `--repeat` times, in turn, to the
backoffice's import page (which stores it and answers 303 with the import's page;
no worker runs, so nothing is imported) and to the bare app's POST /upload
(which reads the multipart body into a temporary file and answers 303). Prints
the median seconds of each and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import ROOT, machine, start_gunicorn, stop  # noqa: E402
from bench.import_bench import environment, fresh_database, logged_in, run, upload, write_csv  # noqa: E402


def bare_upload(base: str, csv_path: Path) -> float:
    with csv_path.open("rb") as file:
        started = time.perf_counter()
        response = requests.post(base + "/upload", files={"file": (csv_path.name, file, "text/csv")},
                                 timeout=600, allow_redirects=False)
        elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="upload-bench-") as folder_name:
        folder = Path(folder_name)
        csv_path = folder / "orders.csv"
        write_csv(csv_path, options.rows, "mixed", "U")
        database_url = fresh_database(folder, "upload")
        env = {**environment(ROOT, database_url, folder), "GUNICORN_WORKERS": "2"}
        run(ROOT, ["db", "upgrade"], env)
        demo = json.loads(run(ROOT, ["demo", "--json", "--tickets", "1"], env).stdout)
        portal, portal_base = start_gunicorn("wsgi:app", env)
        bare, bare_base = start_gunicorn("bench.bare_app:app", env)
        try:
            session = logged_in(portal_base, demo)
            upload(session, portal_base, demo["shop_id"], csv_path)  # warm-up of each
            bare_upload(bare_base, csv_path)
            portal_times, bare_times = [], []
            for _ in range(options.repeat):
                portal_times.append(upload(session, portal_base, demo["shop_id"], csv_path)[0])
                bare_times.append(bare_upload(bare_base, csv_path))
        finally:
            stop(portal)
            stop(bare)
        portal_s, bare_s = statistics.median(portal_times), statistics.median(bare_times)
        print(f"file:         {options.rows:,} rows, {csv_path.stat().st_size / 2**20:.1f} MiB")
        print(f"machine:      {machine(database_url)}, load average {os.getloadavg()[0]:.1f}")
        print(f"import page:  {portal_s:.3f} s median of {options.repeat} ({', '.join(f'{t:.3f}' for t in portal_times)})")
        print(f"bare upload:  {bare_s:.3f} s median of {options.repeat} ({', '.join(f'{t:.3f}' for t in bare_times)})")
        print(f"ratio:        {portal_s / bare_s:.2f} × the bare upload")


if __name__ == "__main__":
    main()
