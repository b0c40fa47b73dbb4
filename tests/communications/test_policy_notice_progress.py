"""A notice's progress, in the API and in admin, counts the rows skipped because the person
left the notice's audience between queueing and sending (``skipped_audience``)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from communications.models import Delivery
from communications.services import create_campaign, populate_campaign, send_campaign_now
from communications.tasks import send_campaign_batch_task
from consent.models import Purpose
from consent.services import ConsentSource, withdraw_all_marketing
from tests.communications.campaigns import HeldTask, wait_until_completed
from tests.harness.http import logged_in
from tests.harness.smtp import SMTPServer

pytestmark = [pytest.mark.worker, pytest.mark.smtp]


def opted_in(make_user, email: str):
    return make_user(email, verified=True, consents=[Purpose.NEWSLETTER])


def test_a_notice_skipped_for_someone_who_left_its_audience_is_counted(
    smtp: SMTPServer, celery_worker, make_user, marketer, monkeypatch
):
    # given a practice-change notice queued for Ann and Bob, its batches not yet relayed
    ann, bob = opted_in(make_user, "ann@example.com"), opted_in(make_user, "bob@example.com")
    campaign = create_campaign(
        actor=None,
        name="Policy version 2",
        kind="policy_change",
        subject_line="Our privacy policy has changed",
        body="We now keep order records for seven years.",
        notice=True,
    )
    batches = HeldTask()
    monkeypatch.setattr("communications.tasks.populate_campaign_task", HeldTask())
    monkeypatch.setattr("communications.tasks.send_campaign_batch_task", batches)
    send_campaign_now(campaign=campaign)
    assert populate_campaign(campaign_id=campaign.pk) == 2
    monkeypatch.undo()
    # when Ann opts out of everything before the worker sends
    withdraw_all_marketing(subject=ann, source=ConsentSource.PREFERENCE_CENTRE)
    for args in batches.calls:
        send_campaign_batch_task.delay(*args)
    wait_until_completed(campaign)

    # then the API's progress counts her row as skipped_audience, and Bob's as sent
    api = logged_in(marketer, APIClient)
    progress = api.get(f"/api/v1/campaigns/{campaign.pk}/").json()["progress"]
    assert (progress["skipped_audience"], progress["sent"], progress["total"]) == (1, 1, 2)
    assert Delivery.objects.get(user=bob, campaign=campaign).status == Delivery.Status.SENT
    # and so does the campaign's admin page
    page = api.get(f"/admin/communications/campaign/{campaign.pk}/change/").content.decode()
    assert "<dt>Skipped: not in the notice&#x27;s audience</dt><dd>1</dd>" in page
