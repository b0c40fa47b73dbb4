"""Services stopped on purpose: PostgreSQL restarted under load, and Redis stopped during a
burst of sign-ups. Each runs against a server of the scenario's own (a PostgreSQL cluster
made by ``initdb``, a ``redis-server``), on other ports: the machine's shared ones are never
stopped."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import psycopg2
import pytest
import requests
from django.contrib.auth import get_user_model
from django.utils import timezone

from communications.kinds import MessageKind
from communications.models import Delivery
from communications.services import sweep_outbox
from tests.accounts.test_signup_outage import MOST_A_SIGNUP_MAY_TAKE, timed_signup, wait_until
from tests.benchmarks.site import Gunicorn
from tests.faults.figures import write_figures
from tests.faults.invariants import assert_invariants, received_by_address
from tests.faults.own_services import OwnPostgres
from tests.harness.worker import ROOT

pytestmark = [pytest.mark.worker, pytest.mark.smtp]

Status = Delivery.Status
CLIENTS = 4
DOWN_FOR = 3.0  # seconds between stopping PostgreSQL and starting it again
CONNECT_TIMEOUT = 2  # DATABASE_CONNECT_TIMEOUT for the site
FASTEST_FAILURE = CONNECT_TIMEOUT + 2.0  # a request answered later than this would be a hang
CUSTOMERS = 8

# --- PostgreSQL restarted under load -----------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    started: float
    ended: float
    status: int
    what: str


def _prepare(pg: OwnPostgres) -> list[str]:
    """The schema on the cluster, and customers logged in: their session cookies."""
    pg.manage("migrate", "-v0")
    script = (
        "import json; from django.test import Client; from tests.factories import UserFactory;"
        "cookies = [];\n"
        f"for n in range({CUSTOMERS}):\n"
        "    user = UserFactory(email=f'customer{n}@example.com', verified=True)\n"
        "    client = Client(); client.force_login(user)\n"
        "    cookies.append(client.cookies['sessionid'].value)\n"
        "print(json.dumps(cookies))"
    )
    return json.loads(pg.manage("shell", "-c", script).strip().splitlines()[-1])


def _customer(base: str, cookie: str, answers: list[Answer], stop: threading.Event) -> None:
    """View the preference centre and save it, turning one choice on and off, until told."""
    session = requests.Session()
    session.headers["X-Forwarded-Proto"] = "https"
    session.cookies.set("sessionid", cookie)
    on = False
    while not stop.is_set():
        started = time.monotonic()
        page = session.get(f"{base}/preferences/", allow_redirects=False, timeout=30)
        answers.append(Answer(started, time.monotonic(), page.status_code, "view"))
        if "csrftoken" in page.cookies:
            # A Secure cookie, which the client would keep from this plain-HTTP loopback
            session.cookies.set("csrftoken", page.cookies["csrftoken"])
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        boxes = re.findall(r'type="checkbox" name="([^"]+)"', page.text)
        if page.status_code != 200 or token is None or not boxes:
            time.sleep(0.05)
            continue
        on = not on
        form = {"csrfmiddlewaretoken": token[1], **({boxes[0]: "on"} if on else {})}
        started = time.monotonic()
        saved = session.post(
            f"{base}/preferences/",
            data=form,
            # (the site trusts the proxy's word that the request came over HTTPS)
            headers={"Referer": base.replace("http://", "https://") + "/preferences/"},
            allow_redirects=False,
            timeout=30,
        )
        answers.append(Answer(started, time.monotonic(), saved.status_code, "save"))


def _invariants_on(pg: OwnPostgres, since, received) -> None:
    """``assert_invariants`` run against the cluster's database, in a process of its own."""
    script = (
        "import django, datetime, json; django.setup();"
        "from tests.faults.invariants import assert_invariants;"
        f"assert_invariants(since=datetime.datetime.fromisoformat({since.isoformat()!r}),"
        f" received=json.loads({json.dumps(dict(received))!r}))"
    )
    env = {
        **os.environ,
        "DATABASE_URL": pg.url,
        "DJANGO_SETTINGS_MODULE": "privacy_site.settings_test",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _rows(pg: OwnPostgres, sql: str) -> list[tuple]:
    with psycopg2.connect(pg.url) as conn, conn.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    conn.close()
    return rows


def test_postgresql_restarted_under_load_answers_503_fast_and_everything_recovers(
    transactional_db, smtp, own_workers, tmp_path
):
    with OwnPostgres() as pg:
        cookies = _prepare(pg)
        began = timezone.now()
        worker = own_workers(name="pg-restart", DATABASE_URL=pg.url, EMAIL_OUTBOX_RETRY_AFTER=0)
        site_env = {"DATABASE_URL": pg.url, "DATABASE_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT)}
        with Gunicorn(workers=3, env=site_env, static_root=tmp_path / "static") as site:
            base = f"http://127.0.0.1:{site.port}"
            answers: list[Answer] = []
            stop = threading.Event()
            clients = [
                threading.Thread(target=_customer, args=(base, cookie, answers, stop))
                for cookie in cookies[:CLIENTS]
            ]
            for client in clients:
                client.start()

            # when PostgreSQL stops under load and starts again a few seconds later
            time.sleep(3)
            down = time.monotonic()
            pg.stop("fast")
            time.sleep(DOWN_FOR)
            pg.start()
            up = time.monotonic()
            time.sleep(6)
            stop.set()
            for client in clients:
                client.join(timeout=60)
            log = site.tail(400)

        # then: no 500 at all, and no answer slower than the connection's timeout allows
        statuses = sorted({answer.status for answer in answers})
        assert set(statuses) <= {200, 302, 503}, (statuses, log)
        slowest = max(answer.ended - answer.started for answer in answers)
        assert slowest < FASTEST_FAILURE, slowest
        # 503s only while PostgreSQL was restarting (and the requests already under way then)
        unavailable = [a for a in answers if a.status == 503]
        assert unavailable, "the restart was noticed"
        assert all(down - FASTEST_FAILURE <= a.started <= up + 1 for a in unavailable)
        # the site recovered without a restart: the last second's answers all succeeded
        after = [a for a in answers if a.started > up + 2]
        assert after and all(a.status in (200, 302) for a in after)

        # and the worker recovered without a restart: every receipt the saves queued is sent
        # (those queued while it could not reach the database are requeued by the sweep,
        # as beat would)
        from privacy_site.celery import app

        deliveries = Delivery._meta.db_table

        def all_sent() -> bool:
            app.send_task("communications.sweep_outbox")
            waiting = _rows(pg, f"SELECT count(*) FROM {deliveries} WHERE status = 'queued'")  # noqa: S608  # a model's table
            return waiting[0][0] == 0

        wait_until(all_sent, timeout=90, what=worker.tail())
        sent = _rows(pg, f"SELECT to_email FROM {deliveries} WHERE status = 'sent'")  # noqa: S608
        assert sent, "the saves sent receipts"
        statuses = dict(_rows(pg, f"SELECT status, count(*) FROM {deliveries} GROUP BY 1"))  # noqa: S608
        received = received_by_address(smtp.messages)
        assert worker.process.poll() is None

        # no partial writes: the ledger and the current state agree, every change recorded;
        # nobody got more messages than rows went to them, every row marked sent arrived
        _invariants_on(pg, began, received)

    saves = [a for a in answers if a.what == "save"]
    write_figures(
        "postgresql_restart",
        {
            "clients": CLIENTS,
            "down_for_seconds": DOWN_FOR,
            "requests": len(answers),
            "saves": len(saves),
            "answered_503": len(unavailable),
            "slowest_503_seconds": round(max(a.ended - a.started for a in unavailable), 3),
            "slowest_answer_seconds": round(slowest, 3),
            "first_success_after_start_seconds": round(
                min(a.ended for a in answers if a.started > up and a.status != 503) - up, 3
            ),
            "receipts_sent": len(sent),
            "receipts_received": sum(received.values()),
            "delivery_rows_by_status": statuses,
        },
    )


# --- Redis stopped during a burst of sign-ups --------------------------------------------------

BURST = 30


def test_a_burst_of_signups_while_redis_is_down_each_succeeds_and_is_welcomed_once(
    transactional_db, smtp, worker_factory, redis_everywhere, settings, began
):
    # given a worker on the Redis that serves broker, results and cache, as in production
    worker = worker_factory(
        name="redis-outage",
        extra_env={
            "CELERY_BROKER_URL": redis_everywhere.url,
            "CELERY_RESULT_BACKEND": redis_everywhere.url,
            "REDIS_URL": redis_everywhere.url,
        },
    )
    people = [f"person{n}@example.com" for n in range(BURST)]

    # when Redis stops and people sign up one after another
    redis_everywhere.stop()
    stopped = time.monotonic()
    answers = [timed_signup(email) for email in people]

    # then every sign-up succeeds within a second, whole: the account and its queued welcome
    for response, took in answers:
        assert response.status_code == 302
        assert response["Location"] == "/accounts/confirm-email/"
        assert took < MOST_A_SIGNUP_MAY_TAKE, f"{took:.2f} s"
    users = get_user_model().objects.filter(email__in=people)
    assert users.count() == BURST
    welcome = Delivery.objects.filter(user__in=users, kind=MessageKind.WELCOME)
    assert sorted(welcome.values_list("status", flat=True)) == [Status.QUEUED] * BURST
    assert smtp.messages == []
    assert worker.process.poll() is None, worker.tail()  # the worker rides the outage out

    # when Redis is back and beat's outbox sweep runs (as often as it likes)
    redis_everywhere.start()
    back = time.monotonic()
    settings.EMAIL_OUTBOX_RETRY_AFTER = 0
    assert sweep_outbox()["requeued"] == BURST

    # then each welcome email arrives, once
    smtp.wait_for(BURST, timeout=120)
    wait_until(
        lambda: welcome.filter(status=Status.SENT).count() == BURST, timeout=60, what=worker.tail()
    )
    drained = time.monotonic() - back
    assert sweep_outbox()["requeued"] == 0
    time.sleep(1)
    received = received_by_address(smtp.messages)
    assert received == {email: 1 for email in people}
    assert worker.process.poll() is None
    assert_invariants(since=began, received=received)
    write_figures(
        "redis_stopped_during_signups",
        {
            "signups": BURST,
            "slowest_signup_seconds": round(max(took for _, took in answers), 3),
            "median_signup_seconds": round(sorted(t for _, t in answers)[BURST // 2], 3),
            "redis_down_seconds": round(back - stopped, 1),
            "all_welcomed_seconds_after_redis_was_back": round(drained, 1),
        },
    )
