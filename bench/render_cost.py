"""Render cost: time to render the overview, the recipient page and the backoffice order page, 10 vs 500 tickets.

    .venv/bin/python bench/render_cost.py [--repeat 20] [--database-url URL]

In-process, through Flask's test client (no HTTP server), on a scratch SQLite
database unless a PostgreSQL URL is given. Also counts the SQL statements of
each page, which tests/test_query_counts.py requires to be the same for 1 and 500 tickets.
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

PASSWORD = "correct horse battery staple"


def logged_in_client(app):
    from portal.extensions import db
    from portal.services.organizers import create_backoffice_user

    with app.app_context():
        create_backoffice_user(organizer_name="Bench Events", email="staff@bench.example", password=PASSWORD)
        db.session.commit()
    client = app.test_client()
    page = client.get("/backoffice/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/backoffice/login", data={"csrf_token": token, "email": "staff@bench.example", "password": PASSWORD})
    assert response.status_code == 303, response.status_code
    return client


def paths(app, order_id: int) -> dict[str, str]:
    from portal import links
    from portal.extensions import db
    from portal.models import Order

    with app.app_context():
        order = db.session.get(Order, order_id)
        base = app.config["PORTAL_BASE_URL"]
        return {
            "booker overview": links.overview_url(order).removeprefix(base),
            "recipient page": links.ticket_url(order.tickets[0]).removeprefix(base),
            "backoffice order": f"/backoffice/orders/{order_id}",
        }


def statement_count(app, client, path: str) -> int:
    """The number of SQL statements one rendering of the page sends."""
    from tests.database import counting_statements

    assert client.get(path).status_code == 200, path  # warm up
    with counting_statements(app) as statements:
        client.get(path)
    return len(statements)


def medians(client, paths_: list[str], repeat: int) -> list[float]:
    """Median seconds per page, the pages timed in turn (so a busy moment hits them alike)."""
    times: list[list[float]] = [[] for _ in paths_]
    for _ in range(repeat):
        for index, path in enumerate(paths_):
            started = time.perf_counter()
            client.get(path)
            times[index].append(time.perf_counter() - started)
    return [statistics.median(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()
    app = scratch_app(args.database_url)
    print(f"machine: {machine(app.config['SQLALCHEMY_DATABASE_URI'])}")
    client = app.test_client()
    staff = logged_in_client(app)
    small, large = paths(app, make_order(app, 10)), paths(app, make_order(app, 500))
    for page in small:
        who = staff if page.startswith("backoffice") else client
        few_statements = statement_count(app, who, small[page])
        many_statements = statement_count(app, who, large[page])
        few_time, many_time = medians(who, [small[page], large[page]], args.repeat)
        print(
            f"{page}: 10 tickets {few_time * 1000:.1f} ms ({few_statements} SQL statements); "
            f"500 tickets {many_time * 1000:.1f} ms ({many_statements} statements); "
            f"500 / 10 = {many_time / few_time:.1f}x (median of {args.repeat})"
        )

if __name__ == "__main__":
    main()
