"""Every way of saying "stop" to one email follows one rule: the link, one-click, an email to
the unsubscribe mailbox and the provider's unsubscribe withdraw that email's purpose with
their own ledger source, mark the email, suppress nothing and send no receipt; a complaint
withdraws all marketing and suppresses the address."""

from __future__ import annotations

import pytest
from anymail.signals import AnymailTrackingEvent
from django.test import Client

from communications.gate import may_send
from communications.kinds import MessageKind
from communications.models import Delivery, Suppression
from communications.rendering import unsubscribe_mailto, unsubscribe_mailto_code
from communications.services import create_campaign, process_provider_event, record_provider_event
from communications.services.inbound import unsubscribe_by_email
from communications.services.unsubscribe import unsubscribe_from_delivery
from consent.models import ConsentEvent, Purpose
from consent.selectors import consent_status
from consent.services import ConsentSource, grant_consent
from consent.tokens import TokenUse, make_token

MARKETING = {Purpose.NEWSLETTER, Purpose.SPECIAL_OFFERS}


@pytest.fixture
def newsletter_email(db, make_user) -> Delivery:
    """A newsletter Ann received, while she also takes special offers."""
    ann = make_user("ann@example.com")
    for purpose in MARKETING:
        grant_consent(subject=ann, purpose=purpose, source=ConsentSource.SIGNUP_FORM)
    campaign = create_campaign(actor=None, name="c", kind="newsletter", subject_line="s", body="b")
    return Delivery.objects.create(
        kind=MessageKind.NEWSLETTER, campaign=campaign, user=ann, status=Delivery.Status.SENT
    )


def by_link(delivery: Delivery, *, one_click: bool) -> None:
    token = make_token(
        subject=delivery.user,
        use=TokenUse.UNSUBSCRIBE,
        purpose=Purpose.NEWSLETTER,
        ref=str(delivery.pk),
    )
    body = {"List-Unsubscribe": "One-Click"} if one_click else {}
    assert Client().post(f"/unsubscribe/{token}/", body).status_code == 200


def by_email(delivery: Delivery) -> None:
    outcome = unsubscribe_by_email(
        sender=delivery.user.email,
        recipients=[unsubscribe_mailto()],
        subject=f"unsubscribe {delivery.pk} {unsubscribe_mailto_code(str(delivery.pk))}",
    )
    assert outcome == "unsubscribed from newsletter"


def by_provider(delivery: Delivery, event_type: str = "unsubscribed") -> str:
    event = AnymailTrackingEvent(
        event_type=event_type,
        event_id=f"{event_type}-1",
        recipient=delivery.user.email,
        metadata={"delivery_id": str(delivery.pk)},
        esp_event={},
    )
    recorded = record_provider_event(event=event, esp_name="Postmark")
    return process_provider_event(event_id=recorded.pk)


CHANNELS = {
    ConsentSource.UNSUBSCRIBE_LINK: lambda delivery: by_link(delivery, one_click=False),
    ConsentSource.ONE_CLICK: lambda delivery: by_link(delivery, one_click=True),
    ConsentSource.MAILTO_UNSUBSCRIBE: by_email,
    ConsentSource.PROVIDER_UNSUBSCRIBE: by_provider,
}


@pytest.mark.parametrize("source", list(CHANNELS))
def test_each_way_of_unsubscribing_from_an_email_withdraws_its_purpose_and_marks_it(
    newsletter_email, source
):
    ann = newsletter_email.user

    CHANNELS[source](newsletter_email)

    status = consent_status(subject=ann)
    assert not status[Purpose.NEWSLETTER].granted
    assert status[Purpose.SPECIAL_OFFERS].granted
    withdrawn = ConsentEvent.objects.filter(subject=ann, granted=False)
    assert [(event.purpose.code, event.source) for event in withdrawn] == [
        (Purpose.NEWSLETTER, source)
    ]
    newsletter_email.refresh_from_db()
    assert newsletter_email.unsubscribed_at is not None
    assert newsletter_email.status == Delivery.Status.SENT
    assert not Suppression.objects.exists()
    assert not Delivery.objects.filter(kind=MessageKind.CONSENT_RECEIPT).exists()
    assert may_send(MessageKind.SERVICE_ANNOUNCEMENT, ann)


def test_a_complaint_withdraws_all_marketing_and_suppresses_without_marking_an_unsubscribe(
    newsletter_email,
):
    ann = newsletter_email.user

    outcome = by_provider(newsletter_email, "complained")

    assert outcome == "complaint: address suppressed, marketing consent withdrawn"
    withdrawn = ConsentEvent.objects.filter(subject=ann, granted=False)
    assert {event.purpose.code for event in withdrawn} == MARKETING
    assert {event.source for event in withdrawn} == {ConsentSource.PROVIDER_COMPLAINT}
    newsletter_email.refresh_from_db()
    assert newsletter_email.status == Delivery.Status.COMPLAINED
    assert newsletter_email.unsubscribed_at is None
    assert not may_send(MessageKind.WELCOME, ann)
    assert not Delivery.objects.filter(kind=MessageKind.CONSENT_RECEIPT).exists()


def test_an_email_that_is_not_marketing_stops_all_marketing(newsletter_email):
    ann = newsletter_email.user
    notice = Delivery.objects.create(
        kind=MessageKind.SERVICE_ANNOUNCEMENT, user=ann, status=Delivery.Status.SENT
    )

    unsubscribed = unsubscribe_from_delivery(
        subject=ann, source=ConsentSource.MAILTO_UNSUBSCRIBE, delivery_id=notice.pk
    )

    assert str(unsubscribed) == "unsubscribed from all marketing"
    assert {event.purpose.code for event in unsubscribed.events} == MARKETING


def test_an_email_to_another_account_is_not_marked_as_theirs(newsletter_email, make_user):
    bob = make_user("bob@example.com")
    grant_consent(subject=bob, purpose=Purpose.NEWSLETTER, source=ConsentSource.SIGNUP_FORM)

    unsubscribed = unsubscribe_from_delivery(
        subject=bob,
        source=ConsentSource.UNSUBSCRIBE_LINK,
        delivery_id=newsletter_email.pk,
        purpose=Purpose.NEWSLETTER,
    )

    assert str(unsubscribed) == "unsubscribed from newsletter"
    newsletter_email.refresh_from_db()
    assert newsletter_email.unsubscribed_at is None
    assert consent_status(subject=newsletter_email.user)[Purpose.NEWSLETTER].granted


def test_unsubscribing_twice_writes_nothing_more(newsletter_email):
    by_email(newsletter_email)
    newsletter_email.refresh_from_db()
    first = newsletter_email.unsubscribed_at
    events = ConsentEvent.objects.count()

    unsubscribed = unsubscribe_from_delivery(
        subject=newsletter_email.user,
        source=ConsentSource.ONE_CLICK,
        delivery_id=newsletter_email.pk,
    )

    assert unsubscribed.events == []
    assert ConsentEvent.objects.count() == events
    newsletter_email.refresh_from_db()
    assert newsletter_email.unsubscribed_at == first
