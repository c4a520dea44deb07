"""Shops: the list, the settings (Download order enabled and friends), and the orders import page."""

import io
import re

from portal.extensions import db
from portal.models import Order, Shop
from tests.backoffice_pages import page
from tests.conftest import links_in
from tests.pages import csrf_token, field_error, flashes, path_of, text


def settings_of(app, shop_id: int) -> dict:
    with app.app_context():
        shop = db.session.get(Shop, shop_id)
        return {name: getattr(shop, name) for name in (
            "event_name", "venue", "default_language", "download_enabled", "personalisation_required", "phone_required",
            "date_of_birth_required", "consumer_desk_whatsapp", "support_contact")}


def save_settings(client, shop_id: int, **changes):
    """Submit the settings form as it stands, with some fields changed (False unticks a box)."""
    path = f"/backoffice/shops/{shop_id}"
    html = page(client, path)
    data = {"csrf_token": csrf_token(html)}
    for name, value in re.findall(r'<input[^>]* name="(\w+)"[^>]* value="([^"]*)"', html):
        if name != "csrf_token":
            data[name] = value
    for name in re.findall(r'<input checked[^>]* name="(\w+)"[^>]* type="checkbox"', html):
        data[name] = "y"
    for name, value in re.findall(r'<select[^>]* name="(\w+)"[^>]*>.*?<option[^>]* selected[^>]* value="([^"]*)"', html, flags=re.S):
        data[name] = value
    data["support_contact"] = re.search(r"<textarea[^>]*>\s*(.*?)</textarea>", html, flags=re.S).group(1)
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "y" if value is True else value
    return client.post(path, data=data)


def test_shops_lists_the_organizers_shops_with_their_settings(login, make_shop):
    shop_id = make_shop(event_name="Harbour Jazz Nights", download_enabled=False)
    staff = login()
    html = page(staff, "/backoffice/shops")
    assert re.search(r'<nav class="bo-nav"[^>]*>.*>Orders</a>.*>Shops</a>', html, flags=re.S)
    row = text(re.search(r"<tbody>(.*?)</tbody>", html, flags=re.S).group(1))
    assert "Harbour Jazz Nights" in row and "Pier 5, Rotterdam" in row
    assert f'href="/backoffice/shops/{shop_id}/import"' in html


def test_settings_page_has_the_toggles_labelled_as_the_help_pages_say(login, make_shop):
    shop_id = make_shop()
    html = page(login(), f"/backoffice/shops/{shop_id}")
    for field, label in (("download_enabled", "Download order enabled"), ("personalisation_required", "Personalisation required"),
                         ("phone_required", "Phone required"), ("date_of_birth_required", "Date of birth required")):
        assert re.search(rf'<input[^>]*id="{field}"[^>]*type="checkbox"', html), field
        assert f'<label for="{field}">{label}</label>' in html
    assert ('<label for="consumer_desk_whatsapp">Consumer desk WhatsApp number '
            '<span class="field-optional">(optional)</span></label>') in html
    assert ('<label for="support_contact">Support contact for refunds '
            '<span class="field-optional">(optional)</span></label>') in html


def test_download_toggle_takes_effect_on_the_portal_at_once_both_ways(app, client, login, smtp, deliver, make_shop, make_order):
    shop_id = make_shop()
    make_order(tickets=2, shop_id=shop_id, booker_email="sam@example.com")
    deliver()
    overview = path_of(links_in(smtp.take_one("sam@example.com"))[0])
    claim_page = client.get(f"{overview}/tickets/1/claim").get_data(as_text=True)
    client.post(f"{overview}/tickets/1/claim", data={
        "csrf_token": csrf_token(claim_page), "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"})
    deliver()
    smtp.take_one("ada@example.com")

    def portal_offers_download() -> bool:
        html = client.get(overview).get_data(as_text=True)
        return ">Download</button>" in html or ">Download all</button>" in html

    token = csrf_token(client.get(f"{overview}/tickets/2/claim").get_data(as_text=True))

    def download_status() -> int:
        return client.post(f"{overview}/tickets/1/download", data={"csrf_token": token}).status_code

    assert portal_offers_download() and download_status() == 200
    staff = login()
    response = save_settings(staff, shop_id, download_enabled=False)
    assert response.status_code == 303
    assert flashes(page(staff, f"/backoffice/shops/{shop_id}")) == [
        "The settings have been saved. The portal uses them from now on."]
    assert settings_of(app, shop_id)["download_enabled"] is False
    assert not portal_offers_download()
    assert download_status() == 403

    save_settings(staff, shop_id, download_enabled=True)
    assert settings_of(app, shop_id)["download_enabled"] is True
    assert portal_offers_download() and download_status() == 200


def test_saving_settings_stores_every_field_and_the_whatsapp_number_as_e164(app, client, login, smtp, deliver, make_shop, make_order):
    shop_id = make_shop()
    staff = login()
    response = save_settings(
        staff, shop_id, event_name="Harbour Jazz Nights 2027", venue="Pier 6, Rotterdam", default_language="nl",
        personalisation_required=False,
        phone_required=True, date_of_birth_required=True, consumer_desk_whatsapp="020 555 0199",
        support_contact="Acme support: help@acme.example")
    assert response.status_code == 303
    assert settings_of(app, shop_id) == {
        "event_name": "Harbour Jazz Nights 2027", "venue": "Pier 6, Rotterdam", "default_language": "nl",
        "download_enabled": True,
        "personalisation_required": False, "phone_required": True, "date_of_birth_required": True,
        "consumer_desk_whatsapp": "+31205550199", "support_contact": "Acme support: help@acme.example"}
    # The portal follows: no personal data needed, so no Claim or Share.
    make_order(tickets=1, shop_id=shop_id, booker_email="sam@example.com")
    deliver()
    confirmation = smtp.take_one("sam@example.com")
    assert confirmation["Subject"] == "Je tickets voor Harbour Jazz Nights 2027"  # the shop's language, now Dutch
    html = client.get(path_of(links_in(confirmation)[0]), headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Harbour Jazz Nights 2027" in html and ">Claim<" not in html and ">Share<" not in html


def test_settings_are_validated(app, login, make_shop):
    shop_id = make_shop()
    before = settings_of(app, shop_id)
    staff = login()
    response = save_settings(staff, shop_id, consumer_desk_whatsapp="call us", event_name="")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert field_error(html, "consumer_desk_whatsapp") == "Enter a valid phone number, like +31 6 12345678."
    assert field_error(html, "event_name") == "This field is required."
    assert settings_of(app, shop_id) == before
    save_settings(staff, shop_id, consumer_desk_whatsapp="")
    assert settings_of(app, shop_id)["consumer_desk_whatsapp"] is None  # no "Contact consumer desk" link


def post_file(client, shop_id: int, content: str | bytes, filename: str = "orders.csv"):
    """Send a file from the import page's form; returns the answer."""
    path = f"/backoffice/shops/{shop_id}/import"
    html = page(client, path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    return client.post(path, data={"csrf_token": csrf_token(html), "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def upload(client, shop_id: int, content: str | bytes, filename: str = "orders.csv") -> str:
    """Upload a file on the import page; returns the path of the import's own page it leads to (POST, 303, GET)."""
    response = post_file(client, shop_id, content, filename)
    assert response.status_code == 303, f"the upload answered {response.status_code}"
    assert re.fullmatch(r"/backoffice/imports/\d+", response.location), response.location
    return response.location


def imported(client, run_imports, shop_id: int, content: str | bytes) -> str:
    """Upload a file, let a worker import it, and return the text of the import's page."""
    path = upload(client, shop_id, content)
    assert run_imports() == 1
    return text(page(client, path))


CSV_HEADER = "order_number,first_name,last_name,email,mobile,ticket_type,quantity,unit_price\n"


def test_import_page_is_linked_and_shows_created_and_skipped(app, login, smtp, deliver, make_shop, make_order, run_imports):
    shop_id = make_shop()
    make_order(tickets=1, shop_id=shop_id, number="NX-2026-000001", booker_email="sam@example.com")
    staff = login()
    assert f'href="/backoffice/shops/{shop_id}/import"' in page(staff, f"/backoffice/shops/{shop_id}")
    assert f'href="/backoffice/shops/{shop_id}/import"' in page(staff, "/backoffice/orders")
    form = page(staff, f"/backoffice/shops/{shop_id}/import")
    assert 'enctype="multipart/form-data"' in form and 'type="file"' in form

    path = upload(staff, shop_id, CSV_HEADER
                  + "NX-2026-000001,Sam,de Vries,sam@example.com,0612345678,Day ticket,1,45.00\n"
                  + "NX-2026-000002,Kim,Jansen,kim@example.org,0612345679,Day ticket,2,45.00\n")
    waiting = text(page(staff, path))
    assert "Waiting for a worker to start the import." in waiting and "new order" not in waiting
    assert run_imports() == 1
    result = text(page(staff, path))
    assert "1 new order imported." in result
    assert "1 order skipped: it already exists. NX-2026-000001" in result
    with app.app_context():
        imported = db.session.query(Order).filter_by(number="NX-2026-000002").one()
        assert len(imported.tickets) == 2 and imported.shop_id == shop_id
    deliver()
    smtp.take_one("sam@example.com")
    smtp.take_one("kim@example.org")


def test_import_page_shows_errors_by_line_and_imports_nothing(app, login, make_shop, run_imports):
    shop_id = make_shop()
    staff = login()
    path = upload(staff, shop_id, CSV_HEADER
                  + "NX-2026-000010,Ada,Lovelace,ada@example.com,0612345678,Day ticket,1,45.00\n"
                  + "NX-2026-000011,Bob,Builder,not-an-email,0612345678,Day ticket,1,45.00\n")
    assert run_imports() == 1
    html = page(staff, path)
    errors = text(re.search(r'<div class="flash flash-error[^"]*"[^>]*id="import-errors">(.*?)</div>', html, flags=re.S).group(1))
    assert "Nothing was imported" in errors and "Line 3:" in errors and "Line 2:" not in errors
    with app.app_context():
        assert db.session.query(Order).count() == 0


def test_import_page_refuses_a_file_that_is_not_utf8(app, login, make_shop, run_imports):
    shop_id = make_shop()
    staff = login()
    content = (CSV_HEADER + "NX-1,Zoë,X,z@example.com,0612345678,Day,1,1\n").encode("latin-1")
    result = imported(staff, run_imports, shop_id, content)
    assert "Nothing was imported" in result and "not UTF-8" in result
    with app.app_context():
        assert db.session.query(Order).count() == 0


def test_a_file_over_the_upload_limit_is_refused_next_to_the_file_field(app, login, client, make_shop):
    app.config["MAX_CONTENT_LENGTH"] = 2**20
    shop_id = make_shop()
    staff = login()
    row = "NX-2026-{:06d},Ada,Lovelace,ada{:06d}@example.com,0612345678,Day ticket,1,45.00\n"
    content = CSV_HEADER + "".join(row.format(i, i) for i in range(15_000))
    assert len(content) > 2**20
    response = post_file(staff, shop_id, content)
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert field_error(html, "file").startswith("The file is larger than 1 MB. Split it into smaller files")
    assert 'type="file"' in html and csrf_token(html)  # the form, ready for the smaller file
    with app.app_context():
        assert db.session.query(Order).count() == 0
    # Without a login the same request learns nothing about the shop.
    stranger = client.post(f"/backoffice/shops/{shop_id}/import", data={"file": (io.BytesIO(content.encode()), "o.csv")},
                           content_type="multipart/form-data")
    assert stranger.status_code == 413 and "Harbour Jazz Nights" not in stranger.get_data(as_text=True)
    assert 'type="file"' not in stranger.get_data(as_text=True)
    # Nor does the staff of another organizer: the shop is not found, as for any of their requests.
    other = login("Other Events").post(f"/backoffice/shops/{shop_id}/import", content_type="multipart/form-data",
                                       data={"file": (io.BytesIO(content.encode()), "o.csv")})
    assert other.status_code == 404 and "Harbour Jazz Nights" not in other.get_data(as_text=True)


def test_the_import_report_writes_large_counts_as_the_language_does(app, login, make_shop, run_imports):
    shop_id = make_shop()
    staff = login()
    rows = "".join(f"NX-2026-{i:06d},Kim,Jansen,kim{i}@example.org,,Day ticket,1,45.00\n" for i in range(1200))
    assert "1,200 new orders imported." in imported(staff, run_imports, shop_id, CSV_HEADER + rows)
    staff.set_cookie("lang", "nl")
    again = imported(staff, run_imports, shop_id, CSV_HEADER + rows)
    assert "1.200 bestellingen overgeslagen: die bestaan al." in again
    assert "1.200 bestellingen" in text(page(staff, "/backoffice/orders"))
