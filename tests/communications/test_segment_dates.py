"""A campaign segment date that is well formed but not in the calendar (2024-02-30, 2024-13-45,
0000-01-01) is a 400 naming the segment, through the API and the admin form, and writes nothing.

These answered 500 when ``date()`` raised on them inside the segment validator."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from communications.kinds import MessageKind
from communications.models import Campaign
from tests.factories import CampaignFactory
from tests.harness.http import logged_in

pytestmark = pytest.mark.django_db

API = "/api/v1/campaigns/"
ADMIN = "/admin/communications/campaign/"
NOT_IN_THE_CALENDAR = ["2024-02-30", "2024-13-45", "0000-01-01", "2023-02-29", "2024-04-31"]


@pytest.fixture
def api(marketer) -> APIClient:
    return logged_in(marketer, APIClient)


@pytest.fixture
def admin_client_for(marketer) -> Client:
    return logged_in(marketer)


@pytest.fixture
def draft(marketer) -> Campaign:
    return CampaignFactory(
        actor=marketer,
        name="Spring newsletter",
        subject_line="Spring is here",
        body="Hello {{ first_name }}",
        segment={"joined_after": "2024-01-01"},
    )


def content(**segment) -> dict:
    return {
        "name": "Offers",
        "kind": "special_offer",
        "subject": "Summer deals",
        "body": "Deals",
        "segment": segment,
    }


# --- API ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["joined_after", "joined_before"])
@pytest.mark.parametrize("value", NOT_IN_THE_CALENDAR)
def test_creating_with_a_date_not_in_the_calendar_is_a_400_naming_the_segment(api, key, value):
    response = api.post(API, content(**{key: value}), format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "segment": [f"{key} must be a real date from 1900 on, written YYYY-MM-DD, not '{value}'."]
    }
    assert not Campaign.objects.exists()


@pytest.mark.parametrize("value", NOT_IN_THE_CALENDAR)
def test_patching_a_date_not_in_the_calendar_is_a_400_and_changes_nothing(api, draft, value):
    response = api.patch(
        f"{API}{draft.pk}/",
        {"subject": "Changed", "segment": {"joined_before": value}},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["segment"]
    assert f"not '{value}'" in response.json()["segment"][0]
    draft.refresh_from_db()
    assert (draft.subject_line, draft.segment) == ("Spring is here", {"joined_after": "2024-01-01"})


def test_a_real_leap_day_is_accepted(api):
    response = api.post(API, content(joined_after="2024-02-29"), format="json")

    assert response.status_code == 201, response.json()
    assert Campaign.objects.get().segment == {"joined_after": "2024-02-29"}


def test_other_segment_refusals_name_the_segment_too(api, draft):
    unknown = api.post(API, content(favourite_colour="red"), format="json")
    basis = api.patch(
        f"{API}{draft.pk}/",
        {"kind": "service_announcement", "segment": {"legal_basis": "consent"}},
        format="json",
    )

    assert unknown.status_code == basis.status_code == 400
    assert "Unknown segment filter: favourite_colour" in unknown.json()["segment"][0]
    assert basis.json() == {"segment": ["legal_basis applies only to marketing kinds."]}
    draft.refresh_from_db()
    assert draft.kind == MessageKind.NEWSLETTER


# --- Admin --------------------------------------------------------------------------------------


def admin_form(**segment) -> dict:
    return {
        "name": "Offers",
        "kind": "special_offer",
        "subject_line": "Summer deals",
        "body_format": "markdown",
        "body": "Deals",
        "segment": json.dumps(segment),
    }


@pytest.mark.parametrize("value", NOT_IN_THE_CALENDAR)
def test_the_admin_add_form_shows_the_segment_error_and_writes_nothing(admin_client_for, value):
    response = admin_client_for.post(f"{ADMIN}add/", admin_form(joined_after=value))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["segment"]
    assert "joined_after must be a real date from 1900 on" in errors["segment"][0]
    assert not Campaign.objects.exists()


@pytest.mark.parametrize("value", NOT_IN_THE_CALENDAR)
def test_the_admin_change_form_shows_the_segment_error_and_changes_nothing(
    admin_client_for, draft, value
):
    form = admin_form(joined_before=value) | {"kind": "newsletter", "subject_line": "Changed"}

    response = admin_client_for.post(f"{ADMIN}{draft.pk}/change/", form)

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["segment"]
    draft.refresh_from_db()
    assert (draft.subject_line, draft.segment) == ("Spring is here", {"joined_after": "2024-01-01"})
