"""A database out of reach (down, restarting, or not answering) gets a quick 503 with
``Retry-After``, never a 500 page and never a hang: the site under gunicorn with the production
settings, pointed at a port where nothing answers, or where something accepts connections and
then says nothing."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from unittest import mock

import psycopg2
import pytest
from django.db import connection

from tests.benchmarks.site import Gunicorn, free_port, http_request


@pytest.fixture
def silent_database() -> Iterator[int]:
    """A port that accepts connections and never answers, like a server that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def _site(port: int) -> Gunicorn:
    # Without collectstatic's manifest (it takes half a minute): the page then falls back to
    # its plain-text form, which is what is checked here; the HTML page is checked below.
    return Gunicorn(
        workers=2,
        env={
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/privacy_site",
            "DATABASE_CONNECT_TIMEOUT": "1",
        },
    )


def _get(site: Gunicorn, path: str, **headers: str) -> tuple[int, bytes, float]:
    started = time.monotonic()
    status, response = site.request(
        http_request("GET", path, headers={"X-Forwarded-Proto": "https", **headers})
    )
    return status, response, time.monotonic() - started


@pytest.mark.parametrize("database", ["down", "silent"])
def test_pages_and_the_api_answer_503_quickly_while_the_database_is_out_of_reach(
    database, silent_database
):
    port = free_port() if database == "down" else silent_database
    with _site(port) as site:
        # A session the cache doesn't hold is read from the database.
        status, page, seconds = _get(site, "/preferences/", Cookie="sessionid=" + "x" * 32)
        assert status == 503, page[:400]
        assert seconds < 3  # the connect timeout (1 s here), not a hang
        head, _, body = page.partition(b"\r\n\r\n")
        assert b"\r\nRetry-After: 5\r\n" in head
        assert b"nothing was changed" in body

        # A system's key is looked up in the database.
        key = "Api-Key " + "A" * 8 + "." + "b" * 32
        status, answer, seconds = _get(site, "/api/v1/orders/", Authorization=key)
        assert status == 503, answer[:400]
        assert seconds < 3
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b"\r\nRetry-After: 5\r\n" in head
        assert b"application/json" in head
        assert "nothing was changed" in json.loads(body)["detail"]

        # The health check names the part that is missing, as before.
        status, answer, _ = _get(site, "/healthz")
        assert status == 503


def test_the_page_is_a_page_of_the_site_and_needs_no_database(transactional_db, client):
    # given: no connection open, and none can be opened
    connection.close()
    client.raise_request_exception = False
    refused = psycopg2.OperationalError("connection refused")

    with mock.patch.object(connection, "get_new_connection", side_effect=refused):
        response = client.get("/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = response.content.decode()
    assert "<h1>Back in a moment</h1>" in page
    assert '<link rel="stylesheet" href="/static/css/site.css">' in page
    assert "nothing was changed" in page
