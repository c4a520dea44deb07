"""Ticket PDF: median time to render one ticket, and a 50-ticket order in one file.

    .venv/bin/python bench/pdf_bench.py [--repeat 15] [--database-url URL]

Renders in-process (downloads.tickets_pdf, as the download buttons and the
attachment do) on a scratch SQLite database unless a PostgreSQL URL is given.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import machine  # noqa: E402
from bench.scratch_app import make_order, scratch_app  # noqa: E402


def median_seconds(render, repeat: int) -> float:
    render()  # warm up: fonts, QR tables
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        render()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()
    app = scratch_app(args.database_url)
    print(f"machine: {machine(app.config['SQLALCHEMY_DATABASE_URI'])}")
    order_id = make_order(app, 50, personalised=True)

    from portal.extensions import db
    from portal.models import Order
    from portal.services import downloads

    with app.test_request_context():
        tickets = db.session.get(Order, order_id).tickets
        one = median_seconds(lambda: downloads.tickets_pdf(tickets[:1], language="en"), args.repeat)
        fifty = median_seconds(lambda: downloads.tickets_pdf(tickets, language="en"), args.repeat)
        size = len(downloads.tickets_pdf(tickets, language="en"))
    print(f"one ticket: {one * 1000:.1f} ms (median of {args.repeat})")
    print(f"50-ticket order: {fifty * 1000:.1f} ms (median of {args.repeat}); {fifty / 50 * 1000:.1f} ms a ticket, "
          f"{fifty / one:.1f}x one ticket; {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
