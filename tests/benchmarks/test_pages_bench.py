"""Page benchmarks (``make bench``): the preference centre ``/preferences/`` of a logged-in
customer with a long consent history, the privacy policy ``/privacy/`` and the home page, each
through gunicorn as production runs it (``DJANGO_ENV=production``, two sync workers, static
files from collectstatic's manifest, sessions in Redis), beside the bare Django view
(``GET /bench/bare-page/``, same process, same middleware, same session cookie) in the same
run, in alternating rounds.

Two measures for each page: the rate with ``BENCH_PAGE_CONNECTIONS`` (16) requests in flight,
each on a new connection, and the latency at a fixed 200 requests a second over the same
connections, each request timed from when it was due.

Targets for the preference centre: at least 40% of the bare view's rate, p99 under 50 ms at
200 req/s; ``/privacy/`` and the home page are reported. ``BENCH_PAGE_REQUESTS`` (default
2,000 per page and measure). Figures are printed and written to var/bench/pages.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from consent.provenance import Provenance
from consent.services import ConsentSource, record_decisions
from tests.benchmarks.site import Gunicorn, closed_loop, http_request, machine, paced, summary
from tests.factories import UserFactory

pytestmark = pytest.mark.bench

REQUESTS = int(os.environ.get("BENCH_PAGE_REQUESTS", "2000"))
CONNECTIONS = int(os.environ.get("BENCH_PAGE_CONNECTIONS", "16"))
RATE = 200
ROUNDS = 4
WARM_UP = 100
WORKERS = 2
PAGES = ["/preferences/", "/privacy/", "/"]
HISTORY = 150  # choices in the customer's consent history


@pytest.fixture
def site(transactional_db, redis_client, tmp_path):
    with Gunicorn(workers=WORKERS, static_root=tmp_path / "static") as running:
        yield running


@pytest.fixture
def session_cookie(transactional_db) -> str:
    """A customer with a long consent history, logged in: the session cookie's header."""
    customer = UserFactory(email="ann@bench.example", first_name="Ann", verified=True)
    for n in range(HISTORY):
        record_decisions(
            subject=customer,
            choices={"newsletter": n % 2 == 0, "special_offers": n % 3 == 0},
            source=ConsentSource.PREFERENCE_CENTRE,
            provenance=Provenance(),
        )
    client = Client()
    client.force_login(customer)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def get(path: str, cookie: str) -> bytes:
    # X-Forwarded-Proto: production trusts the proxy's word that the request came over HTTPS.
    return http_request("GET", path, headers={"Cookie": cookie, "X-Forwarded-Proto": "https"})


def test_pages_through_gunicorn_beside_a_bare_view(site, session_cookie):
    status, body = site.request(get("/preferences/", session_cookie))
    assert status == 200 and b"ann@bench.example" in body, body[:600]
    assert b"Older choices" in body  # the history is paged
    bare_page = get("/bench/bare-page/", session_cookie)
    results: dict = {
        "machine": "",
        "command": "make bench PYTEST_ARGS='-k pages'",
        "requests_per_page_and_measure": REQUESTS,
        "connections": CONNECTIONS,
        "paced_rate": RATE,
        "gunicorn_workers": WORKERS,
        "pages": {},
    }
    per_round = REQUESTS // ROUNDS
    for path in PAGES:
        page = get(path, session_cookie)
        closed_loop(site.port, [bare_page] * WARM_UP + [page] * WARM_UP, CONNECTIONS)
        bare_runs, page_runs = [], []
        cpu = {"bare": 0.0, "page": 0.0}
        for _ in range(ROUNDS):
            for kind, raw, runs in (("bare", bare_page, bare_runs), ("page", page, page_runs)):
                before = site.cpu_seconds()
                runs.append(closed_loop(site.port, [raw] * per_round, CONNECTIONS))
                cpu[kind] += site.cpu_seconds() - before
        bare_paced = paced(site.port, [bare_page] * REQUESTS, rate=RATE, connections=CONNECTIONS)
        page_paced = paced(site.port, [page] * REQUESTS, rate=RATE, connections=CONNECTIONS)
        bare, measured = summary(bare_runs), summary(page_runs)
        results["pages"][path] = {
            "bare_view": bare,
            "page": measured,
            "page_to_bare": round(measured["per_second"] / bare["per_second"], 3),
            # The workers' CPU per request, whatever else the machine was doing.
            "workers_cpu_ms_per_request": {
                kind: round(1000 * seconds / (per_round * ROUNDS), 2)
                for kind, seconds in cpu.items()
            },
            f"bare_view_at_{RATE}_per_second": summary([bare_paced]),
            f"page_at_{RATE}_per_second": summary([page_paced]),
        }
    results["machine"] = machine()
    out = Path(settings.BASE_DIR) / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "pages.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))

    for figures in results["pages"].values():
        assert figures["page"]["errors"] == figures["bare_view"]["errors"] == 0
        assert figures[f"page_at_{RATE}_per_second"]["errors"] == 0
    preferences = results["pages"]["/preferences/"]
    assert preferences["page_to_bare"] >= 0.40
    assert preferences[f"page_at_{RATE}_per_second"]["p99_ms"] < 50
