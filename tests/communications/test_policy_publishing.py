"""Publishing a policy version: what each change type starts, the site notice and its
dismissal, the choice on a new use, the 30-day rule for business transitions."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from communications.kinds import MessageKind
from communications.models import PolicyPublication
from communications.rendering import campaign_template, link_prefixes, recipient_values
from communications.services.policy_changes import (
    PolicyChangeError,
    publish_policy_change,
    record_business_transition,
)
from consent.models import ConsentEvent, Purpose
from consent.selectors import may_use_for_purpose, usable_consents
from consent.services import ConsentError, ConsentSource, grant_consent, save_policy_draft
from tests.factories import PolicyVersionFactory, PurposeFactory

pytestmark = pytest.mark.django_db
NEW_USE = {"code": "partner_analytics", "name": "Shopping analysis", "wording": "We may ..."}


@pytest.fixture
def officer(make_user):
    return make_user("officer@jessops.example", is_staff=True)


def draft(officer, change_type: str, **extra):
    fields = {"text": f"Policy text, {change_type}.", "summary": f"A {change_type}."}
    if change_type == "use_change":
        fields["new_purposes"] = [NEW_USE]
    return save_policy_draft(actor=officer, change_type=change_type, **(fields | extra))


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_editorial_publishes_and_starts_nothing(officer, client):
    publication = publish_policy_change(draft=draft(officer, "editorial"), actor=officer)

    assert publication.campaign is None and not publication.site_notice
    assert publication.published_by == officer and publication.published_at
    assert "Our privacy policy changed" not in client.get("/").content.decode()


def test_a_practice_change_shows_a_notice_and_emails_only_when_asked(officer, make_user):
    publication = publish_policy_change(draft=draft(officer, "practice_change"), actor=officer)
    assert publication.site_notice and publication.campaign is None

    # the home page tells everyone; other pages only logged-in people
    assert "Our privacy policy changed" in Client().get("/").content.decode()
    assert "Our privacy policy changed" not in Client().get("/privacy/").content.decode()
    ann = make_user("ann@example.com")
    assert "Our privacy policy changed" in logged_in(ann).get("/privacy/").content.decode()

    emailed = publish_policy_change(
        draft=draft(officer, "practice_change"), actor=officer, email_practice_change=True
    )
    assert emailed.campaign.kind == MessageKind.POLICY_CHANGE
    assert "Email campaign" in emailed.started


def test_the_notice_stays_closed_on_another_device(officer, make_user):
    publish_policy_change(draft=draft(officer, "practice_change"), actor=officer)
    ann = make_user("ann@example.com")
    phone, laptop = logged_in(ann), logged_in(ann)
    version = PolicyPublication.objects.get().version

    response = phone.post(f"/privacy/notice/{version.number}/dismiss/", {"next": "/privacy/"})

    assert response.status_code == 302 and response["Location"] == "/privacy/"
    assert "Our privacy policy changed" not in laptop.get("/").content.decode()
    assert "Our privacy policy changed" not in laptop.get("/privacy/").content.decode()


def test_an_editorial_correction_leaves_a_practice_changes_notice_until_closed(officer, make_user):
    # given a practice change, then a correction of its wording
    publish_policy_change(draft=draft(officer, "practice_change"), actor=officer)
    practice = PolicyPublication.objects.get().version
    publish_policy_change(draft=draft(officer, "editorial"), actor=officer)
    ann = make_user("ann@example.com")
    browser = logged_in(ann)

    # then the practice change's notice stays up, on every page, until Ann closes it
    assert "Our privacy policy changed" in Client().get("/").content.decode()
    assert "Our privacy policy changed" in browser.get("/privacy/").content.decode()
    browser.post(f"/privacy/notice/{practice.number}/dismiss/", {"next": "/privacy/"})
    assert "Our privacy policy changed" not in browser.get("/privacy/").content.decode()


def test_a_published_version_cannot_be_changed(officer):
    published = draft(officer, "practice_change")
    publish_policy_change(draft=published, actor=officer)

    with pytest.raises(ConsentError, match="can't be changed"):
        save_policy_draft(
            actor=officer, text="Other", summary="Other", change_type="editorial", draft=published
        )
    with pytest.raises(PolicyChangeError, match="published already"):
        publish_policy_change(draft=published, actor=officer)


def test_only_staff_publish(make_user, officer):
    with pytest.raises(PolicyChangeError):
        publish_policy_change(draft=draft(officer, "editorial"), actor=make_user("ann@example.com"))


def test_a_use_change_keeps_the_new_use_off_until_a_yes_given_on_the_choice_page(
    officer, make_user
):
    # given people opted in before the change
    ann = make_user("ann@example.com", consents=["newsletter"])
    bob = make_user("bob@example.com", consents=["newsletter"])
    publication = publish_policy_change(draft=draft(officer, "use_change"), actor=officer)
    purpose = Purpose.objects.get(code=NEW_USE["code"])
    assert publication.campaign.kind == MessageKind.POLICY_USE_CHANGE
    assert not usable_consents(purpose=purpose).exists()

    # when Ann follows the link in her email (no login) and says yes
    template = campaign_template(publication.campaign)
    values, _ = recipient_values(template, user=ann, ref="1", prefixes=link_prefixes())
    path = values["choice_url"].removeprefix("http://testserver")
    assert values["choice_url"] in template.for_recipient(values).text
    page = Client().get(path)
    assert page.status_code == 200 and NEW_USE["name"] in page.content.decode()
    saved = Client().post(path, {f"purpose_{purpose.code}": "yes"})

    # then her answer is a re-consent row under the new version, and only she is in
    assert saved.status_code == 200
    event = ConsentEvent.objects.get(subject=ann, purpose=purpose)
    assert event.granted and event.source == ConsentSource.RECONSENT
    assert event.policy_version == publication.version
    assert may_use_for_purpose(subject=ann, purpose=purpose)
    assert not may_use_for_purpose(subject=bob, purpose=purpose)
    assert set(usable_consents(purpose=purpose).values_list("subject", flat=True)) == {ann.pk}


def test_a_no_on_the_choice_page_is_recorded(officer, make_user):
    bob = make_user("bob@example.com")
    publish_policy_change(draft=draft(officer, "use_change"), actor=officer)

    response = logged_in(bob).post("/privacy/choices/", {"purpose_partner_analytics": "no"})

    assert response.status_code == 200
    event = ConsentEvent.objects.get(subject=bob, purpose__code="partner_analytics")
    assert not event.granted and event.source == ConsentSource.RECONSENT


def test_a_bad_answer_is_refused_and_changes_nothing(officer, make_user):
    bob = make_user("bob@example.com")
    publish_policy_change(draft=draft(officer, "use_change"), actor=officer)

    response = logged_in(bob).post("/privacy/choices/", {"purpose_partner_analytics": "maybe"})

    assert response.status_code == 400
    assert not ConsentEvent.objects.filter(subject=bob).exists()


def test_the_choice_is_offered_once_after_login_and_can_be_skipped(officer, make_user):
    publish_policy_change(draft=draft(officer, "use_change"), actor=officer)
    bob = make_user("bob@example.com")
    client = Client()

    client.force_login(bob)
    first = client.get("/accounts/profile/")
    assert first.status_code == 302
    assert first["Location"] == "/privacy/choices/?next=%2Faccounts%2Fprofile%2F"
    choice = client.get(first["Location"])
    assert "Decide later" in choice.content.decode()
    # skipping: the next page is not interrupted again, and nothing is recorded
    assert client.get("/accounts/profile/").status_code == 200
    assert not ConsentEvent.objects.filter(purpose__code="partner_analytics").exists()


def test_a_use_change_must_introduce_a_purpose(officer):
    with pytest.raises(ConsentError, match="at least one new purpose"):
        draft(officer, "use_change", new_purposes=[])


# --- Business transitions ----------------------------------------------------------------


def test_less_than_30_days_notice_is_refused_with_the_reason(officer):
    today = timezone.localdate()
    with pytest.raises(PolicyChangeError) as refused:
        record_business_transition(
            actor=officer,
            kind="acquisition",
            counterparty="Big Camera plc",
            description="Big Camera plc acquires Jessops.",
            announced_on=today,
            effective_on=today + datetime.timedelta(days=29),
        )
    assert "29 days" in str(refused.value) and "30 days" in str(refused.value)


def test_a_transition_shows_on_every_page_until_effective_and_in_the_history(officer):
    today = timezone.localdate()
    record_business_transition(
        actor=officer,
        kind="acquisition",
        counterparty="Big Camera plc",
        description="Big Camera plc acquires Jessops.",
        announced_on=today,
        effective_on=today + datetime.timedelta(days=30),
        email_opted_in=True,
    )
    client = Client()
    for page in ("/", "/privacy/", "/newsletter/"):
        assert "Big Camera plc" in client.get(page).content.decode(), page
    assert "Business transitions" in client.get("/privacy/history/").content.decode()


# --- Using data under the version it was collected under -----------------------------------


def test_a_purpose_introduced_by_a_use_change_reaches_only_people_who_agreed_after_being_told(
    officer, make_user
):
    from consent.models import PolicyVersion
    from consent.selectors import audience_for

    # given a purpose written for version 2 while version 1 is still in force, and Ann
    # recorded as agreeing to it then (under version 1: she had not been told)
    v2 = PolicyVersion.objects.create(
        number=2,
        effective_date=timezone.localdate(),
        text="v2",
        summary="New use.",
        change_type="use_change",
    )
    purpose = PurposeFactory(code="new_use", introduced_in=v2, actor=officer)
    ann, bob = make_user("ann@example.com"), make_user("bob@example.com")
    grant_consent(subject=ann, purpose="new_use", source=ConsentSource.API)
    # when a later version (3) is in force and Bob agrees under it
    PolicyVersionFactory()
    grant_consent(subject=bob, purpose="new_use", source=ConsentSource.RECONSENT)

    # then only Bob is in the campaign audience, and only Bob's data may be used
    assert list(audience_for(purpose=purpose)) == [bob.pk]
    assert not may_use_for_purpose(subject=ann, purpose=purpose)
    assert may_use_for_purpose(subject=bob, purpose=purpose)
