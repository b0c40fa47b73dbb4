"""Policy notices are campaigns the policy's publication starts, with words it writes: staff
can't write one (admin form, API), edit one, or, outside the Privacy Officer, pause, resume or
cancel one. A notice goes to people who never agreed to marketing and carries no unsubscribe
link, so a notice written by Marketing would be marketing without consent."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from communications.kinds import MessageKind
from communications.models import Campaign
from communications.services import (
    CampaignError,
    create_campaign,
    pause_campaign,
    resume_campaign,
    send_campaign_now,
    update_campaign,
)
from tests.factories import StaffFactory
from tests.harness.http import logged_in

pytestmark = pytest.mark.django_db

NOTICE_KINDS = [
    MessageKind.POLICY_CHANGE,
    MessageKind.POLICY_USE_CHANGE,
    MessageKind.BUSINESS_TRANSITION,
]
OFFER = {"name": "Offer", "subject_line": "50% off", "body": "Buy now", "body_format": "markdown"}


@pytest.fixture
def officer():
    return StaffFactory(
        email="officer@jessops.example",
        permissions=["consent.add_policyversion", "communications.view_campaign"],
    )


def a_notice(officer) -> Campaign:
    """A notice as ``policy_changes`` starts one: written by the system, sending."""
    campaign = create_campaign(
        actor=officer,
        name="Policy version 2",
        kind=MessageKind.POLICY_CHANGE,
        subject_line="Our privacy policy has changed",
        body="We now keep order records for seven years.",
        notice=True,
    )
    return send_campaign_now(campaign=campaign, actor=officer)


@pytest.mark.parametrize("kind", NOTICE_KINDS)
def test_marketing_cannot_write_a_notice_in_the_admin(marketer, kind):
    client = logged_in(marketer)
    page = client.get("/admin/communications/campaign/add/").content.decode()
    assert f'value="{kind}"' not in page

    response = client.post(
        "/admin/communications/campaign/add/", {**OFFER, "kind": kind, "segment": "{}"}
    )

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Campaign.objects.exists()


@pytest.mark.parametrize("kind", NOTICE_KINDS)
def test_marketing_cannot_write_a_notice_through_the_api(marketer, kind):
    api = APIClient()
    api.force_login(marketer)

    response = api.post("/api/v1/campaigns/", {**OFFER, "kind": kind}, format="json")

    assert response.status_code == 400
    assert "policy notices are sent from the policy's publication" in response.json()["kind"][0]
    assert not Campaign.objects.exists()


@pytest.mark.parametrize("kind", NOTICE_KINDS)
def test_the_service_refuses_a_notice_not_started_by_the_policy(kind):
    with pytest.raises(CampaignError, match="Policy notices are sent from"):
        create_campaign(actor=None, kind=kind, **OFFER)
    assert not Campaign.objects.exists()


def test_a_notice_cannot_be_edited_even_paused(officer, relay_off):
    notice = pause_campaign(campaign=a_notice(officer), actor=officer)

    with pytest.raises(CampaignError, match="can't be edited"):
        update_campaign(campaign=notice, kind=notice.kind, actor=officer, **OFFER)

    notice.refresh_from_db()
    assert notice.subject_line == "Our privacy policy has changed"


def test_only_the_privacy_officer_pauses_or_resumes_a_notice(officer, marketer, relay_off):
    notice = a_notice(officer)

    with pytest.raises(CampaignError, match="Only the Privacy Officer may pause"):
        pause_campaign(campaign=notice, actor=marketer)
    notice.refresh_from_db()
    assert notice.status == Campaign.Status.SENDING

    paused = pause_campaign(campaign=notice, actor=officer)
    with pytest.raises(CampaignError, match="Only the Privacy Officer may resume"):
        resume_campaign(campaign=paused, actor=marketer)
    assert resume_campaign(campaign=paused, actor=officer).status == Campaign.Status.SENDING


def test_the_admin_refuses_an_edit_of_a_notice(officer, marketer, relay_off):
    notice = pause_campaign(campaign=a_notice(officer), actor=officer)

    response = logged_in(marketer).post(
        f"/admin/communications/campaign/{notice.pk}/change/",
        {**OFFER, "kind": notice.kind, "segment": "{}"},
    )

    assert "it can&#x27;t be edited" in response.content.decode()
    notice.refresh_from_db()
    assert notice.body == "We now keep order records for seven years."
