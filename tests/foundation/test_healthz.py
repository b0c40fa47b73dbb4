"""/healthz: 200 when the database and the broker answer, 503 naming the part that does not."""

from __future__ import annotations

import socket

import pytest
from django.db import OperationalError, connections

from privacy_site.celery import app as celery_app

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A local port nothing listens on: bound then released, and checked to refuse."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with socket.socket() as probe:
        probe.settimeout(1)
        assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} is in use"
    return port


@pytest.fixture
def broker_at(settings, monkeypatch):
    """Point the Celery app at another broker URL for one test; restored afterwards.

    Celery prefers the CELERY_BROKER_URL environment variable over its configuration, and the
    test settings export it, so both are overridden."""

    def point(url: str) -> None:
        settings.CELERY_BROKER_URL = url
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        monkeypatch.setitem(celery_app.conf, "broker_url", url)
        assert celery_app.conf.broker_write_url == url

    return point


@pytest.fixture
def database_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection to server failed: Connection refused")

    monkeypatch.setattr(connections["default"], "cursor", refuse)


def test_healthz_is_200_when_database_and_broker_answer(client, redis_client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}
    assert response["Content-Type"] == "application/json"


def test_healthz_is_503_naming_the_broker_when_the_broker_is_unreachable(
    client, redis_client, broker_at
):
    # given
    broker_at(f"redis://127.0.0.1:{closed_port()}/0")
    # when
    response = client.get("/healthz")
    # then
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"].startswith("error")


def test_healthz_is_503_not_500_when_the_broker_url_is_invalid(client, redis_client, broker_at):
    broker_at("no-such-transport://nowhere")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"].startswith("error")


def test_healthz_is_503_naming_the_database_when_the_database_fails(
    client, redis_client, database_down
):
    # when
    response = client.get("/healthz")
    # then
    assert response.status_code == 503
    assert response.json() == {"database": "error: OperationalError", "broker": "ok"}


def test_healthz_is_503_not_500_when_a_check_raises_something_unexpected(
    client, redis_client, monkeypatch
):
    # given a failure that is not a database error at all
    def explode(*args, **kwargs):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(connections["default"], "cursor", explode)
    monkeypatch.setattr(celery_app, "connection_for_write", explode)
    # when
    response = client.get("/healthz")
    # then
    assert response.status_code == 503
    assert response.json() == {"database": "error: RuntimeError", "broker": "error: RuntimeError"}


def test_healthz_answers_head(client, redis_client):
    response = client.head("/healthz")
    assert response.status_code == 200
    assert response.content == b""


def test_healthz_refuses_post(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


def test_healthz_is_never_cached(client, redis_client):
    response = client.get("/healthz")
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-cache", "no-store", "must-revalidate"} <= cache_control


def test_healthz_needs_no_login(client, redis_client):
    response = client.get("/healthz", follow=False)
    assert response.status_code == 200
