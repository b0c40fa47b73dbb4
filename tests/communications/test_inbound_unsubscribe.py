"""The mailto: half of List-Unsubscribe: an email to the unsubscribe mailbox withdraws consent,
when the provider's inbound webhook, with its secret, hands it to us."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound

from communications.rendering import list_unsubscribe_headers, unsubscribe_mailto_code
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
        subject=f"Re: {subject_for(delivery)}",
    )

    status = consent_status(subject=delivery.user)
    assert not status["newsletter"].granted
    assert status["special_offers"].granted
    assert ConsentEvent.objects.filter(source=ConsentSource.MAILTO_UNSUBSCRIBE).count() == 1
    delivery.refresh_from_db()
    assert delivery.unsubscribed_at is not None


def subject_for(delivery) -> str:
    """The subject the delivery's List-Unsubscribe mailto: gives, as the mail client sends it."""
    headers = list_unsubscribe_headers(unsubscribe_url="https://x/", reference=str(delivery.pk))
    mailto = re.search(r"<(mailto:[^>]+)>", headers["List-Unsubscribe"])[1]
    return parse_qs(urlsplit(mailto).query)["subject"][0]


@pytest.mark.parametrize(
    ("sender", "to", "subject"),
    [
        ("mallory@example.com", "unsubscribe@jessops.example", "{subject}"),
        ("ann@example.com", "support@jessops.example", "{subject}"),
        ("ann@example.com", "unsubscribe@jessops.example", "hello"),
        ("ann@example.com", "unsubscribe@jessops.example", "unsubscribe {pk}"),
        ("ann@example.com", "unsubscribe@jessops.example", "unsubscribe {pk} " + "0" * 20),
        ("ann@example.com", "unsubscribe@jessops.example", "{other}"),
        ("ann@example.com", "unsubscribe@jessops.example", "unsubscribe 999999 {code999999}"),
        ("ann@example.com", "unsubscribe@jessops.example", "unsubscribe " + "1" * 5000),
    ],
    ids=[
        "someone else",
        "another mailbox",
        "no delivery named",
        "her own address but no code",
        "a wrong code",
        "another delivery's code",
        "unknown delivery",
        "a number too long to be an id",
    ],
)
def test_anything_else_changes_nothing(delivery, sender, to, subject):
    other = DeliveryFactory()
    subject = subject.format(
        pk=delivery.pk,
        subject=subject_for(delivery),
        other=subject_for(other).replace(str(other.pk), str(delivery.pk)),
        code999999=unsubscribe_mailto_code("999999"),
    )

    receive(sender=sender, to=to, subject=subject)

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
    payload = postmark_inbound(sender="ann@example.com", subject=subject_for(delivery))

    response = post_inbound(client, payload, auth=WEBHOOK_SECRET)

    assert response.status_code == 200
    assert not consent_status(subject=delivery.user)["newsletter"].granted
    assert ConsentEvent.objects.filter(source=ConsentSource.MAILTO_UNSUBSCRIBE).count() == 1


@pytest.mark.parametrize(
    "auth", [None, "anymail-webhook:guessed"], ids=["no-credentials", "wrong-secret"]
)
def test_a_forged_inbound_email_changes_nothing(client, postmark, delivery, auth):
    payload = postmark_inbound(sender="ann@example.com", subject=subject_for(delivery))

    response = post_inbound(client, payload, auth=auth)

    assert response.status_code == 400
    assert consent_status(subject=delivery.user)["newsletter"].granted
    assert not ConsentEvent.objects.filter(source=ConsentSource.MAILTO_UNSUBSCRIBE).exists()


def test_a_forged_sender_counting_through_deliveries_through_the_webhook_changes_nothing(
    client, postmark, delivery
):
    # someone who knows Ann's address writes it in From: and names each delivery id in turn,
    # and a number too long to be one
    for number in [*range(delivery.pk - 2, delivery.pk + 3), "9" * 5000]:
        payload = postmark_inbound(sender="ann@example.com", subject=f"unsubscribe {number}")
        response = post_inbound(client, payload, auth=WEBHOOK_SECRET)
        assert response.status_code == 200

    assert consent_status(subject=delivery.user)["newsletter"].granted
    assert not ConsentEvent.objects.filter(source=ConsentSource.MAILTO_UNSUBSCRIBE).exists()
