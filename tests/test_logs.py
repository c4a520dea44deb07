"""Link tokens never reach a log: not the app server's access log, not the dev server's."""

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from portal.logs import redact
from tests.conftest import free_port, links_in
from tests.pages import path_of

ROOT = Path(__file__).resolve().parent.parent


def booker_link(smtp, deliver, make_order) -> str:
    make_order(tickets=1)
    deliver()
    return path_of(links_in(smtp.take_one("booker@example.com"))[0])


def test_redact_replaces_the_token_of_both_link_kinds():
    assert redact("GET /o/WzEsMV0.abc/tickets/2/claim HTTP/1.1") == "GET /o/[token]/tickets/2/claim HTTP/1.1"
    assert redact("http://x.test/t/WzIsMV0.def?x=1") == "http://x.test/t/[token]?x=1"
    assert redact("GET /static/css/portal.css") == "GET /static/css/portal.css"


def test_dev_server_log_shows_paths_without_tokens(live_server, smtp, deliver, make_order, caplog):
    path = booker_link(smtp, deliver, make_order)
    token = path.split("/")[2]
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        assert requests.get(live_server + path, timeout=10).status_code == 200
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/o/[token]" in logged
    assert token not in logged


def test_gunicorn_access_log_shows_paths_without_tokens(app, smtp, deliver, make_order, tmp_path):
    path = booker_link(smtp, deliver, make_order)
    token = path.split("/")[2]
    port = free_port()
    access_log = tmp_path / "access.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--access-logfile", str(access_log), "wsgi:app"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": app.config["SECRET_KEY"]},
    )
    try:
        url = f"http://127.0.0.1:{port}{path}"
        for _ in range(100):
            try:
                response = requests.get(url, headers={"Referer": url}, timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert response.status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
    logged = access_log.read_text()
    assert "/o/[token]" in logged
    assert token not in logged
