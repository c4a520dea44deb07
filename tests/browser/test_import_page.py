"""The backoffice's orders import in Chromium: a large file told off before it is sent, a good one imported in the
background by a worker while its page's bar follows it to 100 %."""

from __future__ import annotations

import re
import signal

from playwright.sync_api import expect

from portal.extensions import db
from portal.services.organizers import create_backoffice_user
from tests.browser.browsing import DESKTOP, check_accessibility, screenshot
from tests.test_background_imports import start_worker, worker_env

PASSWORD = "correct horse battery staple"
HEADER = "order_number,first_name,last_name,email,mobile,ticket_type,quantity,unit_price\n"


def test_a_file_over_the_limit_is_refused_before_it_is_sent_and_a_good_one_is_imported(
    app, new_context, make_shop, make_order, tmp_path
):
    app.config["MAX_CONTENT_LENGTH"] = 2**20
    shop_id = make_shop()
    with app.app_context():
        create_backoffice_user(organizer_name="Acme Events", email="staff@acme.example", password=PASSWORD)
        db.session.commit()
    organizer = new_context(DESKTOP).new_page()
    organizer.goto("/backoffice/login")
    organizer.get_by_label("Email", exact=True).fill("staff@acme.example")
    organizer.get_by_label("Password").fill(PASSWORD)
    organizer.get_by_role("button", name="Log in").click()
    organizer.goto(f"/backoffice/shops/{shop_id}/import")
    posts = []
    organizer.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)

    row = "NX-2026-{0:06d},Kim,Jansen,kim{0}@example.org,0612345678,Day ticket,1,45.00\n"
    too_large = tmp_path / "all-orders.csv"
    too_large.write_text(HEADER + "".join(row.format(i) for i in range(15_000)))
    assert too_large.stat().st_size > 2**20
    organizer.get_by_label("CSV file").set_input_files(too_large)
    organizer.get_by_role("button", name="Import").click()
    error = organizer.locator("#file-error")
    expect(error).to_contain_text("The file is larger than 1 MB. Split it into smaller files")
    expect(organizer.get_by_label("CSV file")).to_be_focused()
    expect(organizer.get_by_label("CSV file")).to_have_attribute("aria-describedby", "file-error")
    assert posts == []  # nothing was sent
    check_accessibility(organizer, "the import page with a file over the limit")

    make_order(tickets=1, shop_id=shop_id, number="NX-2026-000000")
    # A file large enough for a few seconds of import, for the bar to be seen moving.
    app.config["MAX_CONTENT_LENGTH"] = 2**24
    organizer.reload()
    part = tmp_path / "part-1.csv"
    part.write_text(HEADER + "".join(row.format(i) for i in range(20_000)))
    organizer.get_by_label("CSV file").set_input_files(part)
    organizer.get_by_role("button", name="Import").click()
    # The upload only stores the file: its page answers at once, and waits for a worker.
    expect(organizer).to_have_url(re.compile(r"/backoffice/imports/\d+$"))
    assert len(posts) == 1
    bar = organizer.locator("progress#import-bar")
    expect(organizer.locator("#import-standing")).to_contain_text("Waiting for a worker to start the import.")
    check_accessibility(organizer, "an import waiting for a worker")

    worker = start_worker(worker_env(app, tmp_path))
    try:
        # The page follows the import by itself, and shows its result once it is done.
        expect(organizer.locator("#import-standing")).to_contain_text(re.compile(r"Checking rows|Writing orders"))
        screenshot(organizer, "backoffice-import-running")
        expect(organizer.locator(".bo-report")).to_contain_text("19,999 new orders imported.", timeout=120_000)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=60)
    expect(bar).to_have_attribute("max", "19999")
    expect(bar).to_have_attribute("value", "19999")
    expect(organizer.locator("#import-standing")).to_have_text("Done.")
    expect(organizer.locator(".bo-report")).to_contain_text("1 order skipped: it already exists. NX-2026-000000")
    check_accessibility(organizer, "a finished import")
    screenshot(organizer, "backoffice-import-done")

    organizer.goto("/backoffice/orders")
    organizer.get_by_role("link", name="Imports", exact=True).click()
    expect(organizer.get_by_role("row", name=re.compile("part-1.csv"))).to_contain_text("19,999 new orders, 1 skipped")
    check_accessibility(organizer, "the list of imports")

    organizer.get_by_role("link", name="Nederlands").click()
    expect(organizer.get_by_role("heading", name="Imports")).to_be_visible()
    expect(organizer.get_by_role("row", name=re.compile("part-1.csv"))).to_contain_text(
        "19.999 nieuwe bestellingen, 1 overgeslagen")
    screenshot(organizer, "backoffice-imports-nl")
    organizer.get_by_role("link", name="part-1.csv").click()
    expect(organizer.locator("#import-standing")).to_have_text("Klaar.")
    expect(organizer.locator(".bo-report")).to_contain_text("19.999 nieuwe bestellingen geïmporteerd.")
    check_accessibility(organizer, "a finished import, in Dutch")
    screenshot(organizer, "backoffice-import-done-nl")
