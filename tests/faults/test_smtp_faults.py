"""The mail server refusing, then timing out, then accepting, with a real worker sending to
the aiosmtpd test server.

A welcome email, written by a sign-up through the page, is refused (421, the server hangs
up), then met with silence until the worker's timeout, then accepted: it is tried again
after each, later each time, arrives exactly once, and only then is it marked sent. A
campaign sent through the same faults, with mailboxes that refuse for ever beside them,
reaches everyone else exactly once, and its rows say which recipients failed and why.
"""

from __future__ import annotations

import time

import pytest
from django.test import Client

from communications.kinds import MessageKind
from communications.models import Campaign, Delivery, SendingClaim
from communications.services import campaign_progress, send_campaign_now
from tests.communications.campaigns import wait_until_completed
from tests.factories import TEST_PASSWORD, CampaignFactory, subscribers
from tests.faults.figures import write_figures
from tests.faults.invariants import assert_invariants, received_by_address
from tests.harness.smtp import SMTPServer

pytestmark = [pytest.mark.worker, pytest.mark.smtp]

Status = Delivery.Status
TIMEOUT = 1  # seconds the worker waits for an answer (EMAIL_TIMEOUT)
BACKOFF = 1.0  # the first retry's wait (EMAIL_RETRY_BACKOFF), doubled per try, 50-100% of it


def sign_up(email: str) -> None:
    response = Client().post(
        "/accounts/signup/",
        {
            "first_name": "Nia",
            "last_name": "Jones",
            "email": email,
            "password1": TEST_PASSWORD,
            "password2": TEST_PASSWORD,
            "purpose_newsletter": "on",
        },
    )
    assert response.status_code == 302, response.content[:500]


def wait_for_status(delivery: Delivery, statuses: set[str], *, timeout: float = 30) -> Delivery:
    deadline = time.monotonic() + timeout
    while True:
        delivery.refresh_from_db()
        if delivery.status in statuses:
            return delivery
        assert time.monotonic() < deadline, (delivery.status, delivery.attempts)
        time.sleep(0.05)


def test_a_welcome_email_refused_then_timed_out_then_accepted_arrives_once_after_backoff(
    smtp: SMTPServer, own_workers, began
):
    # given a server that refuses the next message, then says nothing to the one after
    smtp.refuse_next("421 4.3.2 Service not available, closing channel", at="rcpt", hang_up=True)
    smtp.stall_next(TIMEOUT + 2, at="rcpt")
    own_workers(
        name="smtp-faults", concurrency=1, EMAIL_TIMEOUT=TIMEOUT, EMAIL_RETRY_BACKOFF=BACKOFF
    )

    # when someone signs up
    sign_up("nia@example.com")
    delivery = Delivery.objects.get(kind=MessageKind.WELCOME, to_email="nia@example.com")

    # then the welcome email is sent on the third try, and only then marked sent
    deadline = time.monotonic() + 60
    while not smtp.messages:
        delivery.refresh_from_db()
        assert delivery.status in (Status.QUEUED, Status.SENDING), delivery.status
        assert time.monotonic() < deadline, smtp.log
        time.sleep(0.02)
    delivery = wait_for_status(delivery, {Status.SENT, Status.FAILED})
    assert (delivery.status, delivery.attempts) == (Status.SENT, 3), delivery.last_error
    # and it arrived once, the message the row names
    time.sleep(2 * TIMEOUT)  # a second copy would have come by now
    (message,) = smtp.messages
    assert message.rcpt_tos == ("nia@example.com",)
    assert message.message["Message-ID"] == delivery.message_id == delivery.provider_message_id
    assert "/accounts/confirm-email/" in message.text()
    # and each try came later than the one before, after the backoff
    (refused, refused_at), (stalled, stalled_at), (accepted, accepted_at) = [
        (what, at) for at, what in smtp.log
    ]
    assert refused.startswith("refused at rcpt: 421") and stalled == "stalled at rcpt"
    assert accepted == "accepted"
    first_wait = stalled_at - refused_at
    second_wait = accepted_at - stalled_at - TIMEOUT
    assert first_wait >= 0.5 * BACKOFF, smtp.log
    assert second_wait >= 0.5 * 2 * BACKOFF, smtp.log
    assert not SendingClaim.objects.exists()
    assert_invariants(since=began, received=received_by_address(smtp.messages))
    write_figures(
        "smtp-welcome",
        {
            "command": "make faults PYTEST_ARGS='-k welcome'",
            "faults": ["421 at RCPT, hang-up", f"no answer at RCPT for {TIMEOUT + 2}s"],
            "email_timeout_seconds": TIMEOUT,
            "email_retry_backoff_seconds": BACKOFF,
            "tries": delivery.attempts,
            "wait_after_the_refusal_seconds": round(first_wait, 2),
            "wait_after_the_timeout_seconds": round(second_wait, 2),
            "first_try_to_arrival_seconds": round(accepted_at - refused_at, 2),
            "copies_received": 1,
        },
    )


def test_a_welcome_email_answered_after_the_timeout_is_uncertain_never_marked_sent_or_resent(
    smtp: SMTPServer, own_workers, began
):
    # given a server that keeps the message but answers 250 only after the worker gave up
    smtp.answer_late(TIMEOUT + 2)
    own_workers(
        name="smtp-faults", concurrency=1, EMAIL_TIMEOUT=TIMEOUT, EMAIL_RETRY_BACKOFF=BACKOFF
    )

    # when someone signs up
    sign_up("ola@example.com")
    delivery = Delivery.objects.get(kind=MessageKind.WELCOME, to_email="ola@example.com")

    # then the row is not marked sent: it may have arrived, and says so
    delivery = wait_for_status(delivery, {Status.SENT, Status.FAILED})
    assert delivery.status == Status.FAILED
    assert delivery.last_error.startswith("uncertain:")
    assert delivery.sent_at is None and delivery.provider_message_id == ""
    # and it is never tried again: the server has the one copy
    time.sleep(TIMEOUT + 3 * BACKOFF)
    (message,) = smtp.messages
    assert message.message["Message-ID"] == delivery.message_id
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.FAILED, 1)
    assert_invariants(since=began, received=received_by_address(smtp.messages))


def test_a_campaign_through_refusals_and_timeouts_reaches_everyone_once_and_reports_who_failed(
    smtp: SMTPServer, own_workers, began
):
    # given 40 subscribers, two of whose mailboxes do not exist and one always full
    readers = subscribers(40, prefix="reader")
    everyone = {reader.email for reader in readers}
    gone = {"reader7@example.com": "550 5.1.1 No such user", "reader23@example.com": "550 5.1.1"}
    full = {"reader31@example.com": "452 4.2.2 Mailbox full"}
    for address, reply in {**gone, **full}.items():
        smtp.refuse_recipient(address, reply)
    # and a server that refuses the first three messages, then says nothing to the next
    smtp.refuse_next("451 4.3.0 Try again later", count=3, at="rcpt")
    smtp.stall_next(TIMEOUT + 2, at="rcpt")
    campaign = CampaignFactory(subject_line="News, {{ first_name }}", body="Hello")
    own_workers(
        name="smtp-faults",
        concurrency=1,
        EMAIL_BATCH_SIZE=10,
        EMAIL_TIMEOUT=TIMEOUT,
        EMAIL_RETRY_BACKOFF=0.5,
        EMAIL_MAX_ATTEMPTS=3,
    )

    # when the campaign is sent
    started = time.monotonic()
    send_campaign_now(campaign=campaign)
    wait_until_completed(campaign, timeout=90)
    took = time.monotonic() - started

    # then everyone else received it exactly once, and the failed mailboxes nothing
    time.sleep(1)
    received = received_by_address(smtp.messages)
    failing = set(gone) | set(full)
    assert set(received) == everyone - failing, sorted(set(received) ^ (everyone - failing))
    assert max(received.values()) == 1, received.most_common(2)
    # and the rows say who failed and why: the refusal's own words, the tries given up
    rows = {
        email: (status, attempts, error)
        for email, status, attempts, error in Delivery.objects.filter(
            campaign=campaign
        ).values_list("user__email", "status", "attempts", "last_error")
    }
    failed = {email for email, (status, _, _) in rows.items() if status == Status.FAILED}
    assert failed == failing
    for address in gone:
        _, attempts, error = rows[address]
        assert attempts == 1 and "550" in error, rows[address]
    _, attempts, error = rows[next(iter(full))]
    assert attempts == 3 and error.startswith("gave up after 3 attempts") and "452" in error
    # and the campaign's progress, as staff see it, counts them
    progress = campaign_progress(campaign=campaign)
    assert (progress["sent"], progress["failed"], progress["uncertain"]) == (37, 3, 0), progress
    # and the messages met by the server's faults were tried again and sent
    retried = [
        email for email, (status, tries, _) in rows.items() if status == Status.SENT and tries > 1
    ]
    assert len(retried) >= 4, rows
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED
    assert_invariants(since=began, received=received)
    write_figures(
        "smtp-campaign",
        {
            "command": "make faults PYTEST_ARGS='-k campaign_through'",
            "recipients": len(everyone),
            "faults": [
                "451 at RCPT for the first 3 messages",
                f"no answer at RCPT for {TIMEOUT + 2}s for the next",
                "550 for 2 mailboxes, 452 for 1, every time",
            ],
            "sent": progress["sent"],
            "failed": progress["failed"],
            "sent_after_a_retry": len(retried),
            "seconds_to_complete": round(took, 2),
        },
    )
