"""The mailto: half of List-Unsubscribe: an email to the unsubscribe mailbox withdraws consent,
when the provider's inbound webhook, with its secret, hands it to us."""

from __future__ import annotations

import base64
import json

import pytest
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound

from consent.models import ConsentEvent
from consent.selectors import consent_status
from consent.services import ConsentSource
from tests.factories import DeliveryFactory


@pytest.fixture
def delivery(db, make_user):
    """A newsletter sent to Ann, who takes the newsletter and special offers."""
    return DeliveryFactory(
        user=make_user("ann@example.com", consents=["newsletter", "special_offers"])
    )


def receive(*, sender: str, to: str, subject: str) -> None:
    message = AnymailInboundMessage.construct(
        from_email=sender, to=to, subject=subject, text="unsubscribe me"
    )
    inbound.send(
        sender=object,
        event=AnymailInboundEvent(event_type="inbound", message=message),
        esp_name="Test",
    )


def test_an_email_to_the_unsubscribe_mailbox_withdraws_that_emails_purpose(delivery):
    receive(
        sender="Ann <ANN@example.com>",
        to="unsubscribe@jessops.example",
        subject=f"unsubscribe {delivery.pk}",
    )

    status = consent_status(subject=delivery.user)
    assert not status["newsletter"].granted
    assert status["special_offers"].granted
    assert ConsentEvent.objects.filter(source=ConsentSource.MAILTO_UNSUBSCRIBE).count() == 1
    delivery.refresh_from_db()
    assert delivery.unsubscribed_at is not None


@pytest.mark.parametrize(
    ("sender", "to", "subject"),
    [
        ("mallory@example.com", "unsubscribe@jessops.example", "unsubscribe {pk}"),
        ("ann@example.com", "support@jessops.example", "unsubscribe {pk}"),
        ("ann@example.com", "unsubscribe@jessops.example", "hello"),
        ("ann@example.com", "unsubscribe@jessops.example", "unsubscribe 999999"),
    ],
    ids=["someone else", "another mailbox", "no delivery named", "unknown delivery"],
)
def test_anything_else_changes_nothing(delivery, sender, to, subject):
    receive(sender=sender, to=to, subject=subject.format(pk=delivery.pk))

    assert consent_status(subject=delivery.user)["newsletter"].granted
    assert not ConsentEvent.objects.filter(source=ConsentSource.MAILTO_UNSUBSCRIBE).exists()


# --- Through the provider's inbound webhook -----------------------------------------------------

WEBHOOK_SECRET = "anymail-webhook:a-long-shared-secret"


def postmark_inbound(*, sender: str, subject: str) -> dict:
    # Postmark's inbound webhook payload, trimmed to what anymail reads.
    return {
        "FromFull": {"Email": sender, "Name": ""},
        "ToFull": [{"Email": "unsubscribe@jessops.example", "Name": ""}],
        "CcFull": [],
        "Subject": subject,
        "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
        "Date": "Thu, 5 Apr 2012 16:59:01 +0200",
        "TextBody": "unsubscribe me",
        "Headers": [],
        "Attachments": [],
    }


def post_inbound(client, payload: dict, *, auth: str | None):
    headers = {}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    return client.post(
        "/anymail/postmark/inbound/",
        data=json.dumps(payload),
        content_type="application/json",
        headers=headers,
    )


@pytest.fixture
def postmark(settings):
    settings.EMAIL_WEBHOOK_PROVIDERS = ["postmark"]
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}


def test_the_providers_inbound_webhook_withdraws_the_emails_purpose(client, postmark, delivery):
    payload = postmark_inbound(sender="ann@example.com", subject=f"unsubscribe {delivery.pk}")

    response = post_inbound(client, payload, auth=WEBHOOK_SECRET)

    assert response.status_code == 200
    assert not consent_status(subject=delivery.user)["newsletter"].granted
    assert ConsentEvent.objects.filter(source=ConsentSource.MAILTO_UNSUBSCRIBE).count() == 1


@pytest.mark.parametrize(
    "auth", [None, "anymail-webhook:guessed"], ids=["no-credentials", "wrong-secret"]
)
def test_a_forged_inbound_email_changes_nothing(client, postmark, delivery, auth):
    payload = postmark_inbound(sender="ann@example.com", subject=f"unsubscribe {delivery.pk}")

    response = post_inbound(client, payload, auth=auth)

    assert response.status_code == 400
    assert consent_status(subject=delivery.user)["newsletter"].granted
    assert not ConsentEvent.objects.filter(source=ConsentSource.MAILTO_UNSUBSCRIBE).exists()
