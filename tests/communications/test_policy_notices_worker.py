"""Policy-change notices sent by a real worker to the test SMTP server: exactly the audience of
each change type, and an opt-out between queueing and sending honoured."""

from __future__ import annotations

from collections import Counter

import pytest

from communications.models import Campaign, Delivery
from communications.services import (
    create_campaign,
    populate_campaign,
    send_campaign_now,
)
from communications.tasks import send_campaign_batch_task
from consent.services import ConsentSource, withdraw_all_marketing
from tests.communications.campaigns import HeldTask, wait_until_completed
from tests.communications.people import EMAILED, people_in_every_state
from tests.harness.smtp import SMTPServer

pytestmark = [pytest.mark.worker, pytest.mark.smtp]
Status = Delivery.Status


def notice(kind: str = "policy_change") -> Campaign:
    return create_campaign(
        actor=None,
        name="Policy version 2",
        kind=kind,
        subject_line="Our privacy policy has changed",
        body="We now keep order records for seven years.",
        notice=True,
    )


def received(smtp: SMTPServer) -> Counter[str]:
    return Counter(a.lower() for message in smtp.messages for a in message.rcpt_tos)


@pytest.mark.parametrize(
    ("kind", "change_type"),
    [("policy_change", "practice_change"), ("policy_use_change", "use_change")],
)
def test_each_notice_reaches_exactly_its_audience_once(
    smtp: SMTPServer, celery_worker, kind, change_type
):
    people = people_in_every_state()
    smtp.clear()

    campaign = notice(kind)
    send_campaign_now(campaign=campaign)
    wait_until_completed(campaign)

    expected = {people[name].email for name in EMAILED[change_type]}
    assert received(smtp) == Counter(dict.fromkeys(expected, 1))


def test_opting_out_after_queueing_before_sending_a_practice_change_email_is_not_sent(
    smtp: SMTPServer, celery_worker, monkeypatch
):
    # given a practice-change notice whose rows are queued, its batch tasks not yet relayed
    people = people_in_every_state()
    smtp.clear()
    campaign = notice()
    held_walk, held_batches = HeldTask(), HeldTask()
    monkeypatch.setattr("communications.tasks.populate_campaign_task", held_walk)
    monkeypatch.setattr("communications.tasks.send_campaign_batch_task", held_batches)
    send_campaign_now(campaign=campaign)
    assert populate_campaign(campaign_id=campaign.pk) == len(EMAILED["practice_change"]) + 2
    monkeypatch.undo()
    ann = people["opted_in_several"]
    assert Delivery.objects.get(campaign=campaign, user=ann).status == Status.QUEUED
    # when she opts out of everything before the batch reaches the worker
    withdraw_all_marketing(subject=ann, source=ConsentSource.PREFERENCE_CENTRE)
    for args in held_batches.calls:
        send_campaign_batch_task.delay(*args)
    wait_until_completed(campaign)

    # then she gets nothing, and her row says why
    row = Delivery.objects.get(campaign=campaign, user=ann)
    assert row.status == Status.SKIPPED_AUDIENCE
    assert row.last_error == "not opted in to communications"
    assert ann.email not in received(smtp)
    still = {people[n].email for n in EMAILED["practice_change"] - {"opted_in_several"}}
    assert received(smtp) == Counter(dict.fromkeys(still, 1))
