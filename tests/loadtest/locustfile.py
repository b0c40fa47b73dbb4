"""The load test's users (locust), one class per endpoint, and a headless run of them.

What each user acts for comes from the plan ``tests/loadtest/test_load.py`` writes (the file
``LOADTEST_PLAN`` names): logged-in subjects' session cookies, one-click unsubscribe paths,
the webhook's credentials and the orders API key. Each save and each unsubscribe acts for a
subject of its own, so that afterwards the ledger can be checked subject by subject.

Run by the test as ``python tests/loadtest/locustfile.py MODE SECONDS USERS OUT`` (``mixed``:
the five endpoints by their weights; ``bare``: the bare Django view, the ceiling), which writes
each endpoint's figures and the subjects acted for to ``OUT`` as JSON. The file is a plain
locustfile too: ``LOADTEST_PLAN=... locust -f tests/loadtest/locustfile.py`` with a plan left
by a run.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

import gevent
from locust import FastHttpUser, constant, events, task
from locust.env import Environment
from locust.exception import StopUser

PLAN = json.loads(Path(os.environ["LOADTEST_PLAN"]).read_text())
# Production trusts the proxy's word that a request came over HTTPS (SECURE_PROXY_SSL_HEADER).
HTTPS = {"X-Forwarded-Proto": "https"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
# The choices every save makes: the newsletter off (it was on), surveys on (never asked).
SAVED_CHOICES = "special_offers=on&surveys=on"
BOUNCE_EVERY = 50  # one webhook event in 50 a hard bounce, as the webhook benchmark sends

savers = iter(PLAN["savers"])
unsubscribers = iter(PLAN["unsubscribers"])
views, events_sent, orders = itertools.count(), itertools.count(), itertools.count()
# What the run did, for the test to check against the database afterwards.
saved: list[int] = []
unsubscribed: list[int] = []
statuses: Counter[str] = Counter()
exhausted: set[str] = set()


@events.request.add_listener
def count_status(name, response, exception, **kwargs) -> None:
    status = getattr(response, "status_code", 0) or 0
    statuses[f"{status // 100}xx" if status else "no response"] += 1


def _check(response, status: int, *, contains: bytes = b"") -> bool:
    if response.status_code != status:
        response.failure(f"{response.status_code}, expected {status}")
        return False
    if contains and contains not in (response.content or b""):
        response.failure(f"the response lacks {contains!r}")
        return False
    response.success()
    return True


def _next(pool, name: str):
    item = next(pool, None)
    if item is None:
        exhausted.add(name)
        raise StopUser()
    return item


class PreferencePageViewer(FastHttpUser):
    """A logged-in customer opening the preference centre (one of many subjects)."""

    weight = 8
    wait_time = constant(0)

    @task
    def view(self) -> None:
        n = next(views)
        cookie, email = PLAN["viewers"][n % len(PLAN["viewers"])]
        with self.client.get(
            "/preferences/",
            headers={**HTTPS, "Cookie": cookie},
            name="GET /preferences/ (view)",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            _check(response, 200, contains=email.encode())


class PreferenceSaver(FastHttpUser):
    """A logged-in customer changing their choices: the page (its CSRF token), then the form
    posted back, each save by a subject of its own."""

    weight = 4
    wait_time = constant(0)

    @task
    def save(self) -> None:
        subject, cookie = _next(savers, "savers")
        self.client.cookiejar.clear()
        with self.client.get(
            "/preferences/",
            headers={**HTTPS, "Cookie": cookie},
            name="GET /preferences/ (before a save)",
            allow_redirects=False,
            catch_response=True,
        ) as page:
            if not _check(page, 200, contains=b"csrfmiddlewaretoken"):
                return
            token = CSRF_INPUT.search(page.content).group(1).decode()
        csrf_cookie = next(c for c in self.client.cookiejar if c.name == "csrftoken")
        with self.client.post(
            "/preferences/",
            data=f"csrfmiddlewaretoken={token}&{SAVED_CHOICES}",
            headers={
                **HTTPS,
                **FORM,
                "Cookie": f"{cookie}; csrftoken={csrf_cookie.value}",
                "Origin": self.host.replace("http://", "https://"),
            },
            name="POST /preferences/ (save)",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if _check(response, 302):
                saved.append(subject)


class OneClickUnsubscriber(FastHttpUser):
    """A mail provider posting RFC 8058's one-click unsubscribe to the ``List-Unsubscribe`` URL
    of a newsletter, each for a subject of its own."""

    weight = 4
    wait_time = constant(0)

    @task
    def unsubscribe(self) -> None:
        subject, path = _next(unsubscribers, "unsubscribers")
        with self.client.post(
            path,
            data="List-Unsubscribe=One-Click",
            headers={**HTTPS, **FORM},
            name="POST /unsubscribe/<token>/ (one-click)",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if _check(response, 200):
                unsubscribed.append(subject)


class PostmarkWebhook(FastHttpUser):
    """Postmark posting its tracking events: deliveries, one in 50 a hard bounce."""

    weight = 5
    wait_time = constant(0)
    authorization = "Basic " + base64.b64encode(PLAN["webhook_secret"].encode()).decode()

    @task
    def event(self) -> None:
        n = next(events_sent)
        run = PLAN["run"]
        if n % BOUNCE_EVERY == 0:
            payload = {
                "RecordType": "Bounce",
                "ID": n,
                "Type": "HardBounce",
                "TypeCode": 1,
                "MessageID": f"{run}-message-{n}",
                "Description": "The server was unable to deliver your message.",
                "Details": "smtp;550 5.1.1 The email account does not exist.",
                "Email": f"bounced{n}@{run}.example",
                "BouncedAt": "2026-11-28T12:00:00Z",
                "Inactive": True,
            }
        else:
            payload = {
                "RecordType": "Delivery",
                "ServerID": 23,
                "MessageID": f"{run}-message-{n}",
                "Recipient": f"reader{n}@{run}.example",
                "Tag": "newsletter",
                "Metadata": {},
                "DeliveredAt": "2026-11-28T12:00:00Z",
                "Details": "smtp;250 2.0.0 OK",
            }
        with self.client.post(
            "/anymail/postmark/tracking/",
            data=json.dumps(payload),
            headers={
                **HTTPS,
                "Content-Type": "application/json",
                "Authorization": self.authorization,
            },
            name="POST /anymail/postmark/tracking/ (webhook)",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            _check(response, 200)


class OrderIntake(FastHttpUser):
    """The shop's checkout sending orders, each new; half from customers seen before."""

    weight = 3
    wait_time = constant(0)

    @task
    def order(self) -> None:
        n = next(orders)
        customer = n // 2  # each customer orders twice
        body = {
            "reference": f"{PLAN['run']}-{n}",
            "customer": {
                "email": f"customer{customer}@{PLAN['run']}.example",
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
        with self.client.post(
            "/api/v1/orders/",
            data=json.dumps(body),
            headers={
                **HTTPS,
                "Content-Type": "application/json",
                "Authorization": f"Api-Key {PLAN['api_key']}",
            },
            name="POST /api/v1/orders/ (order)",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            _check(response, 201)


class BareView(FastHttpUser):
    """The ceiling: a Django view doing nothing, same process, middleware and session."""

    wait_time = constant(0)

    @task
    def bare(self) -> None:
        cookie, _ = PLAN["viewers"][0]
        with self.client.get(
            "/bench/bare-page/",
            headers={**HTTPS, "Cookie": cookie},
            name="GET /bench/bare-page/ (bare view)",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            _check(response, 200)


MIXED = [PreferencePageViewer, PreferenceSaver, OneClickUnsubscriber, PostmarkWebhook, OrderIntake]


def run(mode: str, seconds: float, users: int) -> dict:
    """Run ``mode``'s users headless for ``seconds``; each endpoint's figures."""
    classes = MIXED if mode == "mixed" else [BareView]
    # Users stopped at the end finish the request they are in (up to 30 s), so every
    # response the server sent is counted.
    environment = Environment(
        user_classes=classes, host=PLAN["host"], events=events, stop_timeout=30
    )
    runner = environment.create_local_runner()
    started = time.monotonic()
    runner.start(users, spawn_rate=users)
    gevent.spawn_later(seconds, runner.quit)
    runner.greenlet.join()
    elapsed = time.monotonic() - started
    endpoints = {}
    for entry in sorted(environment.stats.entries.values(), key=lambda e: e.name):
        endpoints[entry.name] = {
            "requests": entry.num_requests,
            "per_second": round(entry.num_requests / elapsed, 1),
            "p50_ms": entry.get_response_time_percentile(0.50),
            "p95_ms": entry.get_response_time_percentile(0.95),
            "p99_ms": entry.get_response_time_percentile(0.99),
            "max_ms": round(entry.max_response_time),
            "errors": entry.num_failures,
        }
    total = environment.stats.total
    return {
        "seconds": round(elapsed, 1),
        "users": users,
        "user_classes": {
            cls.__name__: runner.final_user_classes_count.get(cls.__name__, 0) for cls in classes
        },
        "endpoints": endpoints,
        "total": {
            "requests": total.num_requests,
            "per_second": round(total.num_requests / elapsed, 1),
            "errors": total.num_failures,
        },
        "failures": [
            {"endpoint": f.name, "error": str(f.error), "occurrences": f.occurrences}
            for f in environment.stats.errors.values()
        ],
        "statuses": dict(statuses),
        "pools_exhausted": sorted(exhausted),
        "saved": saved,
        "unsubscribed": unsubscribed,
    }


if __name__ == "__main__":
    mode, seconds, users, out = sys.argv[1:5]
    Path(out).write_text(json.dumps(run(mode, float(seconds), int(users)), indent=2))
