"""Provider webhook benchmark (``make bench``): Postmark's tracking webhook through gunicorn as
production runs it (``DJANGO_ENV=production``, two sync workers), beside the bare Django view
(``POST /bench/bare/``, same process, same middleware, no work) in the same run, in alternating
rounds so the machine's other load falls on both alike. A real Celery worker (one child)
processes the events while they arrive.

One event per request, as Postmark posts them, each new: Postmark's delivery record (no id of
its own: the payload is its identity) with a message id of its own, and one in 50 a hard
bounce with a Postmark id of its own. The client keeps ``BENCH_WEBHOOK_CONNECTIONS`` (16)
requests in flight, each on a new connection.

Targets: the webhook's rate at least 65% of the bare view's, no errors, every event recorded
once and processed (each bounce's address suppressed), and a replay of events already
recorded changes nothing. ``BENCH_WEBHOOK_EVENTS`` (default 8,000). Figures are printed and
written to var/bench/webhooks.json.
"""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import pytest
from django.conf import settings

from communications.addresses import address_hash
from communications.models import ProviderEvent, Suppression
from tests.benchmarks.site import Gunicorn, closed_loop, http_request, machine, summary

pytestmark = pytest.mark.bench

EVENTS = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "8000"))
CONNECTIONS = int(os.environ.get("BENCH_WEBHOOK_CONNECTIONS", "16"))
ROUNDS = 4
WARM_UP = 200
WORKERS = 2
SECRET = "anymail-webhook:" + "bench-secret-" * 3
AUTH = "Basic " + base64.b64encode(SECRET.encode()).decode()
BOUNCE_EVERY = 50


@pytest.fixture
def site(transactional_db, redis_client):
    env = {
        "EMAIL_WEBHOOK_PROVIDERS": "postmark",
        "ANYMAIL": json.dumps({"WEBHOOK_SECRET": SECRET}),
    }
    with Gunicorn(workers=WORKERS, env=env) as running:
        yield running


def event(n: int, run: str) -> dict:
    if n % BOUNCE_EVERY == 0:
        return {
            "RecordType": "Bounce",
            "ID": int(run[1:]) * 1_000_000 + n,
            "Type": "HardBounce",
            "TypeCode": 1,
            "MessageID": f"{run}-message-{n}",
            "Description": "The server was unable to deliver your message.",
            "Details": "smtp;550 5.1.1 The email account does not exist.",
            "Email": f"bounced{n}@{run}.example",
            "BouncedAt": "2026-11-28T12:00:00Z",
            "Inactive": True,
        }
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageID": f"{run}-message-{n}",
        "Recipient": f"reader{n}@{run}.example",
        "Tag": "newsletter",
        "Metadata": {},
        "DeliveredAt": "2026-11-28T12:00:00Z",
        "Details": "smtp;250 2.0.0 OK",
    }


def webhook_request(n: int, run: str) -> bytes:
    return http_request(
        "POST",
        "/anymail/postmark/tracking/",
        body=json.dumps(event(n, run)).encode(),
        headers={"Content-Type": "application/json", "Authorization": AUTH},
    )


def bare_request(n: int, run: str) -> bytes:
    body = json.dumps(event(n, run)).encode()
    return http_request(
        "POST", "/bench/bare/", body=body, headers={"Content-Type": "application/json"}
    )


@pytest.fixture
def worker(celery_worker_session, worker_factory):
    """One worker of one child with the production settings of the webhook path (the run
    window, database connections kept) while the session's worker stands aside."""
    with celery_worker_session.paused():
        yield worker_factory(
            name="provider-events",
            concurrency=1,
            extra_env={"EMAIL_WEBHOOK_RUN_WINDOW": "0.5", "CONN_MAX_AGE": "60"},
        )


def test_postmark_webhook_through_gunicorn_beside_a_bare_view(site, worker):
    run = f"r{int(time.time())}"
    per_round = EVENTS // ROUNDS
    closed_loop(site.port, [bare_request(n, "w0") for n in range(WARM_UP)], CONNECTIONS)
    closed_loop(site.port, [webhook_request(n, "w0") for n in range(WARM_UP)], CONNECTIONS)
    bare_runs, webhook_runs = [], []
    for round_ in range(ROUNDS):
        numbers = range(round_ * per_round, (round_ + 1) * per_round)
        bare_runs.append(
            closed_loop(site.port, [bare_request(n, run) for n in numbers], CONNECTIONS)
        )
        webhook_runs.append(
            closed_loop(site.port, [webhook_request(n, run) for n in numbers], CONNECTIONS)
        )
    ingest_done = time.perf_counter()
    total = per_round * ROUNDS + WARM_UP
    deadline = time.monotonic() + 300
    while ProviderEvent.objects.filter(processed_at__isnull=True).exists():
        assert time.monotonic() < deadline, "events still waiting after 5 minutes"
        time.sleep(0.1)
    processed = time.perf_counter()

    # a replay of events already recorded: answered 200, nothing new recorded or done
    replay = closed_loop(site.port, [webhook_request(n, run) for n in range(500)], CONNECTIONS)

    bare, webhook = summary(bare_runs, ok=201), summary(webhook_runs)
    ratio = webhook["per_second"] / bare["per_second"]
    results = {
        "machine": machine(),
        "command": "make bench PYTEST_ARGS='-k webhook'",
        "events": EVENTS,
        "connections": CONNECTIONS,
        "gunicorn_workers": WORKERS,
        "celery_workers": "1 worker, 1 prefork child",
        "bare_view": bare,
        "postmark_webhook": webhook,
        "webhook_to_bare": round(ratio, 3),
        # Each round's rates, in order: flat if the cost per event does not grow with the
        # events already recorded (the rounds alternate, so the machine's load falls on both).
        "rounds_per_second": [
            {
                "bare": summary([bare_run], ok=201)["per_second"],
                "webhook": summary([webhook_run])["per_second"],
            }
            for bare_run, webhook_run in zip(bare_runs, webhook_runs, strict=True)
        ],
        "all_processed_seconds_after_the_last_request": round(processed - ingest_done, 2),
    }
    out = Path(settings.BASE_DIR) / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "webhooks.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))

    assert ProviderEvent.objects.count() == total
    assert not ProviderEvent.objects.filter(processed_at__isnull=True).exists()
    assert summary([replay])["errors"] == 0
    bounced = [address_hash(f"bounced{n}@{run}.example") for n in range(0, EVENTS, BOUNCE_EVERY)]
    assert Suppression.objects.filter(address_hash__in=bounced).count() == len(bounced)
    assert ProviderEvent.objects.filter(outcome="delivered").count() == total - (
        len(bounced) + WARM_UP // BOUNCE_EVERY
    )
    assert bare["errors"] == 0 and webhook["errors"] == 0
    assert ratio >= 0.65
