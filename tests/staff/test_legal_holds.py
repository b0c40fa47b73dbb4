"""Legal holds in admin: the Privacy Officer places one (with a reason and an end), releases
it (with a reason), never edits or deletes it; every other role is refused; bad input changes
nothing; and the run records are there to read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from privacy_site.roles import CUSTOMER_SUPPORT, MARKETING, PRIVACY_OFFICER
from retention.engine import run
from retention.models import LegalHold, RetentionRun
from retention.schedule import rule
from staff_access.models import StaffAccess
from tests.factories import UserFactory
from tests.harness.http import logged_in, text

pytestmark = pytest.mark.django_db

ADD = reverse("admin:retention_legalhold_add")


def change_url(hold: LegalHold) -> str:
    return reverse("admin:retention_legalhold_change", args=[hold.pk])


@pytest.fixture
def officer():
    return UserFactory(email="po@jessops.example", is_staff=True, roles=[PRIVACY_OFFICER])


@pytest.fixture
def person():
    return UserFactory(email="held.person@example.com", verified=True)


def place_form(email: str, *, days: int = 30, reason: str = "Court case 2026/114") -> dict:
    ends = timezone.localtime() + timedelta(days=days)
    return {
        "person_email": email,
        "reason": reason,
        "ends_at_0": ends.strftime("%Y-%m-%d"),
        "ends_at_1": ends.strftime("%H:%M:%S"),
    }


def test_the_officer_places_a_hold_and_it_records_who_why_and_until_when(officer, person):
    response = logged_in(officer).post(ADD, place_form("Held.Person@example.com"))

    assert response.status_code == 302, text(response)
    hold = LegalHold.objects.get()
    assert (hold.person, hold.placed_by, hold.reason) == (person, officer, "Court case 2026/114")
    assert hold.in_force and hold.ends_at > timezone.now() + timedelta(days=29)
    assert StaffAccess.objects.filter(staff=officer, subject_ids__contains=[person.pk]).exists()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"person_email": "nobody@example.com"}, "No account has this address."),
        ({"days": -1}, "A hold must end in the future."),
        ({"reason": "   "}, "This field is required."),
    ],
)
def test_a_hold_with_bad_input_is_refused_and_nothing_is_written(officer, person, change, message):
    form = place_form(
        change.get("person_email", person.email),
        days=change.get("days", 30),
        reason=change.get("reason", "Dispute"),
    )

    response = logged_in(officer).post(ADD, form)

    assert response.status_code == 200
    assert message in text(response)
    assert not LegalHold.objects.exists()


def test_the_officer_releases_a_hold_with_a_reason_and_it_stops_protecting(officer, person):
    hold = LegalHold.objects.create(
        person=person,
        reason="Dispute",
        ends_at=timezone.now() + timedelta(days=5),
        placed_by=officer,
    )
    client = logged_in(officer)

    refused = client.post(change_url(hold), {"release_reason": " "})
    assert refused.status_code == 200 and "This field is required." in text(refused)
    hold.refresh_from_db()
    assert hold.in_force

    assert client.post(change_url(hold), {"release_reason": "Case settled"}).status_code == 302
    hold.refresh_from_db()
    assert not hold.in_force
    assert (hold.released_by, hold.release_reason) == (officer, "Case settled")
    # Released: its page is read-only, and there is no delete.
    page = client.get(change_url(hold))
    assert 'name="release_reason"' not in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    # and sending its form again (a second tab, a resubmit) changes nothing
    again = client.post(change_url(hold), {"release_reason": "Another reason"})
    assert again.status_code == 403
    hold.refresh_from_db()
    assert hold.release_reason == "Case settled"
    delete = reverse("admin:retention_legalhold_delete", args=[hold.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert LegalHold.objects.filter(pk=hold.pk).exists()


@pytest.mark.parametrize("role", [CUSTOMER_SUPPORT, MARKETING, None])
def test_other_staff_can_neither_see_nor_place_holds(role, person):
    staff = UserFactory(email="other@jessops.example", is_staff=True, roles=[role] if role else [])
    client = logged_in(staff)

    assert client.get(reverse("admin:retention_legalhold_changelist")).status_code == 403
    assert client.post(ADD, place_form(person.email)).status_code == 403
    assert not LegalHold.objects.exists()


def test_the_officer_reads_the_run_records(officer):
    run(rule("expired_sessions"))

    page = logged_in(officer).get(reverse("admin:retention_retentionrun_changelist"))

    assert page.status_code == 200
    assert "expired_sessions" in text(page)
    assert RetentionRun.objects.get().outcome == RetentionRun.Outcome.FINISHED
