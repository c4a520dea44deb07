"""The share page's script asks for a fresh link (phone share sheet, copy link): a share like WhatsApp's."""

from portal.extensions import db
from portal.models import Order
from tests.conftest import links_in
from tests.pages import csrf_token, path_of, submit_form, text, ticket_card


def open_overview(client, smtp, deliver) -> tuple[str, str]:
    deliver()
    overview = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    return overview, client.get(f"{overview}/tickets/1/share").get_data(as_text=True)


def test_share_page_offers_the_link_buttons_only_to_its_script(client, make_order, smtp, deliver):
    make_order()
    _, page = open_overview(client, smtp, deliver)
    assert "/static/js/share.js?v=" in page
    assert "data-share-link" in page
    # The buttons themselves are made by the script; without it only WhatsApp and email show.
    assert "<button" not in page.split("data-share-link", 1)[1].split("</section>", 1)[0]


def test_share_link_returns_a_fresh_link_and_records_the_share(app, client, make_order, smtp, deliver):
    order_id = make_order()
    overview, page = open_overview(client, smtp, deliver)
    response = client.post(f"{overview}/tickets/1/share/link", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 200
    data = response.get_json()
    assert data["title"] == "Harbour Jazz Nights" and "Fill in your details" in data["text"]
    recipient_page = client.get(path_of(data["url"]))
    assert recipient_page.status_code == 200 and "Fill in your details" in text(recipient_page.get_data(as_text=True))
    assert "Shared as a link" in text(ticket_card(client.get(overview).get_data(as_text=True), 1))
    with app.app_context():
        ticket = db.session.get(Order, order_id).ticket_at(1)
        assert (ticket.status, ticket.shared_via) == ("shared", "link")

    # Asking again replaces the link: the first one stops working.
    again = client.post(f"{overview}/tickets/1/share/link", data={"csrf_token": csrf_token(page)}).get_json()
    assert again["url"] != data["url"]
    assert client.get(path_of(data["url"])).status_code == 410


def test_share_link_needs_the_form_token(client, make_order, smtp, deliver):
    make_order()
    overview, _ = open_overview(client, smtp, deliver)
    assert client.post(f"{overview}/tickets/1/share/link").status_code == 400


def test_share_link_of_a_personalised_ticket_is_refused_as_json(client, make_order, smtp, deliver):
    make_order()
    overview, page = open_overview(client, smtp, deliver)
    response = submit_form(
        client, f"{overview}/tickets/1/claim", first_name="Sam", last_name="de Vries", email="booker@example.com"
    )
    assert response.status_code == 302
    deliver()
    smtp.take_one("booker@example.com")
    refused = client.post(f"{overview}/tickets/1/share/link", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 409
    assert "already been personalised" in refused.get_json()["error"]
