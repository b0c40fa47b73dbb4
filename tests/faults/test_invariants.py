"""The fault suite's invariants catch what they promise to catch: each broken promise, made by
hand (no service would make it), fails ``assert_invariants`` with the reason; the same data
whole passes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from communications.models import Delivery, Suppression
from communications.services import suppress_address
from consent.models import CurrentConsent, Purpose
from consent.services import ConsentSource, withdraw_consent
from tests.factories import CampaignFactory, DeliveryFactory, UserFactory
from tests.faults.invariants import assert_invariants, assert_no_5xx_outside

pytestmark = pytest.mark.django_db

Status = Delivery.Status


def sent(delivery: Delivery, *, claimed_ago: float = 1.0) -> Delivery:
    """What a finished send records on a row."""
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENT,
        claimed_at=now - timedelta(seconds=claimed_ago),
        sent_at=now,
        attempts=1,
        provider_message_id=delivery.message_id,
    )
    delivery.refresh_from_db()
    return delivery


@pytest.fixture
def since():
    return timezone.now() - timedelta(minutes=1)


def test_a_newsletter_sent_to_a_consenting_reader_passes(since):
    delivery = sent(DeliveryFactory(campaign=CampaignFactory()))

    assert_invariants(since=since, received={delivery.user.email: 1})


def test_a_newsletter_sent_after_the_reader_withdrew_is_caught(since):
    delivery = DeliveryFactory(campaign=CampaignFactory())
    withdraw_consent(
        subject=delivery.user, purpose=Purpose.NEWSLETTER, source=ConsentSource.PREFERENCE_CENTRE
    )
    sent(delivery, claimed_ago=0)

    with pytest.raises(AssertionError, match=r"sent without what it needed: 1\n.*withdrawn"):
        assert_invariants(since=since)


def test_a_reader_withdrawing_during_the_hand_over_is_the_allowed_race(since):
    delivery = DeliveryFactory(campaign=CampaignFactory())
    # claimed a second ago, withdrawn since: the gate saw the consent
    Delivery.objects.filter(pk=delivery.pk).update(claimed_at=timezone.now())
    withdraw_consent(
        subject=delivery.user, purpose=Purpose.NEWSLETTER, source=ConsentSource.PREFERENCE_CENTRE
    )
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENT, sent_at=timezone.now(), attempts=1, provider_message_id="<x@y>"
    )

    assert_invariants(since=since)


def test_a_message_to_a_suppressed_address_is_caught(since):
    delivery = DeliveryFactory(campaign=CampaignFactory())
    suppress_address(delivery.user.email, reason=Suppression.Reason.HARD_BOUNCE)
    Suppression.objects.update(detail="")
    sent(delivery, claimed_ago=0)

    with pytest.raises(AssertionError, match="address suppressed since"):
        assert_invariants(since=since)


def test_a_message_received_twice_or_marked_sent_and_never_received_is_caught(since):
    first = sent(DeliveryFactory(campaign=CampaignFactory()))
    second = sent(DeliveryFactory(campaign=CampaignFactory()))

    with pytest.raises(AssertionError, match="received 2 messages; 1 rows went") as caught:
        assert_invariants(since=since, received={first.user.email: 2})
    assert f"1 rows to {second.user.email} marked sent; the server received 0" in str(caught.value)


def test_a_current_consent_that_is_not_the_fold_of_the_ledger_is_caught(since):
    user = UserFactory(consents=[Purpose.NEWSLETTER])
    CurrentConsent.objects.filter(subject=user).update(granted=False)

    with pytest.raises(AssertionError, match="current consent is not the fold of the ledger: 1"):
        assert_invariants(since=since)


def test_a_bounce_and_a_suppression_without_their_provider_event_are_caught(since):
    delivery = sent(DeliveryFactory(campaign=CampaignFactory()))
    Delivery.objects.filter(pk=delivery.pk).update(status=Status.BOUNCED)
    Suppression.objects.create(
        address_hash="0" * 64, reason=Suppression.Reason.HARD_BOUNCE, detail="postmark event 1"
    )

    with pytest.raises(AssertionError, match="change without its record: 2") as caught:
        assert_invariants(since=since)
    assert "marked bounced with no processed provider event" in str(caught.value)
    assert "names no processed provider event" in str(caught.value)


def test_a_deactivation_without_its_audit_row_is_caught(since):
    user = UserFactory()
    get_user_model().objects.filter(pk=user.pk).update(
        is_active=False, deactivated_at=timezone.now()
    )

    with pytest.raises(AssertionError, match="deactivated with no audit row"):
        assert_invariants(since=since)


def test_server_errors_count_only_outside_the_fault_window():
    assert_no_5xx_outside([(1.0, 200), (2.0, 503), (3.0, 0), (4.0, 200)], window=(1.5, 3.5))
    with pytest.raises(AssertionError, match="1 server errors outside the fault"):
        assert_no_5xx_outside([(1.0, 500), (2.0, 503)], window=(1.5, 3.5))
