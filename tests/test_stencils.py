"""The booker's overview from a stencil: the same page as the template renders, each booker's own values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import render_template, template_rendered, url_for
from hypothesis import HealthCheck, given, settings, strategies as st
from jinja2 import ChoiceLoader, DictLoader

from portal import stencils
from portal.models import TicketStatus
from portal.services.overview import OrderOverview, ShopLine, TicketLine
from portal.stencils import render_stencilled
from tests.conftest import links_in
from tests.pages import csrf_token, form_actions, hrefs, path_of, text

# --- Through the portal, as bookers open their links ---------------------------


def overview_paths(smtp, deliver, *emails: str) -> list[str]:
    deliver()
    return [path_of(links_in(smtp.take_one(email))[0]) for email in emails]


def test_two_bookers_of_one_event_each_see_their_own_order_and_links(app, client, smtp, deliver, make_shop, make_order):
    shop_id = make_shop()
    make_order(shop_id=shop_id, booker_email="ann@example.com", number="NX-2026-000001")
    make_order(shop_id=shop_id, booker_email="bob@example.com", number="NX-2026-000002")
    ann, bob = overview_paths(smtp, deliver, "ann@example.com", "bob@example.com")

    rendered = []
    with template_rendered.connected_to(lambda sender, template, context: rendered.append(template.name), app):
        ann_page = client.get(ann).get_data(as_text=True)
        bob_page = client.get(bob).get_data(as_text=True)
    # Ann's request rendered the template (and its stencil); Bob's page came from the stencil.
    assert rendered == ["consumer/overview.html", "consumer/overview.html"]

    for page, own, other in [(ann_page, ann, bob), (bob_page, bob, ann)]:
        token, other_token = own.split("/")[2], other.split("/")[2]
        own_links = [link for link in hrefs(page) + form_actions(page) if link.startswith("/o/")]
        assert len(own_links) == 8 and all(link.startswith(own + "/") for link in own_links)
        assert other_token not in page
        assert token in page
    assert "NX-2026-000001" in text(ann_page) and "NX-2026-000002" not in ann_page
    assert "NX-2026-000002" in text(bob_page) and "NX-2026-000001" not in bob_page


@pytest.mark.parametrize("personalisation", [True, False])
def test_the_overview_links_are_the_routes_own_urls(app, client, smtp, deliver, make_order, personalisation):
    make_order(tickets=3, personalisation_required=personalisation)
    [path] = overview_paths(smtp, deliver, "booker@example.com")
    token = path.split("/")[2]
    page = client.get(path).get_data(as_text=True)
    with app.test_request_context():
        if personalisation:
            expected = [url_for(f"consumer.{view}", token=token, position=n) for n in (1, 2, 3) for view in ("claim", "share")]
            assert [link for link in hrefs(page) if link.startswith("/o/")] == expected
        else:
            expected = [url_for("consumer.download", token=token, position=n) for n in (1, 2, 3)]
            assert form_actions(page) == [*expected, url_for("consumer.download_all", token=token)]


def test_each_browser_gets_its_own_form_token_on_an_overview_from_a_stencil(app, smtp, deliver, make_shop, make_order):
    shop_id = make_shop(personalisation_required=False)
    make_order(shop_id=shop_id, booker_email="ann@example.com")
    make_order(shop_id=shop_id, booker_email="bob@example.com")
    ann, bob = overview_paths(smtp, deliver, "ann@example.com", "bob@example.com")
    ann_browser, bob_browser = app.test_client(), app.test_client()

    ann_token = csrf_token(ann_browser.get(ann).get_data(as_text=True))
    bob_page = bob_browser.get(bob).get_data(as_text=True)
    bob_token = csrf_token(bob_page)
    assert bob_token != ann_token

    download = f"{bob}/tickets/1/download"
    assert download in form_actions(bob_page)
    assert bob_browser.post(download, data={"csrf_token": ann_token}).status_code == 400
    assert bob_browser.post(download, data={"csrf_token": bob_token}).mimetype == "application/pdf"


def test_a_change_shows_at_once_with_its_message_once(app, client, smtp, deliver, make_order):
    make_order(tickets=2)
    [path] = overview_paths(smtp, deliver, "booker@example.com")
    assert "Personalised by" not in client.get(path).get_data(as_text=True)
    page = client.get(f"{path}/tickets/1/claim").get_data(as_text=True)
    client.post(
        f"{path}/tickets/1/claim",
        data={"csrf_token": csrf_token(page), "first_name": "Zoë", "last_name": "O'Neil <3", "email": "zoe@example.org"},
    )
    after = client.get(path).get_data(as_text=True)
    assert "Personalised by Zoë O&#39;Neil &lt;3" in after
    assert "Ticket 1 is now personalised." in text(after)
    again = client.get(path).get_data(as_text=True)
    assert "Personalised by Zoë O&#39;Neil &lt;3" in again
    assert "Ticket 1 is now personalised." not in text(again)


# --- render_stencilled itself, on made-up orders --------------------------------

STARTS = datetime(2027, 6, 12, 18, 0, tzinfo=UTC)


def shop_row(**values) -> ShopLine:
    defaults = dict(
        event_name="Harbour Jazz Nights", event_starts_at=STARTS, event_ends_at=STARTS + timedelta(hours=5),
        venue="Pier 5, Rotterdam", timezone="Europe/Amsterdam", default_language="en", download_enabled=True,
        personalisation_required=True, consumer_desk_whatsapp="+31205550100",
    )
    return ShopLine(**{**defaults, **values})


def overview_page(number: str, token: str, form_token: str | None, shop, tickets) -> tuple[str, str]:
    """(the page from render_stencilled, the page the template renders) for one order."""
    order = OrderOverview(number, shop, tuple(tickets))
    context = {"order": order, "token": token, "form_token": form_token}
    page = render_stencilled(
        "consumer/overview.html",
        lambda hole: {"order": order._replace(number=hole(number)), "token": hole(token), "form_token": hole(form_token)},
    )
    return page, render_template("consumer/overview.html", **context)


names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=0, max_size=12)
tickets = st.lists(
    st.builds(
        lambda status, via, email, name, downloadable, kind: (status, via, email, name, downloadable, kind),
        st.sampled_from(list(TicketStatus)),
        st.sampled_from([None, "whatsapp", "email", "link"]),
        st.one_of(st.none(), st.emails()),
        names,
        st.booleans(),
        st.sampled_from(["Day ticket", "VIP & <Backstage>", "Früh"]),
    ),
    min_size=0,
    max_size=4,
)
numbers = st.one_of(st.from_regex(r"NX-2026-[0-9]{6}", fullmatch=True), names)
link_tokens = st.one_of(st.from_regex(r"[A-Za-z0-9_-]{8,24}\.[A-Za-z0-9_-]{8,30}", fullmatch=True), names.filter(bool))


def ticket_lines(drawn) -> list[TicketLine]:
    return [
        TicketLine(position, kind, status, via, email, name, downloadable)
        for position, (status, via, email, name, downloadable, kind) in enumerate(drawn, start=1)
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=tickets,
    first=st.tuples(numbers, link_tokens, st.one_of(st.none(), link_tokens)),
    second=st.tuples(numbers, link_tokens, st.one_of(st.none(), link_tokens)),
    personalisation=st.booleans(),
    language=st.sampled_from(["en", "nl"]),
)
def test_an_overview_from_a_stencil_is_exactly_the_page_the_template_renders(app, shape, first, second, personalisation, language):
    """Any two orders of one shape (the same tickets and shop) but their own number, link and form token."""
    shop = shop_row(personalisation_required=personalisation, default_language=language)
    lines = ticket_lines(shape)
    with app.test_request_context("/o/x", headers={"Accept-Language": language}):
        for number, token, form_token in (first, second):
            from_stencil, rendered = overview_page(number, token, form_token, shop, lines)
            assert from_stencil == rendered


def test_a_shape_that_does_not_print_its_holes_as_they_are_is_always_rendered_in_full(app):
    """A template that changes a hole's value (here upper case) cannot have a stencil: the check finds it."""
    app.jinja_loader = ChoiceLoader([DictLoader({"shouting.html": "<p>{{ token|upper }} {{ token }}</p>"}), app.jinja_loader])
    with app.test_request_context("/"):
        pages = [render_stencilled("shouting.html", lambda hole: {"token": hole(token)}) for token in ("abc", "xyz")]
        [(shape, stencil)] = app.extensions["stencils"]._by_shape.items()
    assert pages == ["<p>ABC abc</p>", "<p>XYZ xyz</p>"]
    assert stencil is None


def test_stencils_are_kept_for_a_bounded_number_of_shapes(app, monkeypatch):
    monkeypatch.setattr(stencils, "MAX_STENCILS", 3)
    app.extensions.pop("stencils", None)
    with app.test_request_context("/o/x"):
        for venue in ["A", "B", "C", "D", "E"]:
            overview_page("NX-1", "token", None, shop_row(venue=venue), [])
        kept = app.extensions["stencils"]._by_shape
        assert [shape.parts[3][0][1].shop.venue for shape in kept] == ["C", "D", "E"]


@pytest.mark.parametrize("value", ["NX 2026/1", "Zoë", "a&b", "<x>", "", "tok~en"])
def test_a_value_with_characters_that_escaping_or_quoting_change_stays_in_the_shape(app, value):
    with app.test_request_context("/"):
        holes = stencils._Holes()
        assert holes(value) == value and holes.values == []
        assert holes("NX-2026_1.a") != "NX-2026_1.a" and holes.values == ["NX-2026_1.a"]
