"""The factories write rows the way production does: through the services, with the ledger,
current state, audit and hashes those services keep."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress

from api_keys.models import APIKeyEvent, SystemAPIKey
from communications.addresses import address_hash
from communications.models import Campaign, Delivery
from consent.models import ConsentEvent, CurrentConsent, Purpose, PurposeText
from consent.selectors import consent_status
from consent.services import ConsentSource, current_policy_version
from tests.factories import (
    TEST_PASSWORD,
    APIKeyFactory,
    CampaignFactory,
    ConsentEventFactory,
    DeliveryFactory,
    NewsletterSubscriberFactory,
    OutboxEmailFactory,
    PolicyVersionFactory,
    PurposeFactory,
    StaffFactory,
    SuperuserFactory,
    SuppressionFactory,
    UserFactory,
    subscribers,
)

pytestmark = pytest.mark.django_db


def granted(user) -> set[str]:
    return {code for code, state in consent_status(subject=user).items() if state.granted}


def test_a_user_has_the_test_password_and_nothing_else_unless_asked():
    user = UserFactory()

    assert user.check_password(TEST_PASSWORD)
    assert (user.is_staff, user.first_name) == (False, "")
    assert not EmailAddress.objects.filter(user=user).exists()
    assert granted(user) == {Purpose.SERVICE_ANNOUNCEMENTS}


def test_a_users_consents_are_granted_through_the_ledger():
    user = UserFactory(
        consents=[Purpose.NEWSLETTER, Purpose.SURVEYS], consents__source=ConsentSource.ORDER_FORM
    )

    assert granted(user) == {Purpose.NEWSLETTER, Purpose.SURVEYS, Purpose.SERVICE_ANNOUNCEMENTS}
    events = ConsentEvent.objects.filter(subject=user)
    assert {event.source for event in events} == {ConsentSource.ORDER_FORM}
    assert CurrentConsent.objects.filter(subject=user, event__in=events).count() == 2


@pytest.mark.parametrize("verified", [True, False])
def test_a_user_may_have_a_verified_or_unverified_address(verified):
    user = UserFactory(verified=verified)

    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.verified, address.primary) == (user.email, verified, verified)


def test_staff_hold_the_permissions_named_with_or_without_their_app():
    staff = StaffFactory(permissions=["communications.view_campaign", "view_consentevent"])

    assert staff.is_staff
    assert staff.has_perm("communications.view_campaign")
    assert staff.has_perm("consent.view_consentevent")
    assert not staff.has_perm("communications.add_campaign")


def test_a_superuser_is_made_by_the_manager():
    root = SuperuserFactory(email="root@jessops.example")

    assert (root.is_staff, root.is_superuser, root.email) == (True, True, "root@jessops.example")


def test_a_newsletter_subscriber_has_no_password_and_the_newsletter_from_the_form():
    subscriber = NewsletterSubscriberFactory()

    assert not subscriber.has_usable_password()
    event = ConsentEvent.objects.get(subject=subscriber)
    assert (event.purpose.code, event.source) == (Purpose.NEWSLETTER, ConsentSource.NEWSLETTER_FORM)


def test_subscribers_are_numbered_from_zero_and_hold_the_purpose():
    readers = subscribers(2, prefix="reader", purpose=Purpose.SPECIAL_OFFERS)

    assert [(r.email, r.first_name) for r in readers] == [
        ("reader0@example.com", "Reader0"),
        ("reader1@example.com", "Reader1"),
    ]
    assert all(Purpose.SPECIAL_OFFERS in granted(reader) for reader in readers)


def test_a_policy_version_is_published_and_in_force():
    version = PolicyVersionFactory(change_type="practice_change")

    assert current_policy_version() == version
    assert version.number == 2


def test_a_purpose_is_created_with_its_first_words_recorded():
    purpose = PurposeFactory(code="prints")

    text = PurposeText.objects.get(purpose=purpose)
    assert (text.wording, text.policy_version) == (purpose.wording, current_policy_version())
    assert text.changed_by.is_staff


def test_a_consent_event_is_written_with_the_current_state_and_none_when_nothing_changes():
    user = UserFactory()

    event = ConsentEventFactory(subject=user, purpose=Purpose.SURVEYS)

    assert CurrentConsent.objects.get(subject=user).event == event
    assert ConsentEventFactory(subject=user, purpose=Purpose.SURVEYS) is None
    assert (
        ConsentEventFactory(subject=user, purpose=Purpose.SURVEYS, granted=False).granted is False
    )


def test_a_campaign_is_saved_through_the_service_and_may_be_started():
    UserFactory(consents=[Purpose.NEWSLETTER])

    draft = CampaignFactory(body="**Hello**")
    started = CampaignFactory(started=True)

    assert draft.status == Campaign.Status.DRAFT
    assert "<strong>Hello</strong>" in draft.body_html
    assert draft.purpose.code == Purpose.NEWSLETTER
    assert started.status == Campaign.Status.SENDING
    assert Delivery.objects.filter(campaign=started, status=Delivery.Status.QUEUED).count() == 1


def test_a_delivery_goes_to_someone_holding_the_campaigns_purpose():
    delivery = DeliveryFactory(campaign=CampaignFactory(kind="special_offer"))

    assert delivery.status == Delivery.Status.SENT
    assert delivery.kind == "special_offer"
    assert Purpose.SPECIAL_OFFERS in granted(delivery.user)


def test_an_outbox_email_is_queued_by_the_outbox_service():
    delivery = OutboxEmailFactory()

    assert delivery.status == Delivery.Status.QUEUED
    assert delivery.to_email == delivery.user.email


def test_a_suppression_keeps_only_the_hash_of_the_address():
    suppression = SuppressionFactory(address="Dan@Example.com")

    assert suppression.address_hash == address_hash("dan@example.com")


def test_an_api_key_is_issued_audited_and_its_secret_is_not_stored():
    key = APIKeyFactory()

    assert SystemAPIKey.objects.get_from_key(key.secret) == key
    assert APIKeyEvent.objects.get(key=key).kind == APIKeyEvent.Kind.ISSUED
