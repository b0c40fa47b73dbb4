"""Sessions are read from Redis and kept in PostgreSQL (``privacy_site.sessions``): with Redis
down, logging in, the pages of a logged-in person and logging out go on working, from the
database alone, without waiting on Redis."""

from __future__ import annotations

import time

import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.test import Client

from tests.accounts.test_signup import login as login_with
from tests.accounts.test_signup_outage import RedisServer
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.usefixtures("clean_cache")


@pytest.fixture
def redis_cache(settings):
    """The cache (and so the sessions' copies) on a Redis of the test's own."""
    server = RedisServer().start()
    settings.CACHES = {"default": {**django_settings.CACHES["default"], "LOCATION": server.url}}
    yield server
    server.stop()


def login(client: Client, email: str):
    return login_with(client, email, password=TEST_PASSWORD)


def session_keys_in(server: RedisServer) -> list[bytes]:
    return [key for key in redis.Redis.from_url(server.url).keys("*") if b"sessions" in key]


def test_the_engine_is_cached_db_on_redis():
    assert django_settings.SESSION_ENGINE == "privacy_site.sessions"


def test_a_session_is_read_from_redis_and_its_copy_expires_within_the_cap(
    redis_cache, make_user, settings
):
    settings.SESSION_CACHE_TIMEOUT = 120
    make_user("ann@example.com", verified=True)
    client = Client()

    assert login(client, "ann@example.com").status_code == 302

    (key,) = session_keys_in(redis_cache)
    assert 0 < redis.Redis.from_url(redis_cache.url).ttl(key) <= 120
    assert Session.objects.filter(session_key=client.session.session_key).exists()
    # the page is served from the copy: no session query
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/preferences/").status_code == 200
    assert not [q for q in queries if "django_session" in q["sql"]]


def test_with_redis_down_logged_in_pages_login_and_logout_still_work(redis_cache, make_user):
    make_user("ann@example.com", verified=True)
    make_user("bob@example.com", verified=True)
    ann = Client()
    assert login(ann, "ann@example.com").status_code == 302

    # when Redis goes away
    redis_cache.stop()

    # then Ann's session is read from the database, at once
    started = time.monotonic()
    response = ann.get("/preferences/")
    assert response.status_code == 200
    assert "ann@example.com" in response.content.decode()
    assert time.monotonic() - started < 1.0
    # Bob can log in, and his session works
    bob = Client()
    assert login(bob, "bob@example.com").status_code == 302
    assert bob.get("/preferences/").status_code == 200
    # and Ann's logout ends her session
    key = ann.session.session_key
    assert ann.post("/accounts/logout/").status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    assert ann.get("/preferences/").status_code == 302  # to the login page

    # when Redis is back, Bob's session is still good
    redis_cache.start()
    assert bob.get("/preferences/").status_code == 200
