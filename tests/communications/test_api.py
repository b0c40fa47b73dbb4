"""The campaign REST API: who may do what, validation that writes nothing, status changes,
preview, test sends, masked deliveries and the schema."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from communications.models import Campaign, Delivery
from communications.services import (
    cancel_campaign,
    complete_if_done,
    populate_campaign,
    send_campaign_now,
)
from tests.factories import CampaignFactory, StaffFactory

pytestmark = pytest.mark.django_db

CAMPAIGNS = "/api/v1/campaigns/"
ALL_PERMS = ("view_campaign", "add_campaign", "change_campaign", "send_campaign", "view_delivery")


def staff_with(email: str, *codenames: str):
    permissions = [f"communications.{codename}" for codename in codenames]
    return StaffFactory(email=email, first_name="Mia", permissions=permissions)


def client_for(user=None) -> APIClient:
    api = APIClient()
    if user is not None:
        api.force_login(user)
    return api


@pytest.fixture
def api(marketer) -> APIClient:
    return client_for(marketer)


@pytest.fixture
def draft(marketer) -> Campaign:
    return CampaignFactory(
        actor=marketer,
        name="Spring newsletter",
        subject_line="Spring is here, {{ first_name }}",
        body="Hello **{{ first_name }}**, our spring lenses are in.",
    )


def detail(campaign: Campaign, step: str = "") -> str:
    return f"{CAMPAIGNS}{campaign.pk}/{step + '/' if step else ''}"


def valid_body(**overrides) -> dict:
    return {
        "name": "Summer offers",
        "kind": "special_offer",
        "subject": "Summer deals",
        "body": "<p>Big savings</p><script>alert('x')</script>",
        "body_format": "html",
        **overrides,
    }


# --- Creating -----------------------------------------------------------------------------------


def test_creating_a_campaign_returns_it_with_the_body_sanitised(api, marketer):
    payload = valid_body(segment={"joined_after": "2024-01-01"})

    response = api.post(CAMPAIGNS, payload, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft"
    assert body["purpose"] == "special_offers"
    assert "<script>" not in body["body_html"]
    assert "alert" not in body["body_html"]
    assert "<p>Big savings</p>" in body["body_html"]
    assert body["segment"] == {"joined_after": "2024-01-01"}
    assert body["created_by"] == marketer.pk
    assert body["progress"]["total"] == 0
    assert Campaign.objects.get(pk=body["id"]).body_html == body["body_html"]


def test_creating_with_send_at_schedules_it_at_once(api):
    send_at = (timezone.now() + timedelta(days=2)).replace(microsecond=0)

    response = api.post(CAMPAIGNS, valid_body(send_at=send_at.isoformat()), format="json")

    assert response.status_code == 201, response.json()
    campaign = Campaign.objects.get(pk=response.json()["id"])
    assert (campaign.status, campaign.send_at) == ("scheduled", send_at)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"kind": "welcome"}, "kind", "is not a kind a campaign can send"),
        ({"purpose": "surveys"}, "detail", "goes to the 'special_offers' purpose, not 'surveys'"),
        ({"segment": {"favourite_colour": "red"}}, "segment", "Unknown segment filter"),
        ({"segment": {"joined_after": "last spring"}}, "segment", "must be a real date"),
        ({"segment": ["not", "an", "object"]}, "segment", "dictionary"),
        ({"send_at": "2030-05-01T09:00:00"}, "send_at", "Give a time zone"),
        ({"send_at": "2020-05-01T09:00:00Z"}, "detail", "send_at must be in the future"),
        ({"body": "   "}, "detail", "needs a subject and a body"),
        # JSON that is not a string where the schema says string: refused, not turned into text
        ({"name": 2026}, "name", "Must be a string"),
        ({"subject": 42}, "subject", "Must be a string"),
        ({"body": ["Hello"]}, "body", "Must be a string"),
        ({"purpose": True}, "purpose", "Must be a string"),
    ],
)
def test_invalid_input_is_refused_with_a_clear_message_and_nothing_written(
    api, overrides, field, message
):
    response = api.post(CAMPAIGNS, valid_body(**overrides), format="json")

    assert response.status_code == 400
    error = response.json()[field]
    assert message in (error if isinstance(error, str) else " ".join(map(str, error)))
    assert not Campaign.objects.exists()


def test_a_staff_member_who_may_add_but_not_send_cannot_schedule_on_create():
    writer = staff_with("writer@jessops.example", "view_campaign", "add_campaign")
    send_at = (timezone.now() + timedelta(days=1)).isoformat()

    response = client_for(writer).post(CAMPAIGNS, valid_body(send_at=send_at), format="json")

    assert response.status_code == 403
    assert not Campaign.objects.exists()


# --- Who may ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "step", "needs"),
    [
        ("get", "", "view_campaign"),
        ("patch", "", "change_campaign"),
        ("post", "preview", "view_campaign"),
        ("post", "test", "send_campaign"),
        ("post", "schedule", "send_campaign"),
        ("post", "send", "send_campaign"),
        ("post", "pause", "send_campaign"),
        ("post", "resume", "send_campaign"),
        ("post", "cancel", "send_campaign"),
        ("get", "deliveries", "view_delivery"),
    ],
)
def test_each_action_refuses_anyone_without_its_permission(make_user, draft, method, step, needs):
    customer = make_user("ann@example.com")
    lacking = staff_with("clerk@jessops.example", *[p for p in ALL_PERMS if p != needs])
    customer_with_perms = make_user("bob@example.com", permissions=ALL_PERMS)

    for user in (None, customer, customer_with_perms, lacking):
        response = getattr(client_for(user), method)(detail(draft, step), {}, format="json")
        assert response.status_code == 403, (user, response.status_code)
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert not Delivery.objects.exists()


def test_listing_and_creating_need_their_permissions():
    viewer = staff_with("viewer@jessops.example", "view_campaign")
    writer = staff_with("writer@jessops.example", "add_campaign")

    assert client_for().get(CAMPAIGNS).status_code == 403
    assert client_for(writer).get(CAMPAIGNS).status_code == 403
    assert client_for(viewer).get(CAMPAIGNS).status_code == 200
    assert client_for(viewer).post(CAMPAIGNS, valid_body(), format="json").status_code == 403
    assert client_for(writer).post(CAMPAIGNS, valid_body(), format="json").status_code == 201


# --- Reading and editing ------------------------------------------------------------------------


def test_the_list_and_detail_carry_progress(api, draft):
    listed = api.get(CAMPAIGNS)
    one = api.get(detail(draft))

    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()["results"]] == [draft.pk]
    assert one.status_code == 200
    assert one.json()["progress"]["sent"] == 0
    assert api.get(f"{CAMPAIGNS}999999/").status_code == 404


def test_the_list_counts_every_campaigns_progress_in_one_query(api, marketer, make_user):
    # given: three subscribers, and one campaign with a row for each
    for n in range(3):
        make_user(f"reader{n}@example.com", consents=["newsletter"])

    def campaign(name: str, *, started: bool = False) -> Campaign:
        return CampaignFactory(
            actor=marketer, name=name, subject_line="Hi", body="Hello", started=started
        )

    campaign("first", started=True)
    api.get(CAMPAIGNS)  # the session and permissions, read once whatever the list
    with CaptureQueriesContext(connection) as one_campaign:
        api.get(CAMPAIGNS)

    # when: five more, in other states
    for n in range(3):
        campaign(f"sending {n}", started=True)
    cancel_campaign(campaign=campaign("cancelled", started=True))
    campaign("draft")
    with CaptureQueriesContext(connection) as six_campaigns:
        response = api.get(CAMPAIGNS)

    # then: as many queries for six as for one, and each campaign's own counts
    assert len(six_campaigns) == len(one_campaign), [q["sql"] for q in six_campaigns]
    progress = {listed["name"]: listed["progress"] for listed in response.json()["results"]}
    assert len(progress) == 6
    assert (progress["first"]["queued"], progress["first"]["total"]) == (3, 3)
    assert progress["sending 2"]["queued"] == 3
    assert (progress["cancelled"]["cancelled"], progress["cancelled"]["queued"]) == (3, 0)
    assert progress["draft"]["total"] == 0
    assert (
        progress["first"] == api.get(detail(Campaign.objects.get(name="first"))).json()["progress"]
    )


def test_patch_changes_only_the_fields_given(api, draft):
    response = api.patch(detail(draft), {"subject": "New subject"}, format="json")

    assert response.status_code == 200, response.json()
    draft.refresh_from_db()
    assert draft.subject_line == "New subject"
    assert draft.name == "Spring newsletter"
    assert draft.kind == "newsletter"


def test_patch_moves_the_purpose_with_the_kind(api, draft):
    response = api.patch(detail(draft), {"kind": "survey_invitation"}, format="json")

    assert response.status_code == 200
    assert response.json()["purpose"] == "surveys"


def test_a_sending_campaign_cannot_be_edited(api, draft):
    send_campaign_now(campaign=draft)

    response = api.patch(detail(draft), {"subject": "Too late"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": "A sending campaign can't change."}
    draft.refresh_from_db()
    assert draft.subject_line != "Too late"


# --- Status changes -----------------------------------------------------------------------------


def test_sending_a_draft_now_moves_it_to_sending(api, draft):
    response = api.post(detail(draft, "send"))

    assert response.status_code == 200
    assert response.json()["status"] == "sending"
    draft.refresh_from_db()
    assert draft.status == "sending"
    assert draft.started_at is not None


def test_pause_resume_and_cancel(api, draft):
    api.post(detail(draft, "send"))

    assert api.post(detail(draft, "pause")).json()["status"] == "paused"
    assert api.post(detail(draft, "resume")).json()["status"] == "sending"
    assert api.post(detail(draft, "cancel")).json()["status"] == "cancelled"


def test_a_step_the_status_does_not_allow_is_a_400_that_changes_nothing(api, draft):
    response = api.post(detail(draft, "pause"))

    assert response.status_code == 400
    assert response.json() == {"detail": "Can't pause a draft campaign."}
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_a_completed_campaign_cannot_be_cancelled(api, draft):
    send_campaign_now(campaign=draft)
    populate_campaign(campaign_id=draft.pk)  # nobody consents: the audience is empty
    assert complete_if_done(campaign_id=draft.pk)

    response = api.post(detail(draft, "cancel"))

    assert response.status_code == 400
    assert response.json() == {"detail": "Can't cancel a completed campaign."}
    draft.refresh_from_db()
    assert draft.status == "completed"


def test_scheduling_needs_an_aware_future_time(api, draft):
    naive = api.post(detail(draft, "schedule"), {"send_at": "2030-01-01T09:00"}, format="json")
    past = api.post(detail(draft, "schedule"), {"send_at": "2020-01-01T09:00Z"}, format="json")
    missing = api.post(detail(draft, "schedule"), {}, format="json")
    send_at = (timezone.now() + timedelta(hours=3)).replace(microsecond=0)
    good = api.post(detail(draft, "schedule"), {"send_at": send_at.isoformat()}, format="json")

    assert naive.status_code == 400
    assert "time zone" in naive.json()["send_at"][0]
    assert past.status_code == 400
    assert past.json() == {"detail": "send_at must be in the future; use send now instead."}
    assert missing.status_code == 400
    assert good.status_code == 200
    draft.refresh_from_db()
    assert (draft.status, draft.send_at) == ("scheduled", send_at)


# --- Preview, test send, deliveries --------------------------------------------------------------


def test_the_preview_is_rendered_for_the_sample_recipient_with_an_unsubscribe_link(api, draft):
    response = api.post(detail(draft, "preview"))

    assert response.status_code == 200
    preview = response.json()
    assert preview["subject"] == "Spring is here, Sam"
    assert "Sam" in preview["text"]
    assert "<strong>Sam</strong>" in preview["html"]
    assert "/unsubscribe/sample/" in preview["html"]
    assert "/unsubscribe/sample/" in preview["text"]
    assert preview["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert not Delivery.objects.exists()


def test_a_test_send_queues_a_campaign_test_to_the_requesting_staff_member(api, marketer, draft):
    response = api.post(detail(draft, "test"))

    assert response.status_code == 202
    delivery = Delivery.objects.get(pk=response.json()["id"])
    assert (delivery.kind, delivery.user, delivery.status) == ("campaign_test", marketer, "queued")
    assert delivery.context == {"campaign_id": draft.pk}
    assert response.json()["status"] == "queued"
    assert response.json()["recipient"] == "m***@jessops.example"


def test_deliveries_are_listed_with_addresses_masked(api, make_user, draft):
    for email in ("ann.jones@example.com", "bob.smith@example.org"):
        make_user(email, consents=["newsletter"])
    send_campaign_now(campaign=draft)
    populate_campaign(campaign_id=draft.pk)

    response = api.get(detail(draft, "deliveries"))

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["recipient"] for row in rows] == ["a***@example.com", "b***@example.org"]
    assert {row["status"] for row in rows} == {"queued"}
    assert "ann.jones" not in response.content.decode()
    assert "bob.smith" not in response.content.decode()
    assert api.get(detail(draft, "deliveries"), {"status": "sent"}).json()["results"] == []
    assert api.get(detail(draft, "deliveries"), {"status": "nonsense"}).status_code == 400


# --- Schema -------------------------------------------------------------------------------------


def test_the_campaign_endpoints_generate_a_valid_schema_without_warnings(client):
    GENERATOR_STATS.reset()

    schema = SchemaGenerator().get_schema(request=None, public=True)

    assert not GENERATOR_STATS, "drf-spectacular emitted warnings or errors"
    validate_schema(schema)
    assert "/api/v1/campaigns/{id}/deliveries/" in schema["paths"]
    assert "/api/v1/campaigns/{id}/schedule/" in schema["paths"]
    assert client.get("/api/schema/").status_code == 200
