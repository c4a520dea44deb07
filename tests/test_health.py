"""The load balancer's health check (/healthz): 200 while the database answers, 503 when it does not."""

import pytest

from portal import create_app
from portal.config import TestConfig
from tests.conftest import free_port


def test_the_health_check_answers_ok_and_sets_no_cookie(client):
    response = client.get("/healthz")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "ok\n")
    assert response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "unreachable",
    [
        lambda tmp_path: f"sqlite:///{tmp_path / 'no-such-folder' / 'portal.sqlite3'}",
        lambda tmp_path: f"postgresql+psycopg://portal@127.0.0.1:{free_port()}/portal?connect_timeout=2",
    ],
    ids=["sqlite file that cannot be opened", "postgresql server not listening"],
)
def test_the_health_check_says_503_when_the_database_does_not_answer(tmp_path, unreachable, caplog):
    app = create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": unreachable(tmp_path)})
    response = app.test_client().get("/healthz")
    assert (response.status_code, response.get_data(as_text=True)) == (503, "database unavailable\n")
    assert "the database did not answer" in caplog.text
