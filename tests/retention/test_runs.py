"""How a retention run behaves as a job: killed in the middle of a batch and run again it
ends where an uninterrupted run would; a row another transaction has locked is skipped, not
waited for; the dry run changes nothing; the run records name nobody."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from io import StringIO

import psycopg2
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from communications.models import Delivery
from retention import engine
from retention.models import RetentionRun
from retention.rules import ACTION_VERBS
from retention.schedule import BY_KEY, RULES
from tests.harness.worker import ROOT, database_url_for_tests
from tests.retention import cases
from tests.retention.cases import CASES, period_end, person

DELIVERY = BY_KEY["delivery_content"]
TRIM = {"to_email": "", "context": {}, "last_error": ""}


def deliveries(due: int, not_due: int) -> tuple[list[int], list[int]]:
    end = period_end("delivery_content", timezone.now())
    who = person()
    old = [cases._delivery(end - timedelta(hours=1), who) for _ in range(due)]
    new = [cases._delivery(end + timedelta(hours=1), who) for _ in range(not_due)]
    return old, new


def table(model) -> list[dict]:
    return list(model._default_manager.order_by("pk").values())


def expected_after_run(before: list[dict], due: set[int]) -> list[dict]:
    return [{**row, **TRIM} if row["id"] in due else row for row in before]


# --- Killed in the middle of a batch -----------------------------------------------------------

SLOW_UPDATES = """
CREATE OR REPLACE FUNCTION retention_test_slow_update() RETURNS trigger AS $$
BEGIN
    PERFORM pg_sleep(0.05);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER retention_test_slow BEFORE UPDATE ON communications_delivery
    FOR EACH ROW EXECUTE FUNCTION retention_test_slow_update();
"""
FAST_AGAIN = """
DROP TRIGGER IF EXISTS retention_test_slow ON communications_delivery;
DROP FUNCTION IF EXISTS retention_test_slow_update();
"""


@pytest.fixture
def slow_trims(transactional_db):
    """Each trimmed delivery takes 50 ms in the database, so that a batch is long enough to
    be killed in the middle of."""
    with connection.cursor() as cursor:
        cursor.execute(SLOW_UPDATES)
    yield
    with connection.cursor() as cursor:
        cursor.execute(FAST_AGAIN)


def command_process(*args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "retention", *args],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "privacy_site.settings_test",
            "DJANGO_ENV": "test",
            "DATABASE_URL": database_url_for_tests(),
            "CONN_MAX_AGE": "0",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_a_run_killed_in_the_middle_of_a_batch_is_finished_by_the_next_run(slow_trims):
    due, not_due = deliveries(40, 3)
    before = table(Delivery)

    # when the job is SIGKILLed while it is trimming its second batch of 4
    process = command_process("--rule", "delivery_content", RETENTION_BATCH_SIZE="4")
    deadline = time.monotonic() + 30
    while not RetentionRun.objects.filter(rule="delivery_content", batches__gte=1).exists():
        assert process.poll() is None, process.stdout.read().decode()
        assert time.monotonic() < deadline, "no batch done in 30 s"
        time.sleep(0.02)
    time.sleep(0.1)  # into the next batch: 4 rows take 200 ms
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)

    # then whole batches are done and the open one rolled back
    killed = RetentionRun.objects.get()
    assert killed.outcome == RetentionRun.Outcome.RUNNING and killed.finished_at is None
    trimmed_so_far = Delivery.objects.filter(pk__in=due, to_email="").count()
    assert trimmed_so_far == killed.trimmed == 4 * killed.batches
    assert 0 < trimmed_so_far < len(due), "killed before the end"
    now_rows = {row["id"]: row for row in table(Delivery)}
    for row in before:
        if now_rows[row["id"]]["to_email"]:
            assert now_rows[row["id"]] == row, "a row half trimmed"

    # when the job runs again, to the end
    with connection.cursor() as cursor:
        cursor.execute(FAST_AGAIN)
    again = engine.run(DELIVERY, batch_size=4)

    # then the data is as one uninterrupted run leaves it, and the killed run is marked
    assert table(Delivery) == expected_after_run(before, set(due))
    assert again.trimmed == len(due) - trimmed_so_far
    killed.refresh_from_db()
    assert killed.outcome == RetentionRun.Outcome.INTERRUPTED
    assert RetentionRun.objects.get(pk=again.run_id).outcome == RetentionRun.Outcome.FINISHED
    assert not_due and all(Delivery.objects.get(pk=pk).to_email for pk in not_due)


def test_an_uninterrupted_run_in_batches_gives_the_same_result(transactional_db):
    due, _ = deliveries(9, 2)
    before = table(Delivery)

    process = command_process("--rule", "delivery_content", RETENTION_BATCH_SIZE="4")
    output = process.communicate(timeout=60)[0].decode()

    assert process.returncode == 0, output
    assert "delivery_content: 0 deleted, 9 trimmed, 0 held" in output
    assert table(Delivery) == expected_after_run(before, set(due))
    record = RetentionRun.objects.get()
    assert (record.trimmed, record.batches, record.outcome) == (9, 3, "finished")


# --- SKIP LOCKED ---------------------------------------------------------------------------------


@pytest.fixture
def other_connection(transactional_db):
    other = psycopg2.connect(database_url_for_tests())
    yield other
    other.rollback()
    other.close()


def test_a_row_locked_elsewhere_is_skipped_not_waited_for_and_done_next_time(other_connection):
    due, _ = deliveries(5, 0)
    locked = due[2]
    with other_connection.cursor() as cursor:
        cursor.execute("SELECT id FROM communications_delivery WHERE id = %s FOR UPDATE", [locked])
    with connection.cursor() as cursor:  # waiting for the lock would fail the test, not hang
        cursor.execute("SET lock_timeout = '3s'")

    started = time.monotonic()
    first = engine.run(DELIVERY, batch_size=2)

    assert time.monotonic() - started < 3
    assert first.trimmed == 4
    assert Delivery.objects.get(pk=locked).to_email != ""
    assert Delivery.objects.filter(pk__in=due, to_email="").count() == 4

    other_connection.rollback()  # the other transaction ends
    second = engine.run(DELIVERY, batch_size=2)

    assert second.trimmed == 1
    assert Delivery.objects.get(pk=locked).to_email == ""
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = 0")


def test_a_second_run_of_a_rule_while_one_is_going_on_does_not_start(other_connection):
    import zlib

    deliveries(2, 0)
    with other_connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [zlib.crc32(b"retention:delivery_content")])

    outcome = engine.run(DELIVERY)

    assert not outcome.ran and not RetentionRun.objects.exists()
    assert Delivery.objects.filter(to_email="").count() == 0
    with other_connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock_all()")


# --- The dry run ------------------------------------------------------------------------------


def every_table() -> dict[str, list[dict]]:
    models = {rule.model_class for rule in RULES} | {RetentionRun}
    return {model._meta.label: table(model) for model in models}


@pytest.mark.django_db
def test_the_dry_run_changes_nothing_and_says_what_each_rule_would_do(hold):
    now = timezone.now()
    for key, case in CASES.items():
        end = period_end(key, now)
        case.make(end - timedelta(minutes=1), None if case.makes_its_person else person())
    held = CASES["cookie_choices"]
    kept_person = person()
    held.make(period_end("cookie_choices", now) - timedelta(minutes=1), kept_person)
    hold(kept_person)
    before = every_table()
    out = StringIO()

    call_command("retention", "--dry-run", stdout=out)

    assert every_table() == before
    lines = out.getvalue().splitlines()
    for rule in RULES:
        line = next(line for line in lines if line.startswith(f"{rule.key}: "))
        held_count = 1 if rule.key == "cookie_choices" else 0
        assert line.startswith(
            f"{rule.key}: 1 would be {ACTION_VERBS[rule.action]}, {held_count} held (kept "
        ), line
    assert lines[-1] == "Dry run: nothing was changed."


@pytest.mark.django_db
def test_an_unknown_rule_is_refused_by_name_and_nothing_runs():
    with pytest.raises(CommandError) as error:
        call_command("retention", "--rule", "cookie_choices", "--rule", "cookies_old")

    assert str(error.value).startswith("Unknown rule cookies_old; the rules are ")
    assert all(rule.key in str(error.value) for rule in RULES)
    assert not RetentionRun.objects.exists()


# --- The run records name nobody --------------------------------------------------------------

COUNTING_COLUMNS = {
    "id",
    "rule",
    "started_at",
    "finished_at",
    "outcome",
    "cutoff",
    "deleted",
    "trimmed",
    "skipped_held",
    "batches",
    "longest_batch_ms",
    "error",
}


@pytest.mark.django_db
def test_the_run_records_hold_counts_and_times_only(hold):
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session

    from communications.referrals.models import Referral
    from consent.models import CookieConsent

    now = timezone.now()
    for key, case in CASES.items():
        end = period_end(key, now)
        for offset in (-1, 1):
            case.make(end + timedelta(minutes=offset), None if case.makes_its_person else person())
    held_person = person()
    CASES["delivery_content"].make(
        period_end("delivery_content", now) - timedelta(days=1), held_person
    )
    hold(held_person, reason=f"Claim by {held_person.email}")
    personal = {
        cases.IP,
        cases.USER_AGENT,
        cases.FREE_TEXT,
        cases.CONTACT_NAME,
        cases.NAME,
        cases.EMAIL_DOMAIN,
        cases.TOKEN_PREFIX,
        "Claim by",
    }
    for user in get_user_model().objects.all():
        personal |= {user.email, user.first_name}
    personal |= set(Referral.objects.values_list("token", flat=True))
    personal |= {str(a) for a in CookieConsent.objects.values_list("anonymous_id", flat=True)}
    personal |= set(Session.objects.values_list("session_key", flat=True))

    call_command("retention", stdout=StringIO())

    records = list(RetentionRun.objects.values())
    assert len(records) == len(RULES)
    assert sum(r["deleted"] + r["trimmed"] for r in records) >= len(RULES)
    assert sum(r["skipped_held"] for r in records) == 1
    written = json.dumps(records, default=str)
    leaked = {value for value in personal if value and value in written}
    assert leaked == set()
    assert set(records[0]) == COUNTING_COLUMNS
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
            [RetentionRun._meta.db_table],
        )
        columns = {name for (name,) in cursor.fetchall()}
    assert columns == COUNTING_COLUMNS
