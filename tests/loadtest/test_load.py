"""The load test (``make loadtest``): the site under gunicorn as production runs it
(``DJANGO_ENV=production``, gunicorn.conf.py's sync workers, sessions in Redis), on
PostgreSQL and Redis, with ``LOADTEST_SUBJECTS`` (100,000) subjects, driven by locust from this
machine for a bounded time, and a real Celery worker processing what the requests queue.

Two runs in one invocation, each of ``LOADTEST_USERS`` (20) locust users sending one request
after another: the bare Django view alone (``GET /bench/bare-page/``, same process, same
middleware, same session: the ceiling) for ``LOADTEST_BARE_SECONDS`` (20), then the mix for
``LOADTEST_SECONDS`` (60): the preference centre viewed by logged-in subjects and saved (the
page, then the form with its CSRF token), one-click unsubscribes (RFC 8058's POST to a
newsletter's ``List-Unsubscribe`` URL), Postmark webhook events and orders from the shop's
checkout, with the users shared out by the weights in ``locustfile.py``.

Afterwards: no request failed and none was answered 5xx; every save and every unsubscribe
answered as done is in the consent ledger and the current state, and nothing else is; every
webhook event is recorded and processed, every order recorded. Requests a second, p50, p95 and
p99 for each endpoint are printed and written to var/loadtest/results.json.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import runpy
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import Count, Q

from api_keys.models import Scope
from api_keys.services import issue_api_key
from communications.models import ProviderEvent
from consent.models import ConsentEvent, CurrentConsent, Purpose
from consent.services import ConsentSource
from sharing.models import ThirdParty
from sharing.order_models import Order
from tests.benchmarks.site import Gunicorn, machine
from tests.harness.worker import ROOT
from tests.loadtest.subjects import log_in, seed_subjects, unsubscribe_paths
from tests.sharing.conftest import SEED

pytestmark = pytest.mark.loadtest

SUBJECTS = int(os.environ.get("LOADTEST_SUBJECTS", "100000"))
SECONDS = float(os.environ.get("LOADTEST_SECONDS", "60"))
BARE_SECONDS = float(os.environ.get("LOADTEST_BARE_SECONDS", "20"))
USERS = int(os.environ.get("LOADTEST_USERS", "20"))
VIEWERS = 1000  # logged-in subjects whose pages are viewed, over and over
# Subjects each for one save or one unsubscribe: more than the run can use on this machine.
POOL = min(int(SECONDS * 250), (SUBJECTS - VIEWERS) // 2)
WORKERS = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["workers"]
WEBHOOK_SECRET = "anymail-webhook:" + "loadtest-secret-" * 3
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
RESULTS = Path(settings.BASE_DIR) / "var" / "loadtest" / "results.json"

VIEW = "GET /preferences/ (view)"
SAVE = "POST /preferences/ (save)"
UNSUBSCRIBE = "POST /unsubscribe/<token>/ (one-click)"
WEBHOOK = "POST /anymail/postmark/tracking/ (webhook)"
ORDER = "POST /api/v1/orders/ (order)"
BARE = "GET /bench/bare-page/ (bare view)"


@pytest.fixture
def site(transactional_db, redis_client, tmp_path):
    env = {
        "EMAIL_WEBHOOK_PROVIDERS": "postmark",
        "ANYMAIL": json.dumps({"WEBHOOK_SECRET": WEBHOOK_SECRET}),
    }
    # Production serves static files' hashed names from collectstatic's manifest.
    with Gunicorn(workers=WORKERS, env=env, static_root=tmp_path / "static") as running:
        yield running


@pytest.fixture
def worker(worker_factory):
    """One worker of one child with production's webhook settings (the run window, database
    connections kept): the only worker, the suite's session worker is not started."""
    return worker_factory(
        name="loadtest",
        concurrency=1,
        extra_env={"EMAIL_WEBHOOK_RUN_WINDOW": "0.5", "CONN_MAX_AGE": "60"},
    )


def locust(mode: str, seconds: float, plan: Path, out: Path) -> dict:
    """One headless locust run in its own process (gevent stays out of this one), with the
    CPU the client itself used: it shares the machine's cores with the site."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, str(LOCUSTFILE), mode, str(seconds), str(USERS), str(out)],
        env={**os.environ, "LOADTEST_PLAN": str(plan)},
        cwd=ROOT,
        check=True,
        timeout=seconds + 120,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = json.loads(out.read_text())
    used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    figures["client_cpu_seconds"] = round(used, 1)
    return figures


def table(runs: dict) -> str:
    lines = [f"{'endpoint':<46} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'errors':>6}"]
    for run in runs.values():
        for name, figures in run["endpoints"].items():
            lines.append(
                f"{name:<46} {figures['per_second']:>7} {figures['p50_ms']:>6} "
                f"{figures['p95_ms']:>6} {figures['p99_ms']:>6} {figures['errors']:>6}"
            )
    return "\n".join(lines)


def test_the_site_under_a_mixed_load_beside_a_bare_view(
    site, worker, django_user_model, tmp_path, caplog
):
    # The SMTP server receiving the receipts the saves send logs each one: not on stdout.
    caplog.set_level(logging.WARNING, logger="mail.log")
    # given: the subjects, the logged-in ones, the signed links, the shop's key
    started = time.perf_counter()
    ids = seed_subjects(SUBJECTS)
    sessions = log_in(ids[: VIEWERS + POOL])
    links = unsubscribe_paths(ids[VIEWERS + POOL : VIEWERS + 2 * POOL])
    if not ThirdParty.objects.exists():  # a transactional test before this one emptied it
        from django.apps import apps

        SEED.load(apps, None)
    admin = django_user_model.objects.create_superuser("loadtest@jessops.example", None)
    key, secret = issue_api_key(
        name="Checkout (load test)", scopes=[Scope.ORDERS_WRITE], actor=admin
    )
    prepared = time.perf_counter() - started
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "host": f"http://127.0.0.1:{site.port}",
                "run": f"r{int(time.time())}",
                "viewers": [[s.cookie, s.email] for s in sessions[:VIEWERS]],
                "savers": [[s.subject, s.cookie] for s in sessions[VIEWERS:]],
                "unsubscribers": links,
                "webhook_secret": WEBHOOK_SECRET,
                "api_key": secret,
            }
        )
    )

    # when: the ceiling, then the mix
    bare = locust("bare", BARE_SECONDS, plan, tmp_path / "bare.json")
    mixed = locust("mixed", SECONDS, plan, tmp_path / "mixed.json")
    requests_done = time.perf_counter()
    deadline = time.monotonic() + 180
    while ProviderEvent.objects.filter(processed_at__isnull=True).exists():
        assert time.monotonic() < deadline, (
            f"events still waiting after 3 minutes:\n{worker.tail()}"
        )
        time.sleep(0.2)
    events_processed = time.perf_counter() - requests_done

    # then: what the ledger holds
    saved, unsubscribed = set(mixed.pop("saved")), set(mixed.pop("unsubscribed"))
    bare.pop("saved"), bare.pop("unsubscribed")
    newsletter = Purpose.objects.get(code=Purpose.NEWSLETTER)
    surveys = Purpose.objects.get(code=Purpose.SURVEYS)
    saves_in_ledger = (
        ConsentEvent.objects.filter(source=ConsentSource.PREFERENCE_CENTRE)
        .values("subject")
        .annotate(newsletter_off=Count("pk", filter=_choice(newsletter, False)))
        .annotate(surveys_on=Count("pk", filter=_choice(surveys, True)))
        .filter(newsletter_off=1, surveys_on=1)
    )
    saves_now = CurrentConsent.objects.filter(subject__in=saved).filter(
        _choice(newsletter, False) | _choice(surveys, True)
    )
    unsubscribes_in_ledger = ConsentEvent.objects.filter(
        source=ConsentSource.ONE_CLICK, purpose=newsletter, granted=False
    )
    unsubscribes_now = CurrentConsent.objects.filter(
        subject__in=unsubscribed, purpose=newsletter, granted=False
    )
    endpoints = mixed["endpoints"]
    results = {
        "command": "make loadtest",
        "machine": machine(),
        "subjects": SUBJECTS,
        "mixed_seconds": SECONDS,
        "bare_seconds": BARE_SECONDS,
        "prepare_seconds": round(prepared, 1),
        "locust_users": USERS,
        "gunicorn_workers": WORKERS,
        "celery_workers": "1 worker, 1 prefork child",
        "bare": bare,
        "mixed": mixed,
        "mixed_to_bare": round(mixed["total"]["per_second"] / bare["total"]["per_second"], 3),
        "ledger": {
            "saves_answered": len(saved),
            "saves_in_ledger": saves_in_ledger.count(),
            "saves_in_current_state": saves_now.count(),
            "unsubscribes_answered": len(unsubscribed),
            "unsubscribes_in_ledger": unsubscribes_in_ledger.count(),
            "unsubscribes_in_current_state": unsubscribes_now.count(),
        },
        "webhook_events_recorded": ProviderEvent.objects.count(),
        "webhook_events_processed_seconds_after_the_last_request": round(events_processed, 1),
        "orders_recorded": Order.objects.filter(system=key).count(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(table({"bare": bare, "mixed": mixed}))

    for run in (bare, mixed):
        assert run["total"]["errors"] == 0, f"{run['failures']}\n{site.tail()}"
        assert set(run["statuses"]) <= {"2xx", "3xx"}, f"{run['statuses']}\n{site.tail()}"
    assert mixed["pools_exhausted"] == [], "more saves or unsubscribes than subjects set aside"
    assert set(endpoints) == {
        VIEW,
        SAVE,
        UNSUBSCRIBE,
        WEBHOOK,
        ORDER,
        "GET /preferences/ (before a save)",
    }
    assert all(figures["requests"] > 0 for figures in endpoints.values()), endpoints
    assert endpoints[SAVE]["requests"] == len(saved) > 0
    assert endpoints[UNSUBSCRIBE]["requests"] == len(unsubscribed) > 0
    # every save answered as done is in the ledger and the current state, and nothing more
    assert set(saves_in_ledger.values_list("subject", flat=True)) == saved
    assert saves_now.count() == 2 * len(saved)
    assert set(unsubscribes_in_ledger.values_list("subject", flat=True)) == unsubscribed
    assert unsubscribes_in_ledger.count() == unsubscribes_now.count() == len(unsubscribed)
    # every webhook event and every order recorded, every event processed
    assert ProviderEvent.objects.count() == endpoints[WEBHOOK]["requests"]
    assert results["orders_recorded"] == endpoints[ORDER]["requests"]
    assert bare["endpoints"][BARE]["requests"] > 0


def _choice(purpose: Purpose, granted: bool) -> Q:
    return Q(purpose=purpose, granted=granted)
