"""``/my-data/jessops-photo/``: a logged-in customer joins Jessops Photo (CEWE receives their
name and email, logged as a disclosure, and they are told so in the policy's words), leaves it
(CEWE to be told), and sees their history; nobody acts for anyone else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from consent.models import CurrentConsent
from sharing.models import Disclosure
from sharing.notification_models import RecipientNotification
from sharing.photo_models import PhotoServiceMembership
from sharing.services import PartyDetails, change_third_party, record_notified_by_hand
from sharing.services.photo_service import (
    PhotoServiceError,
    join_photo_service,
    leave_photo_service,
)
from tests.harness.http import text
from tests.sharing.conftest import CEWE, party
from tests.sharing.notices import set_notification_address

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_cache")]
PAGE = "/my-data/jessops-photo/"


@pytest.fixture
def ann(make_user):
    return make_user("ann@example.com", first_name="Ann", last_name="Jones")


@pytest.fixture
def bob(make_user):
    return make_user("bob@example.com", first_name="Bob", last_name="Smith")


def logged_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_visitors_are_sent_to_log_in():
    response = Client().get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_page_says_what_joining_shares_in_the_policys_words(ann, settings):
    settings.JESSOPS_PHOTO_URL = "https://photo.example.net/account"

    response = logged_in(ann).get(PAGE)

    page = text(response)
    assert response.status_code == 200
    assert "When the user signs up for these particular services, we share names" in page
    assert "CEWE are not allowed to use personally identifiable information" in page
    assert "we give CEWE your <strong>name and email address</strong>" in page
    assert 'href="https://photo.example.net/account"' in response.content.decode()
    assert "Jessops Photo offers (CEWE)" in page
    assert "Join Jessops Photo" in page


def test_joining_logs_the_disclosure_to_cewe_and_tells_the_customer(ann):
    client = logged_in(ann)

    response = client.post(PAGE, {"action": "join"}, follow=True)

    membership = PhotoServiceMembership.objects.get(person=ann)
    assert membership.is_open
    disclosure = membership.disclosure
    assert disclosure.party == party(CEWE)
    assert disclosure.categories == ["name", "email"]
    assert (disclosure.purpose, disclosure.legal_basis) == ("photo_service", "contract")
    assert (disclosure.actor, disclosure.system) == (ann, None)
    assert disclosure.reference == f"Jessops Photo membership {membership.pk}"
    page = text(response)
    assert "We have given CEWE your name and email address" in page
    assert "Leave Jessops Photo" in page
    assert CEWE in text(client.get("/my-data/"))


def test_joining_grants_no_partner_marketing(ann):
    logged_in(ann).post(PAGE, {"action": "join"})

    assert not CurrentConsent.objects.filter(subject=ann).exists()


def test_joining_twice_is_refused_and_writes_nothing_more(ann):
    client = logged_in(ann)
    client.post(PAGE, {"action": "join"})

    response = client.post(PAGE, {"action": "join"}, follow=True)

    assert "You are a member of Jessops Photo already." in text(response)
    assert PhotoServiceMembership.objects.filter(person=ann).count() == 1
    assert Disclosure.objects.filter(person=ann).count() == 1


def test_joining_without_a_name_is_refused(make_user):
    nameless = make_user("nameless@example.com")

    response = logged_in(nameless).post(PAGE, {"action": "join"}, follow=True)

    assert "Jessops Photo needs your name" in text(response)
    assert not PhotoServiceMembership.objects.exists()
    assert not Disclosure.objects.exists()


def test_leaving_ends_the_membership_and_marks_cewe_to_be_told(ann):
    client = logged_in(ann)
    client.post(PAGE, {"action": "join"})

    response = client.post(PAGE, {"action": "leave"}, follow=True)

    membership = PhotoServiceMembership.objects.get(person=ann)
    assert membership.left_at is not None
    assert membership.left_because == "left"
    notice = membership.leave_notification
    assert (notice.party, notice.event, notice.state) == (party(CEWE), "service_ended", "to_notify")
    assert notice.categories == ["name", "email"]
    assert notice.references == [f"Jessops Photo membership {membership.pk}"]
    assert notice.method == ""  # the seeded register has no address for CEWE: staff tell it
    page = text(response)
    assert "You have left Jessops Photo. We will tell CEWE." in page
    assert "Not yet" in page  # CEWE told: not yet
    assert "Join Jessops Photo" in page


def test_leaving_when_not_a_member_is_refused(ann):
    response = logged_in(ann).post(PAGE, {"action": "leave"}, follow=True)

    assert "You are not a member of Jessops Photo." in text(response)


def test_joining_again_after_leaving_is_a_new_membership_and_disclosure(ann):
    client = logged_in(ann)
    for action in ("join", "leave", "join"):
        client.post(PAGE, {"action": action})

    memberships = PhotoServiceMembership.objects.filter(person=ann).order_by("id")
    assert [m.is_open for m in memberships] == [False, True]
    assert Disclosure.objects.filter(person=ann, party=party(CEWE)).count() == 2


def test_a_post_without_the_csrf_token_is_refused(ann):
    client = logged_in(ann, enforce_csrf_checks=True)

    response = client.post(PAGE, {"action": "join"})

    assert response.status_code == 403
    assert not PhotoServiceMembership.objects.exists()


def test_an_unknown_action_changes_nothing(ann):
    response = logged_in(ann).post(PAGE, {"action": "delete_everyone"}, follow=True)

    assert "Choose to join or to leave Jessops Photo." in text(response)
    assert not PhotoServiceMembership.objects.exists()


def test_other_methods_are_not_allowed(ann):
    assert logged_in(ann).put(PAGE).status_code == 405


def test_a_customer_acts_only_on_their_own_membership(ann, bob):
    join_photo_service(person=ann)

    response = logged_in(bob).post(PAGE, {"action": "leave"}, follow=True)

    assert "You are not a member of Jessops Photo." in text(response)
    assert PhotoServiceMembership.objects.get(person=ann).is_open
    assert "Still a member" not in text(logged_in(bob).get(PAGE))


def test_the_page_takes_no_inline_style_or_script(ann):
    join_photo_service(person=ann)

    page = logged_in(ann).get(PAGE).content.decode()

    assert "<script" not in page
    assert "style=" not in page
    assert "<style" not in page


def test_the_preference_centre_links_to_the_jessops_photo_website(ann, settings):
    settings.JESSOPS_PHOTO_URL = "https://photo.example.net/"

    response = logged_in(ann).get("/preferences/")

    page = response.content.decode()
    assert 'href="https://photo.example.net/"' in page
    assert "CEWE's own emails and online marketing are managed on the" in text(response)


def test_joining_is_refused_when_the_register_no_longer_allows_cewe(ann, officer):
    cewe = party(CEWE)
    details = PartyDetails.of(cewe)
    ended = PartyDetails(
        **{**details.__dict__, "active_until": timezone.localdate() - timedelta(days=1)}
    )
    change_third_party(party=cewe, details=ended, actor=officer, reason="Partnership ended.")

    with pytest.raises(PhotoServiceError, match="not available"):
        join_photo_service(person=ann)

    assert not PhotoServiceMembership.objects.exists()
    assert not Disclosure.objects.exists()


# --- Telling CEWE, erasure --------------------------------------------------------------------


def test_leaving_is_a_notice_to_cewe_that_staff_give_by_hand_when_it_has_no_address(ann, officer):
    join_photo_service(person=ann)
    membership = leave_photo_service(person=ann)

    record_notified_by_hand(
        notification=membership.leave_notification,
        actor=officer,
        method="post",
        note="Letter to CEWE's privacy contact",
    )

    membership.refresh_from_db()
    assert membership.party_told_at is not None
    assert membership.leave_notification.notified_by == officer


def test_leaving_with_an_address_for_cewe_puts_the_notice_in_the_outbox(ann, officer):
    set_notification_address(party(CEWE), officer, email="privacy@cewe.example")
    join_photo_service(person=ann)

    membership = leave_photo_service(person=ann)

    notice = membership.leave_notification
    assert notice.method == "email"
    assert notice.delivery.to_email == "privacy@cewe.example"
    assert notice.delivery.kind == "recipient_notice"


def test_a_failed_leave_writes_no_notice(ann):
    with pytest.raises(PhotoServiceError):
        leave_photo_service(person=ann)

    assert not RecipientNotification.objects.exists()


# --- Erasure: CEWE hears once, of the erasure --------------------------------------------------


def erase(user) -> None:
    from accounts.services.privacy import erase_account, request_erasure

    request_erasure(user=user, actor=user)
    erase_account(user_id=user.pk)


def test_erasing_a_member_ends_the_membership_with_one_erasure_notice_to_cewe(ann, smtp):
    membership = join_photo_service(person=ann)

    erase(ann)

    notices = RecipientNotification.objects.filter(person_id=ann.pk, party=party(CEWE))
    assert [n.event for n in notices] == ["erasure"]
    membership.refresh_from_db()
    assert membership.left_because == "erasure"
    assert membership.leave_notification == notices.get()
    # the erasure notice carries the membership's reference, read before it was emptied
    assert notices.get().references == [f"Jessops Photo membership {membership.pk}"]
    assert Disclosure.objects.get(person_id=ann.pk).reference == ""


def test_erasure_supersedes_a_notice_of_leaving_not_yet_given(ann, smtp):
    join_photo_service(person=ann)
    membership = leave_photo_service(person=ann)
    leaving = membership.leave_notification

    erase(ann)

    leaving.refresh_from_db()
    assert (leaving.state, leaving.references) == ("superseded", [])
    live = RecipientNotification.objects.filter(person_id=ann.pk).exclude(state="superseded")
    assert [(n.party.name, n.event) for n in live] == [(CEWE, "erasure")]
    membership.refresh_from_db()
    assert membership.left_because == "left"  # what happened, kept
    assert membership.leave_notification == live.get()  # and the notice that tells CEWE


def test_a_notice_of_leaving_already_given_stands_beside_the_erasure_notice(ann, officer, smtp):
    join_photo_service(person=ann)
    membership = leave_photo_service(person=ann)
    record_notified_by_hand(
        notification=membership.leave_notification, actor=officer, method="phone", note="Told"
    )

    erase(ann)

    events = sorted(
        RecipientNotification.objects.filter(person_id=ann.pk).values_list("event", "state")
    )
    assert events == [("erasure", "to_notify"), ("service_ended", "notified")]
    membership.refresh_from_db()
    assert membership.leave_notification.event == "service_ended"
