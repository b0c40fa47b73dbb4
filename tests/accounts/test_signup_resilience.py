"""Sign-up keeps working while the cache's Redis is down (its rate limits fail open and the log
says so), and an account, its consent rows and its welcome email's delivery row commit together
or not at all."""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from allauth.account.models import EmailAddress
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client

import accounts.adapter
from communications.kinds import MessageKind
from communications.models import Delivery
from consent.models import ConsentEvent, CurrentConsent
from tests.accounts.test_signup import signup


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def own_redis() -> Iterator[tuple[subprocess.Popen, str]]:
    """A Redis of this test's own on a free port, nothing saved to disk."""
    port = free_port()
    server = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--save", ""),
            *("--appendonly", "no", "--daemonize", "no"),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.05)
    yield server, url
    if server.poll() is None:
        server.kill()
        server.wait()


@pytest.fixture
def cache_on(own_redis, settings) -> subprocess.Popen:
    """The project's cache configuration, pointed at the test's own Redis."""
    server, url = own_redis
    settings.CACHES = {"default": {**django_settings.CACHES["default"], "LOCATION": url}}
    return server


def test_signup_works_while_the_cache_redis_is_down_and_the_log_says_so(
    db, client, cache_on, caplog
):
    # given the cache works, then its Redis stops
    cache.set("probe", 1)
    assert cache.get("probe") == 1
    cache_on.terminate()
    cache_on.wait(timeout=10)

    # when someone signs up
    with caplog.at_level(logging.ERROR, logger="django_redis"):
        started = time.monotonic()
        response = signup(client, "nia@example.com", "newsletter")
        took = time.monotonic() - started

    # then the sign-up succeeds, completely
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    user = get_user_model().objects.get(email="nia@example.com")
    assert EmailAddress.objects.filter(user=user, email="nia@example.com").exists()
    assert ConsentEvent.objects.filter(subject=user, purpose__code="newsletter").exists()
    assert CurrentConsent.objects.filter(subject=user, purpose__code="newsletter").exists()
    assert Delivery.objects.filter(user=user, kind=MessageKind.WELCOME).count() == 1
    # and the failing cache is in the log, without holding the request up for long
    assert any(r.name == "django_redis.cache" for r in caplog.records)
    assert took < 10


def test_an_account_is_not_kept_when_its_welcome_email_cannot_be_queued(
    db, monkeypatch, clean_cache
):
    def refuse(**kwargs):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(accounts.adapter, "enqueue_email", refuse)
    client = Client(raise_request_exception=False)

    response = signup(client, "nia@example.com", "newsletter")

    assert response.status_code == 500
    assert not get_user_model().objects.filter(email="nia@example.com").exists()
    assert not EmailAddress.objects.exists()
    assert not ConsentEvent.objects.exists()
    assert not CurrentConsent.objects.exists()
    assert not Delivery.objects.exists()
