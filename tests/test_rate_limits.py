"""Rate limits: a person never notices them; a script guessing links or mail bombing a stranger stops quickly."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portal.extensions import db
from portal.models import OutgoingMessage
from tests.conftest import links_in
from tests.pages import csrf_token, path_of, text

ROOT = Path(__file__).resolve().parent.parent
TOO_MANY = "Too many attempts, try again in a minute"


def per(limit: str) -> int:
    """The count of the first part of a limit like "5/minute;20/hour"."""
    return int(limit.split(";")[0].split("/")[0])


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def assert_friendly_429(response) -> None:
    assert response.status_code == 429
    assert TOO_MANY in text(response.get_data(as_text=True))
    assert int(response.headers["Retry-After"]) > 0


@pytest.fixture
def overview(smtp, deliver, make_order):
    make_order(tickets=2)
    deliver()
    return path_of(links_in(smtp.take_one("booker@example.com"))[0])


def test_a_script_guessing_links_is_stopped_after_its_misses(app, overview):
    misses = per(app.config["BAD_LINK_LIMIT"])
    guesser = from_address(app, "192.0.2.10")
    for n in range(misses):
        assert guesser.get(overview).status_code == 200  # a real link is no miss
        assert guesser.get(["/t/not-a-real-link", "/o/guessed", f"{overview}/tickets/9/share"][n % 3]).status_code == 404
    response = guesser.get("/o/one-more-guess")
    assert_friendly_429(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert_friendly_429(guesser.get(f"{overview}/tickets/1/share"))  # every link page, for that address
    assert from_address(app, "192.0.2.11").get(overview).status_code == 200  # someone else is not affected


def test_a_crowd_behind_one_address_opening_real_links_is_not_stopped(app, overview):
    # A venue's Wi-Fi or a mobile network's shared address: many bookers, one IP address.
    venue = from_address(app, "198.51.100.7")
    paths = [overview, f"{overview}/tickets/1/share", f"{overview}/tickets/2/claim"]
    codes = [venue.get(paths[n % len(paths)]).status_code for n in range(300)]  # the old limit was 120/minute
    assert set(codes) == {200}


def test_a_flood_of_requests_from_one_address_is_stopped(app, overview):
    app.config["TOKEN_PAGE_LIMIT"] = "40/minute"  # the ceiling, lowered to keep the test short
    flood = from_address(app, "192.0.2.20")
    assert {flood.get(overview).status_code for _ in range(40)} == {200}
    assert_friendly_429(flood.get(overview))


def test_lost_link_form_is_limited_per_minute_and_per_hour(app, monkeypatch):
    minute, hour = (int(part.split("/")[0]) for part in app.config["LOST_LINK_LIMIT"].split(";"))
    client = from_address(app, "192.0.2.20")
    page = client.get("/link").get_data(as_text=True)

    def ask():
        return client.post("/link", data={"csrf_token": csrf_token(page), "order_number": "NX-2026-000001",
                                          "email": "stranger@example.org"})

    clock = [time.time()]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    for _ in range(minute):
        assert ask().status_code == 200
    assert_friendly_429(ask())
    assert client.get("/link").status_code == 200  # only sending the form is limited
    sent = minute
    while sent < hour:
        clock[0] += 61  # a minute later: the per-minute budget is back
        for _ in range(min(minute, hour - sent)):
            assert ask().status_code == 200
            sent += 1
    clock[0] += 61
    assert_friendly_429(ask())  # the hour's budget is spent


def share_by_email(client, overview: str, position: int, address: str):
    page = client.get(f"{overview}/tickets/{position}/share").get_data(as_text=True)
    return client.post(f"{overview}/tickets/{position}/share/email",
                       data={"csrf_token": csrf_token(page), "email": address})


def test_share_by_email_is_limited_per_order_whatever_the_address(app, overview):
    """No mail bombing a stranger from one order, even from many addresses."""
    limit = per(app.config["SHARE_EMAIL_LIMIT"])
    for attempt in range(limit):
        client = from_address(app, f"198.51.100.{attempt + 1}")
        assert share_by_email(client, overview, 1, "victim@example.org").status_code == 303
    response = share_by_email(from_address(app, "198.51.100.200"), overview, 2, "victim@example.org")
    assert_friendly_429(response)
    with app.app_context():
        assert db.session.query(OutgoingMessage).filter_by(recipient="victim@example.org").count() == limit


def test_share_by_email_is_limited_per_address_across_orders(app, smtp, deliver, make_order):
    limit = per(app.config["SHARE_EMAIL_LIMIT"])
    for number in range(limit + 1):
        make_order(tickets=1, booker_email=f"booker{number}@example.com")
    deliver()
    overviews = [path_of(links_in(smtp.take_one(f"booker{n}@example.com"))[0]) for n in range(limit + 1)]
    client = from_address(app, "198.51.100.50")
    for overview in overviews[:limit]:
        assert share_by_email(client, overview, 1, "victim@example.org").status_code == 303
    assert_friendly_429(share_by_email(client, overviews[limit], 1, "victim@example.org"))


def test_rate_limits_can_be_switched_off_for_load_benchmarks(app, tmp_path):
    """RATELIMIT_ENABLED=false in the environment: no limit is counted (never in production)."""
    script = f"""
import os
from portal import create_app
from portal.config import Config
from portal.extensions import db
app = create_app(Config, {{"WTF_CSRF_ENABLED": False, "TESTING": True}})
with app.app_context():
    db.create_all()
client = app.test_client()
codes = {{client.post("/link", data={{"order_number": "NX-1", "email": "a@example.org"}}).status_code
          for _ in range({per(app.config["LOST_LINK_LIMIT"]) + 3})}}
print(sorted(codes))
"""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'bench.sqlite3'}", "SECRET_KEY": "x"}
    for enabled, expected in (("false", "[200]"), ("true", "[200, 429]")):
        result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                                env={**env, "RATELIMIT_ENABLED": enabled}, timeout=60)
        assert result.stdout.strip() == expected, result.stderr



@pytest.fixture
def redis_url():
    """A real Redis server for the counts several app servers share: TEST_REDIS_URL (.ci/run starts one)."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("TEST_REDIS_URL is not set: CI must run the shared rate limits against Redis", pytrace=False)
        pytest.skip("needs a Redis server: set TEST_REDIS_URL=redis://127.0.0.1:PORT/0 (.ci/run starts one)")
    return url


def test_two_app_servers_with_several_workers_share_one_set_of_limits_in_redis(app, gunicorn, redis_url):
    """With memory:// each worker would count on its own (4 workers: 4 times every limit)."""
    import secrets

    import requests

    env = {"RATELIMIT_STORAGE_URI": redis_url, "RATELIMIT_KEY_PREFIX": f"test-{secrets.token_hex(8)}",
           "BAD_LINK_LIMIT": "12/minute"}
    servers = [gunicorn(workers=2, env=env), gunicorn(workers=2, env=env)]
    guesses = [requests.get(f"{servers[n % 2].url}/o/guess-{n}", timeout=10).status_code for n in range(12)]
    assert guesses == [404] * 12
    refused = [requests.get(f"{server.url}/o/one-more-{n}", timeout=10) for n, server in enumerate(servers)]
    assert [response.status_code for response in refused] == [429, 429]
    assert TOO_MANY in text(refused[0].text)
