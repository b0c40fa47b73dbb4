"""Orders intake benchmark (``make bench``): ``POST /api/v1/orders/`` through gunicorn as
production runs it (``DJANGO_ENV=production``, gunicorn.conf.py's sync workers), beside
a bare Django view (``POST /bench/bare/``, same process, same middleware, no work) measured in
the same run, in alternating rounds so the machine's other load falls on both alike.

Each order is new (its own reference); half the orders come from addresses seen before, so
new and existing customers are both measured. Clients are separate processes, each sending
its share one request at a time on a new connection (gunicorn's sync workers close each one).

Targets: the orders rate at least 30% of the bare view's, p99 under 150 ms, no errors; every
order recorded with its two disclosures. Two floors are measured in the same rounds: a view
that durably inserts its body as one row in plain SQL, and one that does so by ten statements
(an order's count), with nothing else (``bench_site_urls``): what any intake that writes
durably through Django costs at least, whatever its code. ``BENCH_ORDERS`` (default 2,000) and
``BENCH_ORDER_CLIENTS`` (default 6). Figures are printed and written to var/bench/orders.json.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import platform
import runpy
import statistics
import time
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.db import connection

from api_keys.models import Scope
from api_keys.services import issue_api_key
from sharing.models import Disclosure, ThirdParty
from sharing.order_models import Order
from tests.benchmarks.site import Gunicorn, postgres_cpu_seconds
from tests.harness.worker import ROOT
from tests.sharing.conftest import SEED

pytestmark = pytest.mark.bench

ORDERS = int(os.environ.get("BENCH_ORDERS", "2000"))
CLIENTS = int(os.environ.get("BENCH_ORDER_CLIENTS", "6"))
ROUNDS = 4
WARM_UP = 60
# As docker-compose.yml runs the web service: gunicorn.conf.py's workers for this machine.
GUNICORN_CONFIG = ROOT / "gunicorn.conf.py"
WORKERS = runpy.run_path(str(GUNICORN_CONFIG))["workers"]


@pytest.fixture
def gunicorn(transactional_db, redis_client):
    """The site under gunicorn with the production settings, on the test database."""
    with Gunicorn(workers=WORKERS) as site:
        yield site


def _post(port: int, path: str, body: bytes, headers: dict) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST", path, body, {"Content-Type": "application/json", "Host": "127.0.0.1", **headers}
        )
        response = connection.getresponse()
        content = response.read()
    finally:
        connection.close()
    return response.status, content, time.perf_counter() - started


def _order(reference: str, customer: int) -> bytes:
    return json.dumps(
        {
            "reference": reference,
            "customer": {
                "email": f"customer{customer}@bench.example",
                "first_name": "Nia",
                "last_name": "Jones",
                "address": {"line_1": "1 High Street", "town": "Leeds", "postcode": "LS1 4AP"},
            },
            "lines": [
                {"product": "Canon EOS R8 body", "supplier": "Canon UK", "quantity": 1},
                {"product": "SD card 128 GB", "supplier": "SanDisk", "quantity": 2},
            ],
            "marketing_opt_out": customer % 4 == 0,
        }
    ).encode()


def _client(job: tuple) -> list[tuple[int, float]]:
    """One client process: its requests one after another; (status, seconds) each."""
    port, path, bodies, headers = job
    return [_post(port, path, body, headers)[::2] for body in bodies]


def _load(pool, port: int, path: str, bodies: list[bytes], headers: dict) -> dict:
    shares = [bodies[n::CLIENTS] for n in range(CLIENTS)]
    started = time.perf_counter()
    results = [
        r for share in pool.map(_client, [(port, path, s, headers) for s in shares]) for r in share
    ]
    return {"seconds": time.perf_counter() - started, "results": results}


def _summary(runs: list[dict]) -> dict:
    results = [r for run in runs for r in run["results"]]
    ms = sorted(seconds * 1000 for _, seconds in results)
    seconds = sum(run["seconds"] for run in runs)
    return {
        "requests": len(results),
        "per_second": round(len(results) / seconds, 1),
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[int(len(ms) * 0.95) - 1], 1),
        "p99_ms": round(ms[int(len(ms) * 0.99) - 1], 1),
        "max_ms": round(ms[-1], 1),
        "errors": sum(1 for status, _ in results if status != 201),
    }


@pytest.fixture
def floor_table():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_floor "
            "(id bigserial PRIMARY KEY, body jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now())"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_floor")


# What each round measures, in turn: (name, path, whether it takes the API key).
MEASURED = [
    ("bare", "/bench/bare/", False),
    ("one_write", "/bench/one-write/", False),
    ("ten_writes", "/bench/ten-writes/", False),
    ("orders", "/api/v1/orders/", True),
]


def test_orders_through_gunicorn_beside_a_bare_view(gunicorn, floor_table, django_user_model):
    port = gunicorn.port
    if not ThirdParty.objects.exists():  # a transactional test before this one emptied it
        SEED.load(django_apps, None)
    admin = django_user_model.objects.create_superuser("bench@jessops.example", None)
    key, secret = issue_api_key(name="Checkout (bench)", scopes=[Scope.ORDERS_WRITE], actor=admin)
    headers = {"Authorization": f"Api-Key {secret}"}
    per_round = ORDERS // ROUNDS
    distinct = max(ORDERS // 2, 1)  # half the orders come from an address seen before
    context = multiprocessing.get_context("fork")
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in MEASURED}
    cpu = dict.fromkeys(runs, 0.0)
    database_cpu = dict.fromkeys(runs, 0.0)
    with context.Pool(CLIENTS) as pool:
        warm = [_order(f"W-{n}", distinct + n) for n in range(WARM_UP)]
        for _, path, keyed in MEASURED:
            _load(pool, port, path, warm, headers if keyed else {})
        for round_ in range(ROUNDS):
            numbers = range(round_ * per_round, (round_ + 1) * per_round)
            bodies = [_order(f"B-{n}", n % distinct) for n in numbers]
            for name, path, keyed in MEASURED:
                before, database_before = gunicorn.cpu_seconds(), postgres_cpu_seconds()
                runs[name].append(_load(pool, port, path, bodies, headers if keyed else {}))
                cpu[name] += gunicorn.cpu_seconds() - before
                database_cpu[name] += postgres_cpu_seconds() - database_before

    summaries = {name: _summary(name_runs) for name, name_runs in runs.items()}
    bare, orders = summaries["bare"], summaries["orders"]
    ratio = orders["per_second"] / bare["per_second"]
    results = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "command": "make bench PYTEST_ARGS='-k orders'",
        "orders": ORDERS,
        "clients": CLIENTS,
        "gunicorn_workers": WORKERS,
        "bare_view": bare,
        "one_write_floor": summaries["one_write"],
        "ten_writes_floor": summaries["ten_writes"],
        "orders_api": orders,
        "orders_to_bare": round(ratio, 3),
        "one_write_to_bare": round(summaries["one_write"]["per_second"] / bare["per_second"], 3),
        "ten_writes_to_bare": round(summaries["ten_writes"]["per_second"] / bare["per_second"], 3),
        # The workers' CPU per request, whatever else the machine was doing.
        "workers_cpu_ms_per_request": {
            kind: round(1000 * seconds / (per_round * ROUNDS), 2) for kind, seconds in cpu.items()
        },
        # PostgreSQL's CPU per request (the whole server: on a quiet machine, these requests').
        "postgres_cpu_ms_per_request": {
            kind: round(1000 * seconds / (per_round * ROUNDS), 2)
            for kind, seconds in database_cpu.items()
        },
    }
    out = Path(settings.BASE_DIR) / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "orders.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))

    total = per_round * ROUNDS + WARM_UP
    assert Order.objects.filter(system=key).count() == total
    assert Disclosure.objects.filter(system=key).count() == 2 * total
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_floor")
        assert cursor.fetchone()[0] == 11 * total  # one and ten rows a request
    assert all(summary["errors"] == 0 for summary in summaries.values())
    assert orders["p99_ms"] < 150
    assert ratio >= 0.30
