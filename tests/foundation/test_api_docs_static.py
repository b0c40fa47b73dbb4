"""/api/docs/ loads Swagger UI from our own static files, never from a CDN."""

from __future__ import annotations

import re

import pytest
import requests
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db

ASSET_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


def test_the_api_docs_page_loads_swagger_ui_only_from_our_static_files(client):
    # when
    response = client.get("/api/docs/")
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"https?://", html), "no absolute URL: nothing from a CDN"
    assets = ASSET_URL.findall(html)
    assert any(url.endswith("swagger-ui-bundle.js") for url in assets)
    assert any(url.endswith("swagger-ui.css") for url in assets)
    for url in assets:
        if url.startswith("/api/docs/?script"):
            continue  # the page's own start-up script, served by the docs view itself
        assert url.startswith("/static/"), url
        assert finders.find(url.removeprefix("/static/")), f"{url} is not a static file of ours"


def test_the_swagger_ui_files_are_served(live_server):
    html = requests.get(f"{live_server.url}/api/docs/", timeout=10).text
    # when every file the page names is fetched from the server
    for url in ASSET_URL.findall(html):
        response = requests.get(f"{live_server.url}{url}", timeout=10)
        # then it is there
        assert response.status_code == 200, url
        assert response.content
