"""Sending under faults, in-process against the aiosmtpd test server and anymail's test
backend: a temporary failure goes back to the queue and is tried again, a refusal fails only
its recipient, and a message handed over without an answer is uncertain and never resent."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from communications.kinds import MessageKind
from communications.models import Campaign, Delivery, SendingClaim
from communications.services import (
    campaign_progress,
    enqueue_email,
    send_campaign_batch,
    send_delivery,
    sweep_campaigns,
    sweep_outbox,
)
from tests.factories import CampaignFactory, subscribers
from tests.harness.anymail_sink import FlakyBackend
from tests.harness.smtp import SMTPServer

pytestmark = pytest.mark.smtp

Status = Delivery.Status


@pytest.fixture(autouse=True)
def no_broker():
    """Tasks are run by hand here; ``retries`` holds the retries the services asked for."""
    with (
        mock.patch("communications.tasks.populate_campaign_task.delay"),
        mock.patch("communications.tasks.send_campaign_batch_task.delay"),
        mock.patch("communications.tasks.send_campaign_batch_task.apply_async") as retries,
        mock.patch("communications.tasks.send_delivery_task.delay"),
        mock.patch("communications.tasks.send_delivery_task.apply_async"),
    ):
        yield retries


@pytest.fixture
def quick(settings):
    """Retries due at once, and a client that waits one second for an answer."""
    settings.EMAIL_RETRY_BACKOFF = 0
    settings.EMAIL_TIMEOUT = 1


def started_newsletter() -> Campaign:
    return CampaignFactory(subject_line="Hi {{ first_name }}", body="Hello", started=True)


def run_batches(campaign: Campaign) -> None:
    while send_campaign_batch(campaign_id=campaign.pk):
        pass
    campaign.refresh_from_db()


def received(smtp: SMTPServer) -> Counter[str]:
    return Counter(address for message in smtp.messages for address in message.rcpt_tos)


def rows(campaign: Campaign) -> dict[str, tuple[str, int]]:
    return {
        email: (status, attempts)
        for email, status, attempts in Delivery.objects.filter(campaign=campaign).values_list(
            "user__email", "status", "attempts"
        )
    }


# --- Campaigns over SMTP --------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(lambda s: s.refuse_next("421 4.3.2 Shutting down", hang_up=True), id="421"),
        pytest.param(lambda s: s.refuse_next("451 4.3.0 Try again later"), id="451"),
        pytest.param(lambda s: s.refuse_next("450 4.2.1 Slow down", at="rcpt"), id="450-rcpt"),
        pytest.param(lambda s: s.hang_up_next(at="rcpt"), id="dropped"),
    ],
)
def test_a_temporary_failure_on_the_first_message_delays_only_that_recipient(
    db, smtp, quick, fault
):
    # given a server that refuses the first message once, or drops the connection
    subscribers(5)
    campaign = started_newsletter()
    fault(smtp)

    # when the batch is sent
    assert send_campaign_batch(campaign_id=campaign.pk) == 5

    # then the other four went, over a connection opened again if it was lost
    assert sorted(received(smtp)) == [f"sub{i}@example.com" for i in range(1, 5)]
    # and the first is back in the queue, the campaign still sending
    first = Delivery.objects.get(campaign=campaign, user__email="sub0@example.com")
    assert (first.status, first.attempts, first.claim_id) == (Status.QUEUED, 1, None)
    assert first.next_attempt_at is not None and first.last_error
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING

    # when the next batch runs, it is sent; everyone has exactly one message
    run_batches(campaign)
    assert received(smtp) == Counter({f"sub{i}@example.com": 1 for i in range(5)})
    assert set(rows(campaign).values()) == {(Status.SENT, 1), (Status.SENT, 2)}
    assert campaign.status == Campaign.Status.COMPLETED
    assert not SendingClaim.objects.exists()


def test_a_deferred_row_is_not_tried_before_its_backoff_and_a_retry_is_enqueued_for_it(
    db, smtp, settings, no_broker
):
    settings.EMAIL_RETRY_BACKOFF = 20
    subscribers(2)
    campaign = started_newsletter()
    smtp.refuse_next()

    send_campaign_batch(campaign_id=campaign.pk)

    first = Delivery.objects.get(campaign=campaign, user__email="sub0@example.com")
    wait = (first.next_attempt_at - timezone.now()).total_seconds()
    assert 9 < wait <= 20  # 50-100% of the backoff
    # a batch is enqueued for when it is due
    ((args, options),) = [(c.args[0], c.kwargs) for c in no_broker.call_args_list]
    assert args == (campaign.pk,) and wait <= options["countdown"] <= wait + 1
    # and a batch before then claims nothing
    assert send_campaign_batch(campaign_id=campaign.pk) == 0
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING


def test_a_server_that_keeps_refusing_stops_the_batch_and_the_rows_fail_after_the_last_try(
    db, smtp, quick, settings
):
    settings.EMAIL_MAX_ATTEMPTS = 2
    subscribers(6)
    campaign = started_newsletter()
    smtp.refuse_next(count=100)

    # the batch stops after three failures in a row: the rest are not tried this time
    send_campaign_batch(campaign_id=campaign.pk)
    states = rows(campaign)
    assert sorted(states.values()) == [(Status.QUEUED, 0)] * 3 + [(Status.QUEUED, 1)] * 3

    # every row tried twice fails, and then the campaign is complete
    run_batches(campaign)
    assert set(rows(campaign).values()) == {(Status.FAILED, 2)}
    failed = Delivery.objects.filter(campaign=campaign).first()
    assert failed.last_error.startswith("gave up after 2 attempts: ") and "451" in failed.last_error
    assert campaign.status == Campaign.Status.COMPLETED
    assert smtp.messages == []


def test_a_5xx_at_the_end_of_the_data_fails_only_that_recipient(db, smtp, quick):
    subscribers(3)
    campaign = started_newsletter()
    smtp.refuse_next("554 5.7.1 Message rejected as spam")

    run_batches(campaign)

    assert rows(campaign) == {
        "sub0@example.com": (Status.FAILED, 1),
        "sub1@example.com": (Status.SENT, 1),
        "sub2@example.com": (Status.SENT, 1),
    }
    assert "554" in Delivery.objects.get(campaign=campaign, status=Status.FAILED).last_error
    assert campaign.status == Campaign.Status.COMPLETED


def test_no_answer_after_the_data_makes_that_row_uncertain_and_it_is_never_resent(db, smtp, quick):
    # given a server that keeps the first message but answers after the client gave up
    subscribers(3)
    campaign = started_newsletter()
    smtp.answer_late(2)

    # when the campaign is sent, swept and sent again
    run_batches(campaign)
    sweep_outbox()
    sweep_campaigns()
    run_batches(campaign)

    # then each got the campaign once, the first one uncertain
    assert received(smtp) == Counter({f"sub{i}@example.com": 1 for i in range(3)})
    uncertain = Delivery.objects.get(campaign=campaign, user__email="sub0@example.com")
    assert uncertain.status == Status.FAILED
    assert uncertain.last_error.startswith("uncertain: no answer once the message was handed")
    assert campaign_progress(campaign=campaign)["uncertain"] == 1
    assert campaign.status == Campaign.Status.COMPLETED


def test_a_connection_dropped_after_the_data_is_uncertain_too(db, smtp, quick):
    subscribers(2)
    campaign = started_newsletter()
    smtp.hang_up_next(at="data")

    run_batches(campaign)

    assert rows(campaign) == {
        "sub0@example.com": (Status.FAILED, 1),
        "sub1@example.com": (Status.SENT, 1),
    }
    assert campaign_progress(campaign=campaign)["uncertain"] == 1


# --- A worker gone mid-batch ----------------------------------------------------------------


def test_the_sweep_resolves_a_claim_whose_database_session_ended(db, settings, caplog):
    """What a killed worker leaves: the row it was handing over is uncertain, the finished
    ones stay recorded, the rest go back to the queue, at the next sweep; the log names the
    claim and what became of its rows."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    subscribers(5)
    campaign = started_newsletter()
    ids = list(
        Delivery.objects.filter(campaign=campaign).order_by("id").values_list("pk", flat=True)
    )
    now = timezone.now()
    # a claim held by a session that no longer exists (pid 0 is never a backend's)
    claim = SendingClaim.objects.create(
        worker="gone:1", db_pid=0, db_session_started=now, claimed_at=now, in_flight=ids[2]
    )
    Delivery.objects.filter(pk__in=ids).update(
        status=Status.SENDING, claim=claim, claimed_at=now, attempts=1
    )
    Delivery.objects.filter(pk__in=ids[:2]).update(status=Status.SENT, claim=None)
    # and one held by this very session, which is alive
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        )
        pid, started = cursor.fetchone()
    live = SendingClaim.objects.create(
        worker="here:1", db_pid=pid, db_session_started=started, claimed_at=now
    )

    swept = sweep_outbox()

    assert swept["uncertain"] == 1 and swept["released"] == 2
    assert f"claim {claim.pk} of gone:1 abandoned: 1 uncertain, 2 back to the queue" in (
        caplog.messages
    )
    assert [Delivery.objects.get(pk=i).status for i in ids] == [
        Status.SENT, Status.SENT, Status.FAILED, Status.QUEUED, Status.QUEUED
    ]  # fmt: skip
    assert Delivery.objects.get(pk=ids[3]).attempts == 0
    assert list(SendingClaim.objects.all()) == [live]
    # and the campaign is sent on at once, not after it has stalled
    with mock.patch("communications.services.campaigns.sweeps.restart_sending") as restart:
        assert sweep_campaigns() == [campaign.pk]
    restart.assert_called_once_with(campaign.pk)


def test_a_claim_older_than_the_sending_timeout_is_resolved_even_if_its_session_lives(db, settings):
    settings.EMAIL_SENDING_TIMEOUT = 60
    subscribers(2)
    campaign = started_newsletter()
    ids = list(
        Delivery.objects.filter(campaign=campaign).order_by("id").values_list("pk", flat=True)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        )
        pid, started = cursor.fetchone()
    long_ago = timezone.now() - timedelta(minutes=5)
    claim = SendingClaim.objects.create(
        worker="stuck:1", db_pid=pid, db_session_started=started, claimed_at=long_ago,
        in_flight=ids[0],
    )  # fmt: skip
    Delivery.objects.filter(pk__in=ids).update(status=Status.SENDING, claim=claim, attempts=1)

    assert sweep_outbox()["uncertain"] == 1
    assert [Delivery.objects.get(pk=i).status for i in ids] == [Status.FAILED, Status.QUEUED]


# --- Anymail providers ------------------------------------------------------------------------


@pytest.fixture
def flaky_provider(settings):
    settings.EMAIL_BACKEND = "tests.harness.anymail_sink.FlakyBackend"
    settings.EMAIL_RETRY_BACKOFF = 0
    FlakyBackend.fail_next = []
    yield FlakyBackend
    FlakyBackend.fail_next = []


@pytest.mark.parametrize("status", [429, 503])
def test_a_provider_rate_limiting_or_down_has_the_batch_tried_again(db, flaky_provider, status):
    # given a provider answering the first batch call with an HTTP error
    subscribers(3)
    campaign = started_newsletter()
    flaky_provider.fail_next = [status]

    # when
    send_campaign_batch(campaign_id=campaign.pk)

    # then the batch is back in the queue, nothing sent
    assert set(rows(campaign).values()) == {(Status.QUEUED, 1)}
    assert mail.outbox == []
    # and the next try sends it
    run_batches(campaign)
    assert set(rows(campaign).values()) == {(Status.SENT, 2)}
    assert sorted(mail.outbox[0].to) == [f"sub{i}@example.com" for i in range(3)]
    assert campaign.status == Campaign.Status.COMPLETED


def test_a_provider_refusing_the_request_fails_the_batch(db, flaky_provider):
    subscribers(2)
    campaign = started_newsletter()
    flaky_provider.fail_next = [422]

    run_batches(campaign)

    assert set(rows(campaign).values()) == {(Status.FAILED, 1)}
    assert campaign.status == Campaign.Status.COMPLETED


def test_a_transactional_email_through_a_rate_limiting_provider_is_retried(
    db, flaky_provider, make_user
):
    ann = make_user("ann@example.com")
    delivery = enqueue_email(kind=MessageKind.WELCOME, user=ann, context={"verify_url": "u"})
    flaky_provider.fail_next = [429]

    assert send_delivery(delivery_id=delivery.pk) == Status.QUEUED
    assert send_delivery(delivery_id=delivery.pk) == Status.SENT
    assert len(mail.outbox) == 1


# --- Transactional email over SMTP ----------------------------------------------------------


def test_a_welcome_email_answered_late_is_uncertain_and_sent_once(db, smtp, quick, make_user):
    # given a server that keeps the message but answers after the client's timeout
    ann = make_user("ann@example.com")
    delivery = enqueue_email(kind=MessageKind.WELCOME, user=ann, context={"verify_url": "u"})
    smtp.answer_late(2)

    # when it is sent, then relayed again by the sweep
    assert send_delivery(delivery_id=delivery.pk) == Status.FAILED
    Delivery.objects.filter(pk=delivery.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    sweep_outbox()
    assert send_delivery(delivery_id=delivery.pk) == Status.FAILED

    # then it arrived once, and its row says it may have
    (message,) = smtp.wait_for(1)
    delivery.refresh_from_db()
    assert message.message["Message-ID"] == delivery.message_id
    assert delivery.last_error.startswith("uncertain:")
    assert not SendingClaim.objects.exists()


def test_a_welcome_email_refused_for_now_is_sent_on_the_next_try(db, smtp, quick, make_user):
    ann = make_user("ann@example.com")
    delivery = enqueue_email(kind=MessageKind.WELCOME, user=ann, context={"verify_url": "u"})
    smtp.refuse_next("421 4.7.0 Too many connections", hang_up=True)

    assert send_delivery(delivery_id=delivery.pk) == Status.QUEUED
    assert send_delivery(delivery_id=delivery.pk) == Status.SENT

    assert len(smtp.wait_for(1)) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 2
