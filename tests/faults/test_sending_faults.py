"""Sending under faults with a real Celery worker and the aiosmtpd test server: a server that
refuses once, a server that answers after the client's timeout, and a worker killed
mid-batch. Nothing is lost, nothing is sent twice, and what may have gone is reported."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.db import transaction

from communications.kinds import MessageKind
from communications.models import Campaign, Delivery, SendingClaim
from communications.services import (
    campaign_progress,
    enqueue_email,
    send_campaign_now,
    sweep_campaigns,
    sweep_outbox,
)
from tests.communications.campaigns import wait_until_completed
from tests.factories import CampaignFactory, subscribers
from tests.harness.smtp import SMTPServer

pytestmark = [pytest.mark.worker, pytest.mark.smtp]

Status = Delivery.Status


def newsletter() -> Campaign:
    return CampaignFactory(subject_line="News, {{ first_name }}", body="Hello")


def received(smtp: SMTPServer) -> Counter[str]:
    return Counter(address for message in smtp.messages for address in message.rcpt_tos)


def test_a_campaign_through_a_server_that_refuses_the_first_message_once_reaches_everyone_once(
    smtp: SMTPServer, own_workers
):
    # given 50 subscribers and a server that answers the first message 421 and hangs up
    everyone = {user.email for user in subscribers(50)}
    campaign = newsletter()
    smtp.refuse_next("421 4.3.2 Service shutting down", hang_up=True)
    own_workers(name="faults", concurrency=1, EMAIL_RETRY_BACKOFF="0.5")

    # when
    send_campaign_now(campaign=campaign)
    wait_until_completed(campaign, timeout=30)

    # then every subscriber received the campaign exactly once
    counts = received(smtp)
    assert set(counts) == everyone and max(counts.values()) == 1, counts.most_common(2)
    assert campaign_progress(campaign=campaign)["sent"] == 50
    assert Delivery.objects.filter(campaign=campaign, attempts=2).count() == 1


def test_a_worker_killed_mid_batch_leaves_at_most_the_message_in_flight_uncertain(
    smtp: SMTPServer, own_workers
):
    # given a worker sending one batch of 300 over one connection, 10 ms a message
    everyone = {user.email for user in subscribers(300)}
    campaign = newsletter()
    worker = own_workers(name="doomed", concurrency=1, EMAIL_BATCH_SIZE=500)
    smtp.delay = 0.01
    try:
        # when it is killed a third of the way through
        send_campaign_now(campaign=campaign)
        deadline = time.monotonic() + 30
        while len(smtp.messages) < 100:
            assert time.monotonic() < deadline, worker.tail()
            time.sleep(0.005)
        worker.kill()
        killed_at = time.monotonic()
    finally:
        smtp.delay = 0.0

    # and beat's sweep runs once (every minute), with the default timeouts
    time.sleep(0.5)  # PostgreSQL notices the closed connection
    swept = sweep_outbox()
    swept["campaigns_restarted"] = sweep_campaigns()
    progress = campaign_progress(campaign=campaign)
    # then nothing is left claimed: one row at most is uncertain, the rest are queued
    assert progress["sending"] == 0 and not SendingClaim.objects.exists(), (swept, progress)
    assert progress["uncertain"] <= 1, progress
    assert swept["campaigns_restarted"] == [campaign.pk]

    # and a new worker finishes the campaign, well within two minutes of the kill
    own_workers(name="after", concurrency=1)
    wait_until_completed(campaign, timeout=60)
    assert time.monotonic() - killed_at < 120
    counts = received(smtp)
    assert max(counts.values()) == 1, counts.most_common(3)
    uncertain = set(
        Delivery.objects.filter(
            campaign=campaign, status=Status.FAILED, last_error__startswith="uncertain:"
        ).values_list("user__email", flat=True)
    )
    assert set(counts) | uncertain == everyone
    assert len(uncertain) <= 1
    assert campaign_progress(campaign=campaign)["sent"] == len(everyone) - len(uncertain)


def test_a_welcome_email_answered_after_the_timeout_is_uncertain_and_not_sent_again(
    smtp: SMTPServer, own_workers, make_user, settings
):
    # given a server that keeps the message but answers 250 after the worker's timeout
    ada = make_user("ada@example.com", first_name="Ada")
    smtp.answer_late(3)
    own_workers(name="faults", concurrency=1, EMAIL_TIMEOUT=1)

    # when the welcome email is sent, and the sweep runs afterwards
    with transaction.atomic():
        delivery = enqueue_email(
            kind=MessageKind.WELCOME, user=ada, context={"verify_url": "https://x/verify/"}
        )
    deadline = time.monotonic() + 20
    while delivery.status in (Status.QUEUED, Status.SENDING):
        assert time.monotonic() < deadline, delivery.status
        time.sleep(0.1)
        delivery.refresh_from_db()
    settings.EMAIL_OUTBOX_RETRY_AFTER = 0
    sweep_outbox()
    time.sleep(4)

    # then it arrived once, and its row says it may have arrived
    (message,) = smtp.messages
    assert message.message["Message-ID"] == delivery.message_id
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED
    assert delivery.last_error.startswith("uncertain:")
