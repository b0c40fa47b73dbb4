"""Every campaign and suppression action is recorded with its actor, one event each: created,
edited, scheduled, sent, paused, resumed, cancelled, an address suppressed, a suppression
lifted. Through the admin, the API and the schedule; append-only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from communications.event_models import MarketingEvent
from communications.services import run_due_campaigns
from tests.communications.test_admin import change_url, step_url, suppressed
from tests.factories import CampaignFactory

Kind = MarketingEvent.Kind
SUPPRESSIONS = "/admin/communications/suppression/"


def events() -> list[tuple[str, object]]:
    return list(MarketingEvent.objects.order_by("id").values_list("kind", "actor__email"))


@pytest.fixture
def draft(marketer):
    return CampaignFactory(actor=marketer, name="Spring", subject_line="Spring", body="Hi")


def test_each_step_in_the_admin_is_recorded_with_the_member_of_staff(marketer, draft):
    from tests.harness.http import logged_in

    client = logged_in(marketer)
    when = timezone.localtime() + timedelta(days=2)

    client.post(step_url(draft, "schedule"), {"send_at": when.strftime("%Y-%m-%dT%H:%M")})
    client.post(step_url(draft, "send"))
    client.post(step_url(draft, "pause"))
    client.post(step_url(draft, "resume"))
    client.post(step_url(draft, "cancel"))

    mia = marketer.email
    assert events() == [
        (Kind.CAMPAIGN_CREATED, mia),
        (Kind.CAMPAIGN_SCHEDULED, mia),
        (Kind.CAMPAIGN_SENDING, mia),
        (Kind.CAMPAIGN_PAUSED, mia),
        (Kind.CAMPAIGN_RESUMED, mia),
        (Kind.CAMPAIGN_CANCELLED, mia),
    ]
    scheduled = MarketingEvent.objects.get(kind=Kind.CAMPAIGN_SCHEDULED)
    assert scheduled.campaign == draft
    assert scheduled.detail["send_at"].startswith(when.strftime("%Y-%m-%dT%H:%M"))


def test_an_edit_through_the_api_names_the_fields_changed(marketer, draft):
    api = APIClient()
    api.force_login(marketer)

    response = api.patch(
        f"/api/v1/campaigns/{draft.pk}/", {"subject": "Spring is here"}, format="json"
    )

    assert response.status_code == 200, response.content
    edited = MarketingEvent.objects.get(kind=Kind.CAMPAIGN_EDITED)
    assert edited.actor == marketer
    assert edited.detail == {"changed": ["subject_line"]}


def test_a_scheduled_campaign_started_by_its_schedule_has_no_actor(marketer, draft):
    from communications.services import schedule_campaign

    schedule_campaign(campaign=draft, send_at=timezone.now() + timedelta(minutes=1), actor=marketer)
    draft.__class__.objects.filter(pk=draft.pk).update(
        send_at=timezone.now() - timedelta(seconds=1)
    )

    assert run_due_campaigns() == [draft.pk]

    assert events()[-1] == (Kind.CAMPAIGN_SENDING, None)


def test_suppressing_and_lifting_by_hand_are_recorded_with_the_member_of_staff(root, superuser):
    root.post(
        f"{SUPPRESSIONS}add/",
        {"address": "carol@example.com", "reason": "manual", "detail": "asked by phone"},
    )
    suppression = suppressed("dan@example.com")
    root.post(
        f"{SUPPRESSIONS}{suppression.pk}/lift/",
        {"address": "dan@example.com", "reason": "Dan phoned and asked to hear again."},
    )

    assert events() == [
        (Kind.ADDRESS_SUPPRESSED, superuser.email),
        (Kind.SUPPRESSION_LIFTED, superuser.email),
    ]
    lifted = MarketingEvent.objects.get(kind=Kind.SUPPRESSION_LIFTED)
    assert lifted.address_hash == suppression.address_hash
    assert lifted.detail["reason"] == "Dan phoned and asked to hear again."


def test_the_events_are_read_only_in_the_admin(root, draft):
    event = MarketingEvent.objects.get()
    assert root.get("/admin/communications/marketingevent/").status_code == 200
    assert root.get("/admin/communications/marketingevent/add/").status_code == 403
    assert root.post(f"/admin/communications/marketingevent/{event.pk}/delete/").status_code == 403
    assert root.get(change_url(draft)).status_code == 200


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_the_database_refuses_to_change_or_delete_an_event(draft):
    event = MarketingEvent.objects.get()
    for statement in (
        "UPDATE communications_marketingevent SET kind = 'campaign_cancelled' WHERE id = %s",
        "DELETE FROM communications_marketingevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [event.pk])
