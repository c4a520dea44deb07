"""Static files: fingerprinted URLs are cached for a year; anything else is checked with the server."""

import re

from tests.pages import hrefs


def test_pages_link_fingerprinted_assets_cached_for_a_year(client):
    page = client.get("/backoffice/login").get_data(as_text=True)
    [css] = [href for href in hrefs(page) if href.startswith("/static/css/")]
    [script] = re.findall(r'<script src="([^"]+)"', page)
    for url in (css, script):
        assert re.search(r"\?v=[0-9a-f]{12}$", url), url
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_an_old_or_missing_fingerprint_is_not_cached_for_long(client):
    for url in ("/static/css/portal.css?v=000000000000", "/static/css/portal.css"):
        assert "max-age=31536000" not in client.get(url).headers.get("Cache-Control", "")
