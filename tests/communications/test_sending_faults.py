"""Sending under faults with a real Celery worker and the aiosmtpd test server: a server that
refuses once, a server that answers after the client's timeout, and a worker killed
mid-batch. Nothing is lost, nothing is sent twice, and what may have gone is reported."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from django.db import transaction

from communications.kinds import MessageKind
from communications.models import Campaign, Delivery, SendingClaim
from communications.services import (
    campaign_progress,
    enqueue_email,
    save_campaign,
    send_campaign_now,
    sweep_campaigns,
    sweep_outbox,
)
from consent.services import ConsentSource as Source
from consent.services import grant_consent
from tests.harness.smtp import SMTPServer
from tests.harness.worker import WorkerProcess

pytestmark = [pytest.mark.worker, pytest.mark.smtp]

Status = Delivery.Status


@pytest.fixture
def own_workers(celery_worker_session: WorkerProcess, worker_factory) -> Iterator[Callable]:
    """Workers with settings of their own while the session worker stands aside."""
    with celery_worker_session.paused():
        yield lambda name="faults", concurrency=1, **env: worker_factory(
            name=name, concurrency=concurrency, extra_env={k: str(v) for k, v in env.items()}
        )


def subscribers(make_user, count: int) -> set[str]:
    users = [make_user(f"reader{i:03}@example.com", first_name=f"R{i}") for i in range(count)]
    for user in users:
        grant_consent(subject=user, purpose="newsletter", source=Source.SIGNUP_FORM)
    return {user.email for user in users}


def newsletter() -> Campaign:
    return save_campaign(
        actor=None, name="n", kind="newsletter", subject="News, {{ first_name }}", body="Hello"
    )


def received(smtp: SMTPServer) -> Counter[str]:
    return Counter(address for message in smtp.messages for address in message.rcpt_tos)


def wait_until_completed(campaign: Campaign, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        campaign.refresh_from_db()
        if campaign.status == Campaign.Status.COMPLETED:
            return
        time.sleep(0.1)
    raise AssertionError(f"still {campaign.status}: {campaign_progress(campaign=campaign)}")


def test_a_campaign_through_a_server_that_refuses_the_first_message_once_reaches_everyone_once(
    smtp: SMTPServer, own_workers, make_user
):
    # given 50 subscribers and a server that answers the first message 421 and hangs up
    everyone = subscribers(make_user, 50)
    campaign = newsletter()
    smtp.refuse_next("421 4.3.2 Service shutting down", hang_up=True)
    own_workers(EMAIL_RETRY_BACKOFF="0.5")

    # when
    send_campaign_now(campaign=campaign)
    wait_until_completed(campaign, timeout=30)

    # then every subscriber received the campaign exactly once
    counts = received(smtp)
    assert set(counts) == everyone and max(counts.values()) == 1, counts.most_common(2)
    assert campaign_progress(campaign=campaign)["sent"] == 50
    assert Delivery.objects.filter(campaign=campaign, attempts=2).count() == 1


def test_a_worker_killed_mid_batch_leaves_at_most_the_message_in_flight_uncertain(
    smtp: SMTPServer, own_workers, make_user
):
    # given a worker sending one batch of 300 over one connection, 10 ms a message
    everyone = subscribers(make_user, 300)
    campaign = newsletter()
    worker = own_workers(name="doomed", EMAIL_BATCH_SIZE=500)
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
    own_workers(name="after")
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
    own_workers(EMAIL_TIMEOUT=1)

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
