"""The send-rate limit: a token bucket in Redis shared by every process, one per provider."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from communications import ratelimit


@pytest.fixture
def shared_bucket(redis_client, settings):
    """Rate limits on, against the test Redis, starting from full buckets."""
    import redis

    settings.EMAIL_RATE_LIMITS = {"smtp": 50, "default": 0}
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("email-rate:*"):
        client.delete(key)
    ratelimit._script = None
    yield
    ratelimit._script = None


def _take(count: int, queue, ready, go) -> None:
    import django

    django.setup()
    from communications.ratelimit import acquire

    # Both processes start taking together, however long each took to start.
    ready.release()
    go.wait(timeout=30)
    started = time.monotonic()
    acquire(count, provider="smtp")
    queue.put(time.monotonic() - started)


def test_the_provider_is_named_after_the_backend_module():
    assert ratelimit.provider_name("anymail.backends.postmark.EmailBackend") == "postmark"
    assert ratelimit.provider_name("django.core.mail.backends.smtp.EmailBackend") == "smtp"


def test_a_provider_without_a_limit_is_not_held_back(shared_bucket):
    started = time.monotonic()

    assert ratelimit.acquire(100_000, provider="postmark") == 0.0
    assert time.monotonic() - started < 0.5


def test_one_second_of_tokens_goes_at_once_and_the_rest_at_the_rate(shared_bucket):
    started = time.monotonic()

    ratelimit.acquire(50, provider="smtp")  # the full bucket
    first = time.monotonic() - started
    ratelimit.acquire(50, provider="smtp")  # one more second's worth
    total = time.monotonic() - started

    assert first < 0.3
    assert 0.8 < total < 2.0


def test_processes_share_one_bucket(shared_bucket, settings, monkeypatch):
    # given two processes each wanting 75 messages at 50/s, after a full bucket of 50:
    # together they must take about (150 - 50) / 50 = 2 seconds, not 0.5 each.
    monkeypatch.setenv("REDIS_URL", settings.REDIS_URL)
    monkeypatch.setenv("EMAIL_RATE_LIMITS", '{"smtp": 50}')
    context = multiprocessing.get_context("spawn")
    queue, ready, go = context.Queue(), context.Semaphore(0), context.Event()
    workers = [context.Process(target=_take, args=(75, queue, ready, go)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for _ in workers:
        assert ready.acquire(timeout=60)
    started = time.monotonic()
    go.set()
    for worker in workers:
        worker.join(timeout=30)
    elapsed = time.monotonic() - started

    waits = sorted(queue.get(timeout=5) for _ in workers)
    assert waits[-1] > 1.5, waits
    assert elapsed > 1.5


def test_without_redis_each_process_keeps_its_own_bucket(settings):
    settings.REDIS_URL = ""
    settings.EMAIL_RATE_LIMITS = {"filebased": 1000}
    ratelimit._local_buckets.clear()

    started = time.monotonic()
    ratelimit.acquire(1500, provider="filebased")

    assert 0.3 < time.monotonic() - started < 1.5
