"""Sign-up timing (``make bench``): a taken address against a new one, through Django's test
client with the production password hasher. The two medians should be close: a gap would tell
who has an account. Printed, with N and the machine, for docs/PERFORMANCE.md."""

from __future__ import annotations

import os
import platform
import statistics
import time

import pytest
from django.conf import global_settings
from django.test import Client

pytestmark = pytest.mark.bench

RUNS = int(os.environ.get("BENCH_SIGNUPS", "15"))
PASSWORD = "correct horse battery staple 9"


def _sign_up(email: str) -> float:
    data = {
        "first_name": "Nia",
        "last_name": "Jones",
        "email": email,
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    client = Client()
    started = time.perf_counter()
    response = client.post("/accounts/signup/", data)
    took = time.perf_counter() - started
    assert response.status_code == 302
    return took


def test_sign_up_takes_as_long_for_a_taken_address_as_for_a_new_one(db, settings, clean_cache):
    # Production's hashers: the project sets none, so Django's defaults (PBKDF2 first); the
    # test settings' MD5 would hide the very cost that differed between the two paths.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    settings.ACCOUNT_RATE_LIMITS = False
    _sign_up("taken@example.com")  # the account the "taken" runs hit, and a warm-up

    new, taken = [], []
    for n in range(RUNS):  # interleaved, so drift hits both alike
        new.append(_sign_up(f"new{n}@example.com"))
        taken.append(_sign_up("taken@example.com"))

    new_ms, taken_ms = statistics.median(new) * 1000, statistics.median(taken) * 1000
    print(
        f"\nsign-up, N={RUNS} each, {platform.machine()} {os.cpu_count()} cores: "
        f"new address median {new_ms:.0f} ms, taken address median {taken_ms:.0f} ms, "
        f"ratio taken/new {taken_ms / new_ms:.2f}"
    )
