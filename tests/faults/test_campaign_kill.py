"""A campaign to 10,000 people, its worker killed with SIGKILL a third of the way through:
once the main process (its pool children orphaned, as when the OOM killer picks the parent),
once a pool child in the middle of a batch. A worker is started again, the sweep runs as
beat runs it, and the campaign completes: every consenting recipient got exactly one message
except the rows that were being handed over at the kill, which are reported *uncertain*, and
nobody else got anything. The time from the kill to the campaign completed is recorded.

The people are written in SQL, as the campaign benchmark seeds them (the ledger and the
current-consent table agree row for row): 10,000 holding the newsletter, and beside them
people who withdrew it, who never answered, who hold it but deactivated their account, and
whose address is suppressed. The workers send over SMTP to the sink of the benchmarks
(``tests.harness.smtp_sink``, its own process), which counts the messages each address
received. The sweep (``sweep_outbox`` and ``sweep_campaigns``, the beat task of every minute)
runs every second here; in production the minute it waits adds to the recovery time.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from communications.models import Campaign, Delivery, SendingClaim
from communications.services import (
    campaign_progress,
    send_campaign_now,
    sweep_campaigns,
    sweep_outbox,
)
from consent.models import Purpose
from tests.factories import CampaignFactory
from tests.faults.figures import write_figures
from tests.faults.invariants import assert_invariants
from tests.harness import smtp_sink
from tests.harness.smtp_sink import SMTPSinkProcess

pytestmark = [pytest.mark.worker]

Status = Delivery.Status
RECIPIENTS = 10_000
# Beside them, by number: withdrew, never answered, deactivated, suppressed.
WITHDREW, UNANSWERED, DEACTIVATED, SUPPRESSED = 300, 300, 200, 100
KILL_AT = RECIPIENTS // 3
BATCH = 500
CONCURRENCY = 2
SWEEP_EVERY = 1.0
RECOVERY_LIMIT = 180.0
# What the sweep logs for each dead claim it resolves.
ABANDONED = re.compile(r"abandoned: (\d+) uncertain, (\d+) back to the queue")


def seed() -> set[str]:
    """Write the people; returns the addresses of the 10,000 who may get the newsletter."""
    bounds = {
        "consenting": (1, RECIPIENTS),
        "withdrew": (RECIPIENTS + 1, RECIPIENTS + WITHDREW),
        "unanswered": (RECIPIENTS + WITHDREW + 1, RECIPIENTS + WITHDREW + UNANSWERED),
    }
    deactivated_from = RECIPIENTS + WITHDREW + UNANSWERED + 1
    suppressed_from = deactivated_from + DEACTIVATED
    last = suppressed_from + SUPPRESSED - 1
    newsletter = Purpose.objects.get(code=Purpose.NEWSLETTER)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_user (email, first_name, last_name, password, is_staff,
                                       is_superuser, is_active, date_joined, deactivated_at)
            SELECT 'reader' || g || '@faults.example', 'Reader', '', '!', false, false,
                   NOT (g BETWEEN %(deactivated)s AND %(suppressed)s - 1), now(),
                   CASE WHEN g BETWEEN %(deactivated)s AND %(suppressed)s - 1 THEN now() END
              FROM generate_series(1, %(last)s) AS g
            """,
            {"deactivated": deactivated_from, "suppressed": suppressed_from, "last": last},
        )
        cursor.execute("SELECT id FROM consent_policyversion WHERE is_current")
        (version,) = cursor.fetchone()
        # Everyone holds the newsletter but the ones who withdrew it and who never answered.
        cursor.execute(
            """
            INSERT INTO consent_consentevent (subject_id, purpose_id, granted, legal_basis,
                source, policy_version_id, wording, occurred_at, ip_address, user_agent)
            SELECT u.id, %(purpose)s, g NOT BETWEEN %(withdrew_from)s AND %(withdrew_to)s,
                   'consent', 'import', %(version)s, %(wording)s, now(), NULL, ''
              FROM accounts_user u,
                   LATERAL (SELECT substring(u.email FROM 'reader([0-9]+)@')::int AS g) n
             WHERE u.email LIKE 'reader%%@faults.example'
               AND g NOT BETWEEN %(unanswered_from)s AND %(unanswered_to)s
            """,
            {
                "purpose": newsletter.pk,
                "version": version,
                "wording": newsletter.wording,
                "withdrew_from": bounds["withdrew"][0],
                "withdrew_to": bounds["withdrew"][1],
                "unanswered_from": bounds["unanswered"][0],
                "unanswered_to": bounds["unanswered"][1],
            },
        )
        cursor.execute(
            """
            INSERT INTO consent_currentconsent (subject_id, purpose_id, granted, legal_basis,
                event_id, updated_at)
            SELECT e.subject_id, e.purpose_id, e.granted, e.legal_basis, e.id, e.occurred_at
              FROM consent_consentevent e WHERE e.source = 'import'
            """
        )
        # The hash communications.addresses.address_hash computes, in SQL (as the benchmark).
        cursor.execute(
            """
            INSERT INTO communications_suppression (address_hash, reason, detail, created_at)
            SELECT encode(sha256(convert_to('privacy-site.suppression.v1:' || lower(email),
                                            'UTF8')), 'hex'), 'manual', 'fault suite', now()
              FROM generate_series(%s, %s) AS g, LATERAL (
                   SELECT 'reader' || g || '@faults.example' AS email) a
            """,
            [suppressed_from, last],
        )
        cursor.execute("ANALYZE accounts_user, consent_consentevent, consent_currentconsent")
    return {f"reader{g}@faults.example" for g in range(1, RECIPIENTS + 1)}


@pytest.fixture
def sink(redis_client) -> Iterator[tuple[SMTPSinkProcess, redis.Redis]]:
    """The SMTP sink in its own process, counting what each address received."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    smtp_sink.reset(client)
    process = SMTPSinkProcess(redis_url=settings.CELERY_BROKER_URL, count_each=True).start()
    yield process, client
    process.stop()
    smtp_sink.reset(client)


def received_now(client: redis.Redis) -> int:
    return smtp_sink.counts(client)["recipients"]


def settle(client: redis.Redis) -> dict[str, int]:
    """What the sink received, once its counters stopped moving (it writes them every 100 ms)."""
    before = None
    while True:
        time.sleep(0.3)
        now = smtp_sink.by_recipient(client)
        if now == before:
            return now
        before = now


def handing_over(pids: list[int]) -> list[int]:
    """The pids among ``pids`` holding a sending claim whose hand-over has begun, with less
    than half of its batch handed over (a batch takes a few tenths of a second: the kill
    lands inside it). A claim's ``outcomes`` has a letter for each message handed over."""
    holders = {
        int(worker.rsplit(":", 1)[1])
        for worker, outcomes in SendingClaim.objects.values_list("worker", "outcomes")
        if 0 < len(outcomes) < BATCH // 2
    }
    return [pid for pid in pids if pid in holders]


@pytest.mark.parametrize("victim", ["main process", "pool child"])
def test_a_campaign_survives_its_worker_killed_and_everyone_gets_one_message(
    victim, sink, own_workers, caplog
):
    sink_process, client = sink
    # given 10,000 people holding the newsletter among 10,900, and a worker of two children
    consenting = seed()
    began = timezone.now()
    campaign = CampaignFactory(subject_line="News for {{ first_name }}", body="Hello")
    worker_settings = {
        "EMAIL_HOST": sink_process.host,
        "EMAIL_PORT": sink_process.port,
        "EMAIL_BATCH_SIZE": BATCH,
    }
    worker = own_workers(name="campaign", concurrency=CONCURRENCY, **worker_settings)

    # when the campaign is a third of the way out, and a batch is being handed over
    started = time.monotonic()
    send_campaign_now(campaign=campaign)
    deadline = time.monotonic() + 120
    while True:
        assert time.monotonic() < deadline, f"{received_now(client)} sent:\n{worker.tail()}"
        if received_now(client) >= KILL_AT:
            holders = handing_over(worker.pool_children())
            if holders:
                break
        time.sleep(0.005)
    # the worker is killed
    if victim == "main process":
        orphans = worker.pool_children()
        worker.kill_main()
    else:
        worker.kill_pool_child(holders[0])
    killed_at = time.monotonic()
    at_kill = received_now(client)
    assert at_kill < RECIPIENTS, "the campaign finished before the kill"

    caplog.set_level(logging.WARNING, logger="communications.services.abandoned_claims")
    # and a worker is started again (the pool starts its own child again), with the sweep
    # running as beat runs it, until the campaign completes
    if victim == "main process":
        worker = own_workers(name="restarted", concurrency=CONCURRENCY, **worker_settings)
    restarts = 0
    next_sweep = time.monotonic()
    while Campaign.objects.get(pk=campaign.pk).status != Campaign.Status.COMPLETED:
        assert time.monotonic() - killed_at < RECOVERY_LIMIT, (
            f"not completed {RECOVERY_LIMIT:.0f}s after the kill: "
            f"{campaign_progress(campaign=campaign)}\n{worker.tail()}"
        )
        if time.monotonic() >= next_sweep:
            sweep_outbox()
            restarts += len(sweep_campaigns())
            next_sweep += SWEEP_EVERY
        time.sleep(0.05)
    recovered = time.monotonic() - killed_at
    received = settle(client)

    # then nobody got two messages, and nobody outside the 10,000 got one
    progress = campaign_progress(campaign=campaign)
    # (either sweep may be the one to find a dead claim: both resolve them, and log each)
    resolved = [
        tuple(int(n) for n in found.groups())
        for record in caplog.records
        if (found := ABANDONED.search(record.getMessage()))
    ]
    report = f"{at_kill} received at the kill; rows {progress}; claims resolved {resolved}"
    assert max(received.values()) == 1, f"{received.most_common(3)}; {report}"
    assert set(received) <= consenting, sorted(set(received) - consenting)[:5]
    # and each of the 10,000 got exactly one, except the rows in flight at the kill,
    # reported uncertain: at most one per SMTP connection, so one per pool child killed (the
    # main process takes its children with it: Celery has the kernel kill them with it)
    uncertain = set(
        Delivery.objects.filter(
            campaign=campaign, status=Status.FAILED, last_error__startswith="uncertain:"
        ).values_list("user__email", flat=True)
    )
    assert len(uncertain) <= (CONCURRENCY if victim == "main process" else 1), report
    missing = consenting - set(received) - uncertain
    assert not missing, f"{len(missing)} never got it: {sorted(missing)[:5]}; {report}"
    assert progress["uncertain"] == len(uncertain)
    assert progress["sent"] == RECIPIENTS - len(uncertain), report
    assert progress["suppressed"] == SUPPRESSED, report
    assert progress["total"] == RECIPIENTS + SUPPRESSED, report
    assert not SendingClaim.objects.exists()
    # and the batch the kill interrupted was resolved by the sweep, not finished by luck
    assert resolved, report
    assert sum(count for count, _ in resolved) == len(uncertain), report
    # and the promises hold: consent at send time, the fold, the records
    assert_invariants(since=began, received=received)

    if victim == "main process":
        # the orphaned children, if they outlived their parent, are ended with the worker
        still = [pid for pid in orphans if _alive(pid)]
    write_figures(
        f"campaign-kill-{victim.replace(' ', '-')}",
        {
            "command": "make faults PYTEST_ARGS='-k campaign'",
            "recipients": RECIPIENTS,
            "victim": victim,
            "batch_size": BATCH,
            "pool_children": CONCURRENCY,
            "sweep_every_seconds": SWEEP_EVERY,
            "received_at_the_kill": at_kill,
            "seconds_before_the_kill": round(killed_at - started, 2),
            "recovery_seconds": round(recovered, 2),
            "uncertain_rows": len(uncertain),
            "claims_resolved_by_the_sweep": len(resolved),
            "rows_put_back_by_the_sweep": sum(released for _, released in resolved),
            "campaign_restarts_by_the_sweep": restarts,
            "received_twice": 0,
            **({"orphans_alive_at_the_end": len(still)} if victim == "main process" else {}),
        },
    )


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return False
