"""Retention jobs at scale (``make bench``): each rule of the schedule over
``RETENTION_BENCH_ROWS`` rows of its table (1,000,000), half of them due, run to the end by
the job; beside it, in the same run, the naive way: one statement over the same rows.

What is asserted, per rule: every due row is forgotten, none of the others, a held person's
rows are kept and counted; no batch held its locks for a second (each batch is one
transaction, so ``RetentionRun.longest_batch_ms`` is the longest any row lock was held); and a
rate floor, so that a night's run stays bounded.

The rules that pseudonymise (``unverified_accounts``, ``survey_answers``) run the owning app's
erasure code row by row; they run over ``RETENTION_BENCH_PEOPLE`` accounts (2,000) and
``RETENTION_BENCH_ENTRIES`` entries (100,000) instead. The rows are made by the retention
tests' own cases (``tests/retention/cases.py``): one row of each kind through the models, then
copied in PostgreSQL (``INSERT ... SELECT ... generate_series``) with their unique columns made
unique. Figures are printed and written to ``var/bench/retention.json``.
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from retention import engine
from retention.models import LegalHold, RetentionRun
from retention.rules import Action
from retention.schedule import BY_KEY, RULES
from tests.benchmarks.site import machine
from tests.factories import UserFactory
from tests.retention.cases import CASES, period_end

pytestmark = pytest.mark.bench

ROWS = int(os.environ.get("RETENTION_BENCH_ROWS", "1000000"))
PEOPLE = int(os.environ.get("RETENTION_BENCH_PEOPLE", "2000"))
ENTRIES = int(os.environ.get("RETENTION_BENCH_ENTRIES", "100000"))
HELD_ROWS = 3
# A night's run of a rule over a million rows must end within minutes: at least this many
# rows a second for deleting and trimming, and pseudonymising accounts (each an erasure
# through every app) and entries.
FLOOR = {Action.DELETE: 5_000, Action.TRIM: 5_000}
PSEUDONYMISE_FLOOR = {"unverified_accounts": 10, "survey_answers": 1_000}
LOCK_LIMIT_MS = 1_000
RESULTS = Path(settings.BASE_DIR) / "var" / "bench" / "retention.json"

# Per rule: the columns made unique in each copy (SQL of the copy number ``g`` and the side,
# 'd' for due and 'k' for kept), beside the template row's own values.
UNIQUE: dict[str, dict[str, str]] = {
    "unverified_accounts": {"email": "'bench' || side || g || '@retained.example'"},
    "newsletter_requests": {"key": "md5(side || g)"},
    "delivery_content": {"provider_message_id": "'<bench' || side || g || '@shop.example>'"},
    "provider_events": {"event_id": "'bench' || side || g"},
    "cookie_choices": {"anonymous_id": "gen_random_uuid()"},
    "ledger_network_details": {},
    "survey_answers": {"person_id": "NULL"},
    "referral_tokens": {"token": "'bench' || side || g"},
    "sign_in_log": {"username": "'bench' || side || g"},
    "sign_in_failures": {"username": "'bench' || side || g"},
    "sign_in_lockouts": {"username": "'bench' || side || g"},
    "expired_sessions": {"session_key": "md5(side || g)"},
}


def rows_for(key: str) -> int:
    return {"unverified_accounts": PEOPLE, "survey_answers": ENTRIES}.get(key, ROWS)


def copy_row(model: type, pk: Any, copies: int, side: str, unique: dict[str, str]) -> None:
    """``copies`` copies of one row, in one statement."""
    meta = model._meta
    columns = [
        field.column
        for field in meta.concrete_fields
        if not (field.primary_key and field.column not in unique)
    ]
    values = [unique.get(column, f't."{column}"') for column in columns]
    names = ", ".join('"' + column + '"' for column in columns)
    table = meta.db_table
    statement = (
        f'INSERT INTO "{table}" ({names}) SELECT {", ".join(values)} '  # noqa: S608
        f'FROM "{table}" t, generate_series(1, %s) g, (SELECT %s::text AS side) s '
        f'WHERE t."{meta.pk.column}" = %s'
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [copies, side, pk])


def copy_addresses(side: str) -> None:
    """Each copied account's allauth address, unverified, as sign-up leaves it."""
    with connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO account_emailaddress (user_id, email, verified, "primary") '
            "SELECT id, email, false, true FROM accounts_user WHERE email LIKE %s",
            [f"bench{side}%"],
        )


def load(key: str, now) -> tuple[int, int]:
    """The rule's table: half the rows due, half not, and a held person's due rows. Returns
    (rows due and not held, rows in the table)."""
    case, rule = CASES[key], BY_KEY[key]
    total = rows_for(key)
    end = period_end(key, now)
    who = UserFactory(email="bench.owner@retained.example", verified=True)
    due_pk = case.make(end - timedelta(days=1), who)
    kept_pk = case.make(end + timedelta(days=1), who)
    half = total // 2
    copy_row(case.model, due_pk, half - 1, "d", UNIQUE[key])
    copy_row(case.model, kept_pk, half - 1, "k", UNIQUE[key])
    if key == "unverified_accounts":
        copy_addresses("d")
        copy_addresses("k")
    if rule.person:
        held = UserFactory(email="bench.held@retained.example", verified=True)
        people = []
        for _ in range(HELD_ROWS):
            pk = case.make(end - timedelta(days=1), held)
            people.append(pk if case.makes_its_person else held.pk)
        for person in set(people):
            LegalHold.objects.create(
                person_id=person, reason="Dispute", ends_at=now + timedelta(days=30), placed_by=who
            )
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{case.model._meta.db_table}"')
    due = engine.not_held(rule, rule.due(now), now).count()
    return due, case.model._default_manager.count()


def naive_seconds(key: str, now) -> float:
    """One statement over every due row (the legal holds ignored), rolled back: how long it
    holds the locks of all of them."""
    rule = BY_KEY[key]
    due = rule.due(now)
    with transaction.atomic():
        engine._name_the_change(rule, rule.cutoff(now))
        started = time.perf_counter()
        if rule.action is Action.TRIM:
            due.update(**dict(rule.trim))
        else:
            table, pk = rule.model_class._meta.db_table, rule.model_class._meta.pk.column
            sql, params = due.values("pk").query.sql_with_params()
            with connection.cursor() as cursor:
                statement = f'DELETE FROM "{table}" WHERE "{pk}" IN ({sql})'  # noqa: S608
                cursor.execute(statement, params)
        took = time.perf_counter() - started
        transaction.set_rollback(True)
    return took


@pytest.mark.parametrize("key", [rule.key for rule in RULES])
def test_each_rule_forgets_a_large_table_in_short_batches(transactional_db, key):
    now = timezone.now()
    rule = BY_KEY[key]
    loading = time.perf_counter()
    due, table_rows = load(key, now)
    loaded = time.perf_counter() - loading
    held = engine.held(rule, rule.due(now), now).count()
    assert due >= rows_for(key) // 2 - 1
    naive = naive_seconds(key, now) if rule.action is not Action.PSEUDONYMISE else None

    started = time.perf_counter()
    outcome = engine.run(rule, now=now)
    took = time.perf_counter() - started

    run = RetentionRun.objects.get(pk=outcome.run_id)
    assert outcome.deleted + outcome.trimmed == due
    assert engine.not_held(rule, rule.due(now), now).count() == 0
    assert run.skipped_held == held == (HELD_ROWS if rule.person else 0)
    left = rule.model_class._default_manager.count()
    assert left == (table_rows - due if rule.action is Action.DELETE else table_rows)
    assert run.longest_batch_ms < LOCK_LIMIT_MS, f"a batch held its locks {run.longest_batch_ms} ms"
    rate = due / took
    floor = PSEUDONYMISE_FLOOR.get(key) or FLOOR[rule.action]
    result = {
        "rule": key,
        "action": str(rule.action),
        "rows": table_rows,
        "due": due,
        "held": held,
        "seconds": round(took, 2),
        "rows_per_second": round(rate),
        "batches": run.batches,
        "batch_size": rule.batch,
        "longest_batch_ms": run.longest_batch_ms,
        "naive_one_statement_seconds": None if naive is None else round(naive, 2),
        "load_seconds": round(loaded, 1),
        "machine": machine(),
    }
    print("\n" + json.dumps(result))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as out:
        out.write(json.dumps(result) + "\n")
    assert rate >= floor, f"{rate:.0f} rows/s, under {floor}"
