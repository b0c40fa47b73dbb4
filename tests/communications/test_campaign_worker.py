"""Campaigns sent by a real Celery worker to the test SMTP server: who gets one message and who
gets none, the unsubscribe headers and links, opt-outs that arrive late, and a worker killed
mid-campaign."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from communications.models import Campaign, Delivery, Suppression, delivery_id_from_message_id
from communications.rendering import unsubscribe_mailto_code
from communications.services import (
    campaign_progress,
    populate_campaign,
    send_campaign_now,
    suppress_address,
    sweep_campaigns,
    sweep_outbox,
)
from communications.tasks import send_campaign_batch_task
from consent.models import ConsentEvent
from consent.selectors import consent_status
from consent.services import ConsentSource, grant_consent, withdraw_consent
from tests.communications.campaigns import HeldTask, wait_until_completed
from tests.factories import CampaignFactory, subscribers
from tests.harness.smtp import ReceivedMessage, SMTPServer

pytestmark = [pytest.mark.worker, pytest.mark.smtp]

Status = Delivery.Status
NEWSLETTER = "newsletter"


# --- Helpers -----------------------------------------------------------------------------------


def statuses(campaign: Campaign) -> dict[str, str]:
    """Each row's status by recipient address."""
    return dict(Delivery.objects.filter(campaign=campaign).values_list("user__email", "status"))


def recipients(messages: list[ReceivedMessage]) -> Counter[str]:
    return Counter(address.lower() for message in messages for address in message.rcpt_tos)


def list_unsubscribe(message: ReceivedMessage) -> tuple[str, str]:
    """The (web URL, mailto URL) of a message's List-Unsubscribe header."""
    urls = re.findall(r"<([^>]+)>", str(message.message["List-Unsubscribe"]))
    web = [url for url in urls if url.startswith(("https://", "http://"))]
    mailto = [url for url in urls if url.startswith("mailto:")]
    assert len(web) == 1 and len(mailto) == 1, f"List-Unsubscribe: {urls}"
    return web[0], mailto[0]


# --- Who gets the campaign ----------------------------------------------------------------------


def test_a_campaign_reaches_every_consenting_active_unsuppressed_recipient_exactly_once(
    smtp: SMTPServer, own_workers, make_user
):
    # given 300 people, every other one taking the newsletter
    people = [make_user(f"person{i:03}@example.com", first_name=f"Pat{i}") for i in range(300)]
    consenting = people[::2]
    for person in consenting:
        grant_consent(subject=person, purpose=NEWSLETTER, source=ConsentSource.SIGNUP_FORM)
    # and a consenting account since deactivated, and a consenting address that hard-bounced
    gone, bounced = subscribers(2, prefix="special")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    suppress_address(bounced.email.upper(), reason=Suppression.Reason.HARD_BOUNCE)
    campaign = CampaignFactory()
    # and workers writing the audience in several chunks and sending several batches
    own_workers(EMAIL_BATCH_SIZE=40, EMAIL_AUDIENCE_CHUNK=100)

    # when
    send_campaign_now(campaign=campaign)
    wait_until_completed(campaign)

    # then every consenting, active, unsuppressed person got exactly one message
    received = smtp.messages
    counts = recipients(received)
    expected = {person.email for person in consenting}
    assert set(counts) == expected, (
        f"missing {sorted(expected - set(counts))[:5]}, unexpected {sorted(set(counts) - expected)}"
    )
    assert max(counts.values()) == 1, counts.most_common(3)
    # and the rows say what happened to whom
    rows = statuses(campaign)
    assert {rows[email] for email in expected} == {Status.SENT}
    assert rows[bounced.email] == Status.SUPPRESSED
    # the audience is active accounts only: a deactivated one is never even queued
    assert gone.email not in rows
    assert len(rows) == len(expected) + 1
    progress = campaign_progress(campaign=campaign)
    assert (progress["sent"], progress["suppressed"], progress["uncertain"]) == (150, 1, 0)

    # and each message can be unsubscribed from and traced back to its row
    for message in received:
        (to,) = message.rcpt_tos
        web, mailto = list_unsubscribe(message)
        assert urlsplit(web).scheme in ("https", "http")
        assert urlsplit(web).path.startswith("/unsubscribe/")
        assert mailto.startswith("mailto:unsubscribe@")
        assert message.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        delivery_id = delivery_id_from_message_id(str(message.message["Message-ID"]))
        assert delivery_id is not None, message.message["Message-ID"]
        # the mailto: subject names this message and carries its code
        [subject] = parse_qs(urlsplit(mailto).query)["subject"]
        assert subject == f"unsubscribe {delivery_id} {unsubscribe_mailto_code(str(delivery_id))}"
        delivery = Delivery.objects.select_related("user").get(pk=delivery_id)
        assert (delivery.campaign_id, delivery.user.email) == (campaign.pk, to)
        assert delivery.provider_message_id == str(message.message["Message-ID"])
        # the unsubscribe link and the preference centre are in the body, not only headers
        assert web in message.text() and web in message.html()
        assert "/preferences/" in message.text() and "/preferences/" in message.html()
        assert f"Hello {delivery.user.first_name}," in message.text()


def test_one_click_unsubscribe_from_the_header_withdraws_consent_and_stops_later_campaigns(
    smtp: SMTPServer, celery_worker
):
    # given two subscribers who received a newsletter
    ann, bob = subscribers(2)
    first = CampaignFactory(subject_line="May news")
    send_campaign_now(campaign=first)
    wait_until_completed(first)
    (message,) = smtp.to(ann.email)
    web, _ = list_unsubscribe(message)

    # when Ann's mail client POSTs the one-click body to the header's URL (RFC 8058):
    # no cookie, no CSRF token
    response = Client(enforce_csrf_checks=True).post(
        urlsplit(web).path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    # then her newsletter consent is withdrawn, recorded as a one-click unsubscribe
    assert response.status_code == 200
    assert not consent_status(subject=ann)[NEWSLETTER].granted
    event = ConsentEvent.objects.filter(subject=ann, purpose__code=NEWSLETTER).latest("id")
    assert (event.granted, event.source) == (False, ConsentSource.ONE_CLICK)
    assert consent_status(subject=bob)[NEWSLETTER].granted

    # and the next campaign goes to Bob only
    smtp.clear()
    second = CampaignFactory(subject_line="June news")
    send_campaign_now(campaign=second)
    wait_until_completed(second)
    assert recipients(smtp.messages) == Counter({bob.email: 1})
    assert statuses(second) == {bob.email: Status.SENT}


def test_people_who_opt_out_after_their_rows_are_queued_are_sent_nothing(
    smtp: SMTPServer, celery_worker, monkeypatch
):
    # given a campaign whose rows are all queued, its batch tasks not yet relayed
    readers = subscribers(20)
    campaign = CampaignFactory()
    held_walk, held_batches = HeldTask(), HeldTask()
    monkeypatch.setattr("communications.tasks.populate_campaign_task", held_walk)
    monkeypatch.setattr("communications.tasks.send_campaign_batch_task", held_batches)
    send_campaign_now(campaign=campaign)
    assert populate_campaign(campaign_id=campaign.pk) == 20
    monkeypatch.undo()
    assert set(statuses(campaign).values()) == {Status.QUEUED}
    # when five withdraw their consent and one account is deactivated before sending
    for reader in readers[:5]:
        withdraw_consent(subject=reader, purpose=NEWSLETTER, source=ConsentSource.PREFERENCE_CENTRE)
    readers[5].is_active = False
    readers[5].save(update_fields=["is_active"])
    # and the batch tasks reach the worker
    assert held_batches.calls
    for args in held_batches.calls:
        send_campaign_batch_task.delay(*args)
    wait_until_completed(campaign)

    # then they get nothing and their rows say why; everyone else gets one message
    rows = statuses(campaign)
    withdrawn = {reader.email for reader in readers[:5]}
    assert {rows[email] for email in withdrawn} == {Status.SKIPPED_NO_CONSENT}
    assert rows[readers[5].email] == Status.SKIPPED_INACTIVE
    still = {reader.email for reader in readers[6:]}
    assert recipients(smtp.messages) == Counter(dict.fromkeys(still, 1))
    assert {rows[email] for email in still} == {Status.SENT}


# --- A worker killed mid-campaign ---------------------------------------------------------------


@pytest.fixture
def slow_smtp(smtp: SMTPServer) -> Iterator[SMTPServer]:
    """The SMTP server taking 10 ms per message: a batch of 20 is out for 200 ms."""
    smtp.delay = 0.01
    yield smtp
    smtp.delay = 0.0


def test_a_worker_killed_mid_batch_leaves_at_most_that_batch_uncertain_and_resends_nothing(
    slow_smtp: SMTPServer, own_workers, settings
):
    batch = 20
    # given 200 subscribers and a worker sending one batch of 20 at a time
    readers = subscribers(200)
    everyone = {reader.email for reader in readers}
    campaign = CampaignFactory()
    worker = own_workers(name="crash", concurrency=1, EMAIL_BATCH_SIZE=batch)

    # when the worker is killed half-way through its third batch
    send_campaign_now(campaign=campaign)
    deadline = time.monotonic() + 20
    while len(slow_smtp.messages) < 2 * batch + batch // 2:
        assert time.monotonic() < deadline, f"{len(slow_smtp.messages)} sent:\n{worker.tail()}"
        time.sleep(0.005)
    worker.kill()
    at_kill = len(slow_smtp.messages)
    assert at_kill < len(readers), "the campaign finished before the kill"

    # and the sweeps run as beat would run them, with a new worker
    settings.EMAIL_BATCH_SIZE = batch
    settings.EMAIL_SENDING_TIMEOUT = 1
    settings.EMAIL_CAMPAIGN_STALL_AFTER = 1
    time.sleep(1.1)
    swept = sweep_outbox()
    own_workers(name="after-crash", EMAIL_BATCH_SIZE=batch)
    deadline = time.monotonic() + 20
    while campaign.status != Campaign.Status.COMPLETED:
        assert time.monotonic() < deadline, campaign_progress(campaign=campaign)
        sweep_campaigns()
        time.sleep(0.2)
        campaign.refresh_from_db()

    # then nobody got two messages
    counts = recipients(slow_smtp.messages)
    progress = campaign_progress(campaign=campaign)
    report = (
        f"{at_kill} received at the kill, {sum(counts.values())} in all, sweep {swept}, "
        f"rows {progress}"
    )
    assert max(counts.values()) == 1, f"{counts.most_common(3)}; {report}"
    # and everyone either got one message or has a row reported uncertain
    uncertain = set(
        Delivery.objects.filter(
            campaign=campaign, status=Status.FAILED, last_error__startswith="uncertain:"
        ).values_list("user__email", flat=True)
    )
    received = set(counts)
    assert received <= everyone, report
    assert received | uncertain == everyone, f"neither: {everyone - received - uncertain}; {report}"
    # and the uncertain ones are the batch the killed worker was holding, at most
    assert 0 < len(uncertain) <= batch, report
    assert progress["sent"] + progress["uncertain"] == len(everyone), report
    assert progress["sent"] == len(received - uncertain), report
