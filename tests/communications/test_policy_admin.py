"""The Privacy Officer's admin pages, through HTTP: draft a version, preview its differences,
publish it (audited, once), record a business transition (the 30-day rule as a form error), and
staff without the permission refused."""

from __future__ import annotations

import datetime
import json

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.utils import timezone

from communications.kinds import MessageKind
from communications.models import BusinessTransition, Campaign, PolicyPublication
from consent.models import PolicyDraft, PolicyVersion, Purpose
from consent.services import current_policy_version, save_policy_draft
from tests.factories import StaffFactory
from tests.harness.http import logged_in

pytestmark = pytest.mark.django_db

DRAFTS = "/admin/consent/policydraft/"
TRANSITIONS = "/admin/communications/businesstransition/"
NEW_USE = {"code": "partner_analytics", "name": "Shopping analysis", "wording": "We may ..."}
OFFICER_PERMISSIONS = (
    "view_policydraft",
    "add_policydraft",
    "change_policydraft",
    "view_policyversion",
    "add_policyversion",
    "view_policypublication",
    "view_businesstransition",
    "add_businesstransition",
)


def staff(email: str, *codenames: str):
    return StaffFactory(email=email, permissions=codenames)


@pytest.fixture
def officer():
    return staff("officer@jessops.example", *OFFICER_PERMISSIONS)


@pytest.fixture
def admin_client_(officer) -> Client:
    return logged_in(officer)


def a_draft(officer, change_type: str = "practice_change", **extra) -> PolicyDraft:
    fields = {
        "text": current_policy_version().text + "\n\nWe now print photos with CEWE.",
        "summary": "Photo printing by CEWE.",
    }
    if change_type == "use_change":
        fields["new_purposes"] = [NEW_USE]
    return save_policy_draft(actor=officer, change_type=change_type, **(fields | extra))


def publish(client: Client, draft: PolicyDraft, **extra):
    data = {"effective_date": timezone.localdate().isoformat(), **extra}
    return client.post(f"{DRAFTS}{draft.pk}/publish/", data)


# --- Drafts and preview --------------------------------------------------------------------------


def test_an_officer_drafts_a_use_change_and_previews_its_differences(officer, admin_client_):
    # given the text in force, with one new paragraph
    text = current_policy_version().text + "\n\nWe analyse purchases to suggest products."

    # when the officer drafts it in admin
    response = admin_client_.post(
        f"{DRAFTS}add/",
        {
            "text": text,
            "summary": "Shopping analysis, if you agree.",
            "change_type": "use_change",
            "new_purposes": json.dumps([NEW_USE]),
        },
    )

    # then the draft is kept, and nothing is published yet
    assert response.status_code == 302
    draft = PolicyDraft.objects.get()
    assert draft.created_by == officer and draft.new_purposes == [NEW_USE]
    assert PolicyVersion.objects.count() == 1
    assert not Purpose.objects.filter(code=NEW_USE["code"]).exists()

    # and the preview shows what changed against version 1, and the new purpose
    preview = admin_client_.get(f"{DRAFTS}{draft.pk}/preview/")
    page = preview.content.decode()
    assert preview.status_code == 200
    assert "In force now: version 1" in page
    assert "We analyse purchases to suggest products.</ins>" in page
    assert page.count("<ins>") == 1 and "<del>" not in page
    assert NEW_USE["name"] in page and "off for everyone until they say yes" in page
    change = admin_client_.get(f"{DRAFTS}{draft.pk}/change/").content.decode()
    assert f"{DRAFTS}{draft.pk}/preview/" in change and f"{DRAFTS}{draft.pk}/publish/" in change


def test_a_preview_of_an_unchanged_text_says_so(officer, admin_client_):
    draft = a_draft(officer, "editorial", text=current_policy_version().text)

    page = admin_client_.get(f"{DRAFTS}{draft.pk}/preview/").content.decode()

    assert "The text is unchanged." in page


@pytest.mark.parametrize(
    ("change_type", "new_purposes", "error"),
    [
        ("use_change", [], "at least one new purpose"),
        ("editorial", [NEW_USE], "Only a use change introduces new purposes"),
        ("use_change", [{"code": "newsletter", "name": "N", "wording": "W"}], "already used"),
        ("use_change", [{"code": "x"}], "must be a list of"),
        ("use_change", [{**NEW_USE, "name": "N" * 101}], "at most 100 characters"),
        ("use_change", [{**NEW_USE, "code": "c" * 51}], "at most 50 characters"),
        ("use_change", [{**NEW_USE, "code": "My Use!"}], "valid"),
        ("use_change", [{**NEW_USE, "code": "x\u0000"}], "NUL character"),
        ("use_change", [{**NEW_USE, "wording": 7}], "are each text"),
    ],
    ids=[
        "use-change-without-purpose",
        "purpose-on-editorial",
        "code-taken",
        "bad-shape",
        "name-too-long",
        "code-too-long",
        "code-not-a-slug",
        "nul-in-code",
        "wording-not-text",
    ],
)
def test_a_draft_the_service_refuses_is_a_form_error_and_nothing_is_saved(
    admin_client_, change_type, new_purposes, error
):
    response = admin_client_.post(
        f"{DRAFTS}add/",
        {
            "text": "Text.",
            "summary": "Summary.",
            "change_type": change_type,
            "new_purposes": json.dumps(new_purposes),
        },
    )

    assert response.status_code == 200
    assert error in " ".join(response.context["adminform"].form.non_field_errors())
    assert not PolicyDraft.objects.exists()


def test_staff_without_the_draft_permissions_are_refused(officer):
    draft = a_draft(officer)
    nobody = logged_in(staff("temp@jessops.example", "view_policyversion"))

    assert nobody.get(f"{DRAFTS}{draft.pk}/preview/").status_code == 403
    added = nobody.post(f"{DRAFTS}add/", {"text": "T", "summary": "S", "change_type": "editorial"})
    changed = nobody.post(
        f"{DRAFTS}{draft.pk}/change/", {"text": "T", "summary": "S", "change_type": "editorial"}
    )

    assert (added.status_code, changed.status_code) == (403, 403)
    assert PolicyDraft.objects.get().text == draft.text


# --- Publishing --------------------------------------------------------------------------------


def test_publishing_is_recorded_with_who_when_and_what_it_started(officer, admin_client_):
    draft = a_draft(officer, "use_change")
    before = timezone.now()

    response = publish(admin_client_, draft)

    # then version 2 is in force, with the record of who published it and what it started
    publication = PolicyPublication.objects.get()
    assert response.status_code == 302
    assert response["Location"] == (
        f"/admin/communications/policypublication/{publication.pk}/change/"
    )
    assert publication.version == current_policy_version()
    assert publication.version.number == 2
    assert publication.published_by == officer and publication.published_at >= before
    assert publication.campaign.kind == MessageKind.POLICY_USE_CHANGE
    assert "Shopping analysis" in publication.started
    # the draft's admin history says so too
    entry = LogEntry.objects.get(object_id=str(draft.pk), user=officer)
    assert entry.get_change_message() == "Published as version 2."
    # and the record is shown to the officer, read-only
    page = admin_client_.get(response["Location"])
    assert page.status_code == 200 and "Shopping analysis" in page.content.decode()
    assert 'name="started"' not in page.content.decode()


def test_staff_without_the_publish_permission_are_refused(officer):
    # given a clerk who may draft but not publish
    draft = a_draft(officer)
    clerk = logged_in(staff("clerk@jessops.example", "view_policydraft", "change_policydraft"))

    # then the preview is open to them, publishing is not
    assert clerk.get(f"{DRAFTS}{draft.pk}/preview/").status_code == 200
    assert clerk.get(f"{DRAFTS}{draft.pk}/publish/").status_code == 403
    assert publish(clerk, draft).status_code == 403
    assert (
        f"{DRAFTS}{draft.pk}/publish/"
        not in clerk.get(f"{DRAFTS}{draft.pk}/change/").content.decode()
    )
    assert PolicyVersion.objects.count() == 1
    assert not PolicyPublication.objects.exists()
    draft.refresh_from_db()
    assert draft.published_version is None


def test_a_published_draft_cant_be_changed_or_published_again(officer, admin_client_):
    draft = a_draft(officer)
    assert publish(admin_client_, draft).status_code == 302
    text = PolicyDraft.objects.get().text

    page = admin_client_.get(f"{DRAFTS}{draft.pk}/change/")
    changed = admin_client_.post(
        f"{DRAFTS}{draft.pk}/change/",
        {"text": "Rewritten.", "summary": "S", "change_type": "editorial", "new_purposes": "[]"},
    )
    again = publish(admin_client_, draft)

    assert page.status_code == 200 and 'name="text"' not in page.content.decode()
    assert changed.status_code == 403
    assert again.status_code == 400 and "published already" in again.content.decode()
    assert PolicyDraft.objects.get().text == text
    assert PolicyVersion.objects.count() == 2
    assert PolicyPublication.objects.count() == 1


def test_emailing_an_editorial_change_is_refused_and_nothing_is_published(officer, admin_client_):
    draft = a_draft(officer, "editorial")

    response = publish(admin_client_, draft, email_practice_change="on")

    assert response.status_code == 400
    assert "Only a practice change may be emailed" in response.content.decode()
    assert PolicyVersion.objects.count() == 1
    draft.refresh_from_db()
    assert draft.published_version is None


def test_a_publish_without_an_effective_date_is_refused(officer, admin_client_):
    draft = a_draft(officer)

    response = admin_client_.post(f"{DRAFTS}{draft.pk}/publish/", {"effective_date": "soon"})

    assert response.status_code == 400
    assert response.context["form"].errors["effective_date"]
    assert PolicyVersion.objects.count() == 1


# --- Business transitions ----------------------------------------------------------------------


def transition(announced: datetime.date, effective: datetime.date, **extra) -> dict:
    return {
        "kind": "acquisition",
        "counterparty": "Big Camera plc",
        "description": "Big Camera plc acquires Jessops.",
        "announced_on": announced.isoformat(),
        "effective_on": effective.isoformat(),
        "use_change_version": "",
        **extra,
    }


def test_less_than_30_days_notice_is_a_form_error_that_says_why(admin_client_):
    today = timezone.localdate()

    response = admin_client_.post(
        f"{TRANSITIONS}add/", transition(today, today + datetime.timedelta(days=29))
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["effective_on"]
    earliest = today + datetime.timedelta(days=30)
    assert "29 days after the announcement" in errors[0]
    assert f"the earliest effective date is {earliest:%-d %B %Y}" in errors[0]
    assert "29 days after the announcement" in response.content.decode()
    assert not BusinessTransition.objects.exists()


def test_an_announcement_in_the_past_is_a_form_error(admin_client_):
    yesterday = timezone.localdate() - datetime.timedelta(days=1)

    response = admin_client_.post(
        f"{TRANSITIONS}add/", transition(yesterday, yesterday + datetime.timedelta(days=60))
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["announced_on"]
    assert not BusinessTransition.objects.exists()


def test_a_transition_with_30_days_notice_is_recorded_shown_and_emailed_if_asked(
    officer, admin_client_
):
    today = timezone.localdate()

    response = admin_client_.post(
        f"{TRANSITIONS}add/",
        transition(today, today + datetime.timedelta(days=30), email_opted_in="on"),
    )

    assert response.status_code == 302
    recorded = BusinessTransition.objects.get()
    assert recorded.recorded_by == officer and recorded.counterparty == "Big Camera plc"
    assert recorded.campaign.kind == MessageKind.BUSINESS_TRANSITION
    assert "Big Camera plc" in Client().get("/").content.decode()
    assert "Big Camera plc" in Client().get("/privacy/history/").content.decode()


def test_a_recorded_transition_cant_be_changed_or_deleted(officer, admin_client_):
    today = timezone.localdate()
    admin_client_.post(f"{TRANSITIONS}add/", transition(today, today + datetime.timedelta(31)))
    recorded = BusinessTransition.objects.get()

    changed = admin_client_.post(
        f"{TRANSITIONS}{recorded.pk}/change/",
        transition(today, today + datetime.timedelta(days=90), counterparty="Other plc"),
    )
    deleted = admin_client_.post(f"{TRANSITIONS}{recorded.pk}/delete/", {"post": "yes"})

    assert (changed.status_code, deleted.status_code) == (403, 403)
    recorded.refresh_from_db()
    assert recorded.counterparty == "Big Camera plc"


def test_staff_without_the_transition_permission_cannot_record_one():
    today = timezone.localdate()
    clerk = logged_in(staff("clerk@jessops.example", "view_businesstransition"))

    response = clerk.post(f"{TRANSITIONS}add/", transition(today, today + datetime.timedelta(40)))

    assert response.status_code == 403
    assert not BusinessTransition.objects.exists()


def test_only_a_use_change_version_may_be_linked_to_a_transition(officer, admin_client_):
    today = timezone.localdate()
    editorial = PolicyVersion.objects.get(number=1)

    response = admin_client_.post(
        f"{TRANSITIONS}add/",
        transition(today, today + datetime.timedelta(40), use_change_version=str(editorial.pk)),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["use_change_version"]
    assert not BusinessTransition.objects.exists()


def test_a_transition_sent_twice_is_recorded_and_emailed_once(officer, admin_client_):
    today = timezone.localdate()
    form = transition(today, today + datetime.timedelta(days=40), email_opted_in="on")

    first = admin_client_.post(f"{TRANSITIONS}add/", form)
    again = admin_client_.post(
        f"{TRANSITIONS}add/", {**form, "counterparty": form["counterparty"].upper()}
    )

    assert first.status_code == 302
    assert again.status_code == 200
    assert "This transition is recorded already" in again.content.decode()
    assert BusinessTransition.objects.count() == 1
    assert Campaign.objects.filter(kind=MessageKind.BUSINESS_TRANSITION).count() == 1


def test_a_transition_at_the_calendars_end_is_a_form_error(officer, admin_client_):
    response = admin_client_.post(
        f"{TRANSITIONS}add/",
        transition(datetime.date(9999, 12, 20), datetime.date(9999, 12, 31)),
    )

    assert response.status_code == 200
    assert "the earliest effective date is beyond the calendar" in response.content.decode()
    assert not BusinessTransition.objects.exists()


def test_a_long_counterparty_name_is_cut_in_the_notices_name_and_subject(officer, admin_client_):
    today = timezone.localdate()
    long_name = "Big Camera Holdings International " * 5  # 170 characters

    response = admin_client_.post(
        f"{TRANSITIONS}add/",
        transition(
            today, today + datetime.timedelta(days=30), counterparty=long_name, email_opted_in="on"
        ),
    )

    assert response.status_code == 302
    campaign = BusinessTransition.objects.get().campaign
    assert len(campaign.name) <= 200 and len(campaign.subject_line) <= 200
    assert campaign.subject_line.endswith("…")
