""""Send me a new link": how long the page takes for an order that matches and for one that does not.

    .venv/bin/python bench/lost_link_timing.py [--requests 40] [--database-url URL]

In-process, through Flask's test client, on a scratch SQLite database (or the
PostgreSQL database given). Posts the form `--requests` times for a matching
order number and address and as often for a wrong address, interleaved, and
reports each one's median and the difference. The page only stores the request
for the worker, so the two should not differ beyond noise
(tests/test_links.py::test_the_lost_link_page_does_the_same_work_whether_or_not_an_order_matches
checks that they send the same statements).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import machine  # noqa: E402
from bench.scratch_app import make_order, scratch_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()
    app = scratch_app(args.database_url)
    print(f"machine: {machine(app.config['SQLALCHEMY_DATABASE_URI'])}")
    from portal.extensions import db
    from portal.models import Order

    order_id = make_order(app, 4)
    with app.app_context():
        number = db.session.get(Order, order_id).number
    client = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/link").get_data(as_text=True)).group(1)
    times: dict[str, list[float]] = {"matching": [], "wrong address": []}
    for _ in range(args.requests):
        for case, email in (("matching", "booker@example.com"), ("wrong address", "someone.else@example.com")):
            started = time.perf_counter()
            response = client.post("/link", data={"csrf_token": token, "order_number": number, "email": email})
            times[case].append(time.perf_counter() - started)
            assert response.status_code == 200
    medians = {case: statistics.median(values) * 1000 for case, values in times.items()}
    for case, median in medians.items():
        print(f"{case}: median {median:.2f} ms over {args.requests} requests")
    print(f"difference: {medians['matching'] - medians['wrong address']:+.2f} ms")


if __name__ == "__main__":
    main()
