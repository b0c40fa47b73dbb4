"""Provider webhooks, through HTTP: django-anymail's tracking URLs receive the providers'
documented payloads; the request only records the event, and the queued processing then
suppresses addresses and withdraws consent, once, whatever the replays.

Payloads are the samples from the providers' documentation as anymail's own test suite
quotes them (Postmark, SendGrid, Mailgun, Amazon SES through SNS), with only
the addresses, ids and message ids changed where a test needs them to point at one of our
deliveries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from types import SimpleNamespace

import pytest

import communications.tasks
from communications.addresses import address_hash
from communications.gate import may_send
from communications.kinds import MessageKind
from communications.models import Delivery, ProviderEvent, Suppression, message_id_for
from communications.services import (
    enqueue_email,
    process_provider_event,
    process_waiting_provider_events,
)
from consent.models import ConsentEvent, Purpose
from consent.selectors import consent_status
from consent.services import ConsentSource

pytestmark = pytest.mark.filterwarnings(
    # anymail warns on every SendGrid request that it no longer supports SendGrid officially.
    "ignore::anymail.exceptions.AnymailNotSupportedWarning"
)

WEBHOOK_SECRET = "anymail-webhook:a-long-shared-secret"
MAILGUN_SIGNING_KEY = "TEST_WEBHOOK_SIGNING_KEY"
# The token of Mailgun's sample "delivered" event: anymail uses it as the event id.
MAILGUN_TOKEN = "651869375b9df3c98fc15c4889b102119add1235c38fc92824"
MARKETING = {Purpose.NEWSLETTER, Purpose.SPECIAL_OFFERS, Purpose.SURVEYS, Purpose.PARTNER_PHOTO}


# --- Documented sample payloads -----------------------------------------------------------------


def postmark_bounce(
    email: str = "bounce@example.com",
    *,
    bounce_type: str = "HardBounce",
    event_id: int = 901542550,
    message_id: str = "2706ee8a-737c-4285-b032-ccd317af53ed",
) -> dict:
    # Postmark's bounce webhook sample; a soft bounce is the same record with Type SoftBounce.
    return {
        "RecordType": "Bounce",
        "ID": event_id,
        "Type": bounce_type,
        "TypeCode": 1 if bounce_type == "HardBounce" else 4096,
        "ServerID": 23,
        "Name": "Hard bounce" if bounce_type == "HardBounce" else "Soft bounce",
        "MessageID": message_id,
        "Description": (
            "The server was unable to deliver your message (ex: unknown user, mailbox not found)."
        ),
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email,
        "From": "sender@example.com",
        "BouncedAt": "2016-04-27T16:28:50.3963933-04:00",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Postmark event test",
        "Content": "...",
    }


def postmark_spam_complaint(email: str = "spam@example.com") -> dict:
    return {
        "RecordType": "SpamComplaint",
        "ID": 901542551,
        "Type": "SpamComplaint",
        "TypeCode": 512,
        "Name": "Spam complaint",
        "Tag": "Test",
        "MessageID": "2706ee8a-737c-4285-b032-ccd317af53ed",
        "ServerID": 1234,
        "Description": "",
        "Details": "Test spam complaint details",
        "Email": email,
        "From": "sender@example.com",
        "BouncedAt": "2016-04-27T16:28:50.3963933-04:00",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": False,
        "Subject": "Postmark event test",
    }


def postmark_delivery(email: str, *, message_id: str = "883953f4-6105-42a2-a16a-77a8eac79483"):
    return {
        "RecordType": "Delivery",
        "ServerId": 23,
        "MessageID": message_id,
        "Recipient": email,
        "Tag": "welcome-email",
        "Metadata": {"cohort": "2014-08-A", "userid": "12345"},
        "DeliveredAt": "2014-08-01T13:28:10.2735393-04:00",
        "Details": "Test delivery webhook details",
    }


def postmark_open(email: str) -> dict:
    return {
        "RecordType": "Open",
        "FirstOpen": True,
        "Client": {"Name": "Gmail", "Company": "Google", "Family": "Gmail"},
        "OS": {"Name": "unknown", "Company": "unknown", "Family": "unknown"},
        "Platform": "Unknown",
        "UserAgent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0",
        "ReadSeconds": 0,
        "Geo": {},
        "MessageID": "f4830d10-9c35-4f0c-bca3-3d9b459821f8",
        "ReceivedAt": "2016-04-27T16:21:41.2493688-04:00",
        "Recipient": email,
    }


def postmark_click(email: str) -> dict:
    return {
        "RecordType": "Click",
        "ClickLocation": "HTML",
        "Platform": "Desktop",
        "UserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5) etc.",
        "OriginalLink": "https://example.com/click/me",
        "Geo": {"CountryISOCode": "RS", "City": "Novi Sad", "IP": "8.8.8.8"},
        "MessageID": "f4830d10-9c35-4f0c-bca3-3d9b459821f8",
        "ReceivedAt": "2017-10-25T15:21:11.9065619Z",
        "Tag": "welcome-email",
        "Recipient": email,
    }


def sendgrid_event(event: str, email: str = "example@test.com", **fields) -> dict:
    # The shape of every event in SendGrid's Event Webhook reference sample.
    return {
        "email": email,
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": event,
        "category": "cat facts",
        "sg_event_id": f"{event}-ZyjAM5rnQmuI1KFInHQ3Nw",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        **fields,
    }


def mailgun_event(event_data: dict, *, token: str = MAILGUN_TOKEN) -> dict:
    # Mailgun's webhook payload: the event, and the signature block over timestamp + token.
    timestamp = str(int(event_data.get("timestamp", 1534108637)))
    return {
        "signature": {
            "timestamp": timestamp,
            "token": token,
            "signature": mailgun_signature(timestamp, token, MAILGUN_SIGNING_KEY),
        },
        "event-data": event_data,
    }


def mailgun_signature(timestamp: str, token: str, key: str) -> str:
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def mailgun_unsubscribed(email: str, *, message_id: str) -> dict:
    return mailgun_event(
        {
            "event": "unsubscribed",
            "id": "W3X4JOhFT-OZidZGKKr9iA",
            "timestamp": 1377213791.421473,
            "log-level": "info",
            "recipient": email,
            "message": {"headers": {"message-id": message_id}},
        }
    )


SNS_MESSAGE_ID = "19ba9823-d7f2-53c1-860e-cb10e0d13dfc"


def ses_bounce_notification(*recipients: str) -> dict:
    """Amazon SNS delivering SES's documented bounce notification: anymail's Amazon SES view
    makes one event per bounced recipient of it, all under the one SNS message id."""
    ses_event = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": email} for email in recipients],
            "timestamp": "2016-01-27T14:59:38.237Z",
        },
        "mail": {
            "timestamp": "2016-01-27T14:59:38.237Z",
            "messageId": "00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000",
            "source": "john@example.com",
            "destination": [*recipients, "mary@example.com"],
        },
    }
    return {
        "Type": "Notification",
        "MessageId": SNS_MESSAGE_ID,
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:SES_Notifications",
        "Message": json.dumps(ses_event),
        "Timestamp": "2018-03-26T17:58:59.675Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE-SIGNATURE==",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-12345.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&...",
    }


SNS_HEADERS = {"x-amz-sns-message-type": "Notification", "x-amz-sns-message-id": SNS_MESSAGE_ID}


# --- Fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
def webhooks(db, client, settings, monkeypatch, django_capture_on_commit_callbacks, clean_cache):
    """POST to anymail's tracking URL of an ESP, then run what the request queued on commit
    (the processing task, called in this process: it processes every event waiting)."""
    settings.EMAIL_WEBHOOK_PROVIDERS = ["postmark", "sendgrid", "mailgun", "amazon_ses"]
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_SIGNING_KEY,
    }
    monkeypatch.setattr(
        communications.tasks,
        "process_provider_event_task",
        SimpleNamespace(
            delay=lambda event_id=None: process_waiting_provider_events(),
            apply_async=lambda **options: process_waiting_provider_events(),
        ),
    )

    def post(
        esp: str,
        payload,
        *,
        auth: str | None = WEBHOOK_SECRET,
        process: bool = True,
        headers: dict[str, str] | None = None,
    ):
        headers = dict(headers or {})
        if auth is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
        with django_capture_on_commit_callbacks(execute=process) as queued:
            response = client.post(
                f"/anymail/{esp}/tracking/",
                data=json.dumps(payload),
                content_type="application/json",
                headers=headers,
            )
        response.queued = queued
        return response

    return post


def granted(user) -> set[str]:
    return {code for code, state in consent_status(subject=user).items() if state.granted}


def withdrawals(user, source: str) -> list[str]:
    return sorted(
        ConsentEvent.objects.filter(subject=user, source=source, granted=False).values_list(
            "purpose__code", flat=True
        )
    )


def is_suppressed(email: str) -> bool:
    return Suppression.objects.filter(address_hash=address_hash(email)).exists()


def sent_by_provider(delivery: Delivery, provider_message_id: str) -> Delivery:
    """What the send records when the provider accepts the message under its own id."""
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.SENT, provider_message_id=provider_message_id
    )
    delivery.refresh_from_db()
    return delivery


# --- Hard bounces -------------------------------------------------------------------------------


def test_a_postmark_hard_bounce_suppresses_the_address_and_marks_the_delivery_bounced(
    webhooks, make_user
):
    # given: a welcome email Postmark accepted
    user = make_user("bounce@example.com")
    delivery = enqueue_email(kind=MessageKind.WELCOME, user=user)
    sent_by_provider(delivery, "2706ee8a-737c-4285-b032-ccd317af53ed")

    # when
    response = webhooks("postmark", postmark_bounce("bounce@example.com"))

    # then
    assert response.status_code == 200
    assert Suppression.objects.get().reason == Suppression.Reason.HARD_BOUNCE
    assert not may_send(MessageKind.WELCOME, user)
    assert may_send(MessageKind.WELCOME, user).status == Delivery.Status.SUPPRESSED
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.BOUNCED
    assert "unable to deliver" in delivery.last_error
    event = ProviderEvent.objects.get()
    assert (event.delivery, event.outcome) == (delivery, "hard bounce: address suppressed")


def test_the_webhook_request_only_records_the_event_and_queues_its_processing(webhooks, make_user):
    user = make_user("bounce@example.com")

    response = webhooks("postmark", postmark_bounce("bounce@example.com"), process=False)

    assert response.status_code == 200
    assert len(response.queued) == 1
    event = ProviderEvent.objects.get()
    assert (event.esp_name, event.event_type, event.processed_at) == ("Postmark", "bounced", None)
    assert not Suppression.objects.exists()
    assert may_send(MessageKind.WELCOME, user)

    # when the queued task runs
    response.queued[0]()

    event.refresh_from_db()
    assert event.processed_at is not None
    assert not may_send(MessageKind.WELCOME, user)


def test_amazon_ses_bounce_for_several_recipients_suppresses_every_one_of_them(webhooks):
    response = webhooks(
        "amazon_ses",
        ses_bounce_notification("jane@example.com", "richard@example.com"),
        headers=SNS_HEADERS,
    )

    assert response.status_code == 200
    assert ProviderEvent.objects.count() == 2
    assert is_suppressed("jane@example.com")
    assert is_suppressed("richard@example.com")
    assert not is_suppressed("mary@example.com")


def test_a_sendgrid_drop_for_an_invalid_address_suppresses_it(webhooks):
    dropped = sendgrid_event("dropped", "invalid@invalid", reason="Invalid")

    webhooks("sendgrid", [dropped])

    assert Suppression.objects.get().reason == Suppression.Reason.REJECTED
    assert is_suppressed("invalid@invalid")


# --- Complaints ---------------------------------------------------------------------------------


def test_a_postmark_spam_complaint_suppresses_and_withdraws_all_marketing(webhooks, make_user):
    user = make_user("spam@example.com", consents=[Purpose.NEWSLETTER, Purpose.SPECIAL_OFFERS])

    webhooks("postmark", postmark_spam_complaint("spam@example.com"))

    assert Suppression.objects.get().reason == Suppression.Reason.COMPLAINT
    assert granted(user) & MARKETING == set()
    assert withdrawals(user, ConsentSource.PROVIDER_COMPLAINT) == [
        Purpose.NEWSLETTER,
        Purpose.SPECIAL_OFFERS,
    ]
    assert not may_send(MessageKind.NEWSLETTER, user)


def test_a_sendgrid_spamreport_marks_the_delivery_it_names_complained(webhooks, make_user):
    user = make_user("example@test.com", consents=[Purpose.SPECIAL_OFFERS])
    delivery = enqueue_email(kind=MessageKind.SPECIAL_OFFER, user=user)

    webhooks("sendgrid", [sendgrid_event("spamreport", delivery_id=str(delivery.pk))])

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.COMPLAINED
    assert withdrawals(user, ConsentSource.PROVIDER_COMPLAINT) == [Purpose.SPECIAL_OFFERS]
    assert is_suppressed("example@test.com")


# --- Unsubscribes -------------------------------------------------------------------------------


def test_a_mailgun_unsubscribe_from_a_known_newsletter_withdraws_only_the_newsletter(
    webhooks, make_user
):
    # given: a newsletter delivery; Mailgun echoes the Message-ID we set on it
    user = make_user("recipient@example.com", consents=[Purpose.NEWSLETTER, Purpose.SPECIAL_OFFERS])
    delivery = enqueue_email(kind=MessageKind.NEWSLETTER, user=user)
    our_message_id = message_id_for(delivery.pk).strip("<>")

    # when
    webhooks("mailgun", mailgun_unsubscribed("recipient@example.com", message_id=our_message_id))

    # then
    assert granted(user) & MARKETING == {Purpose.SPECIAL_OFFERS}
    assert withdrawals(user, ConsentSource.PROVIDER_UNSUBSCRIBE) == [Purpose.NEWSLETTER]
    delivery.refresh_from_db()
    assert delivery.unsubscribed_at is not None
    assert not Suppression.objects.exists()
    assert may_send(MessageKind.SERVICE_ANNOUNCEMENT, user)


def test_a_sendgrid_unsubscribe_naming_our_delivery_withdraws_that_purpose_only(
    webhooks, make_user
):
    # Our batch sends pass the delivery id as metadata; SendGrid returns it in the event.
    user = make_user("example@test.com", consents=[Purpose.NEWSLETTER, Purpose.SPECIAL_OFFERS])
    delivery = enqueue_email(kind=MessageKind.SPECIAL_OFFER, user=user)

    webhooks("sendgrid", [sendgrid_event("unsubscribe", delivery_id=str(delivery.pk))])

    assert granted(user) & MARKETING == {Purpose.NEWSLETTER}
    assert withdrawals(user, ConsentSource.PROVIDER_UNSUBSCRIBE) == [Purpose.SPECIAL_OFFERS]


def test_an_unsubscribe_for_an_unknown_delivery_withdraws_all_marketing(webhooks, make_user):
    user = make_user(
        "example@test.com",
        consents=[Purpose.NEWSLETTER, Purpose.SPECIAL_OFFERS, Purpose.SURVEYS],
    )

    webhooks("sendgrid", [sendgrid_event("unsubscribe")])

    assert granted(user) & MARKETING == set()
    assert withdrawals(user, ConsentSource.PROVIDER_UNSUBSCRIBE) == [
        Purpose.NEWSLETTER,
        Purpose.SPECIAL_OFFERS,
        Purpose.SURVEYS,
    ]
    assert ProviderEvent.objects.get().outcome == "unsubscribed from all marketing"


# --- Soft bounces -------------------------------------------------------------------------------


def soft_bounce(email: str, n: int) -> dict:
    return postmark_bounce(
        email, bounce_type="SoftBounce", event_id=902000000 + n, message_id=f"soft-message-{n}"
    )


def test_soft_bounces_suppress_only_at_the_configured_limit(webhooks, make_user, settings):
    settings.EMAIL_SOFT_BOUNCE_LIMIT = 3
    user = make_user("soft@example.com")

    webhooks("postmark", soft_bounce("soft@example.com", 1))
    webhooks("postmark", soft_bounce("soft@example.com", 2))
    assert not Suppression.objects.exists()
    assert may_send(MessageKind.WELCOME, user)

    webhooks("postmark", soft_bounce("soft@example.com", 3))

    assert Suppression.objects.get().reason == Suppression.Reason.SOFT_BOUNCES
    assert not may_send(MessageKind.WELCOME, user)
    outcomes = list(ProviderEvent.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == [
        "soft bounce 1 of 3",
        "soft bounce 2 of 3",
        "soft bounce 3 of 3: address suppressed",
    ]


def test_a_delivered_event_resets_the_soft_bounce_count(webhooks, settings):
    settings.EMAIL_SOFT_BOUNCE_LIMIT = 3

    webhooks("postmark", soft_bounce("soft@example.com", 1))
    webhooks("postmark", soft_bounce("soft@example.com", 2))
    webhooks("postmark", postmark_delivery("soft@example.com"))
    webhooks("postmark", soft_bounce("soft@example.com", 3))
    webhooks("postmark", soft_bounce("soft@example.com", 4))

    assert not Suppression.objects.exists()
    assert ProviderEvent.objects.order_by("id").last().outcome == "soft bounce 2 of 3"

    webhooks("postmark", soft_bounce("soft@example.com", 5))

    assert Suppression.objects.get().reason == Suppression.Reason.SOFT_BOUNCES


def test_retries_of_one_deferred_message_count_as_one_soft_bounce(webhooks, settings):
    # SendGrid reports each deferred attempt at the same message while it keeps retrying.
    settings.EMAIL_SOFT_BOUNCE_LIMIT = 3
    attempts = [
        sendgrid_event(
            "deferred",
            "greylisted@example.com",
            sg_event_id=f"deferred-attempt-{attempt}",
            response="400 try again later",
            attempt=str(attempt),
        )
        for attempt in (1, 2, 3, 4)
    ]

    webhooks("sendgrid", attempts)

    assert ProviderEvent.objects.filter(is_soft_bounce=True).count() == 4
    assert not Suppression.objects.exists()


# --- Replays ------------------------------------------------------------------------------------


def test_the_same_complaint_posted_twice_changes_nothing_the_second_time(webhooks, make_user):
    user = make_user("example@test.com", consents=[Purpose.NEWSLETTER])
    payload = [sendgrid_event("spamreport")]

    first = webhooks("sendgrid", payload)
    second = webhooks("sendgrid", payload)

    assert (first.status_code, second.status_code) == (200, 200)
    assert len(second.queued) == 0
    assert ProviderEvent.objects.count() == 1
    assert (
        ConsentEvent.objects.filter(subject=user, source=ConsentSource.PROVIDER_COMPLAINT).count()
        == 1
    )
    assert Suppression.objects.count() == 1


def test_the_same_mailgun_unsubscribe_posted_twice_is_recorded_once(webhooks, make_user):
    user = make_user("recipient@example.com", consents=[Purpose.NEWSLETTER])
    payload = mailgun_unsubscribed("recipient@example.com", message_id="20130822232216.1@m.org")

    webhooks("mailgun", payload)
    webhooks("mailgun", payload)

    assert ProviderEvent.objects.count() == 1
    assert withdrawals(user, ConsentSource.PROVIDER_UNSUBSCRIBE) == [Purpose.NEWSLETTER]


def test_processing_an_event_again_changes_nothing(webhooks, make_user):
    make_user("bounce@example.com")
    webhooks("postmark", postmark_bounce("bounce@example.com"))
    event = ProviderEvent.objects.get()

    assert process_provider_event(event_id=event.pk) == "hard bounce: address suppressed"
    assert Suppression.objects.count() == 1


# --- Refused requests ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [None, "anymail-webhook:wrong-secret", "someone-else:a-long-shared-secret"],
    ids=["missing", "wrong-password", "wrong-user"],
)
def test_a_postmark_post_without_the_right_basic_auth_is_refused_and_records_nothing(
    webhooks, make_user, auth
):
    user = make_user("spam@example.com", consents=[Purpose.NEWSLETTER])

    response = webhooks("postmark", postmark_spam_complaint("spam@example.com"), auth=auth)

    assert response.status_code == 400
    assert not ProviderEvent.objects.exists()
    assert not Suppression.objects.exists()
    assert granted(user) & MARKETING == {Purpose.NEWSLETTER}


def test_a_sendgrid_post_with_a_wrong_secret_is_refused(webhooks):
    response = webhooks("sendgrid", [sendgrid_event("spamreport")], auth="anymail-webhook:guess")

    assert response.status_code == 400
    assert not ProviderEvent.objects.exists()


def test_a_mailgun_post_with_a_bad_signature_is_refused_and_records_nothing(webhooks, make_user):
    user = make_user("recipient@example.com", consents=[Purpose.NEWSLETTER])
    payload = mailgun_unsubscribed("recipient@example.com", message_id="20130822232216.1@m.org")
    signature = payload["signature"]
    signature["signature"] = mailgun_signature(
        signature["timestamp"], signature["token"], "not-our-signing-key"
    )

    response = webhooks("mailgun", payload)

    assert response.status_code == 400
    assert not ProviderEvent.objects.exists()
    assert granted(user) & MARKETING == {Purpose.NEWSLETTER}


def test_a_mailgun_post_without_a_signature_is_refused(webhooks):
    payload = mailgun_unsubscribed("recipient@example.com", message_id="20130822232216.1@m.org")
    del payload["signature"]

    assert webhooks("mailgun", payload).status_code == 400
    assert not ProviderEvent.objects.exists()


# --- Only a hash is kept ------------------------------------------------------------------------


def test_the_suppression_keeps_only_a_hash_and_outlives_the_account(webhooks, make_user):
    # given: a hard bounce for an account that is then deleted
    user = make_user("bounce@example.com")
    webhooks("postmark", postmark_bounce("bounce@example.com"))
    user.delete()

    # then nothing stored about the suppression holds the address
    suppression = Suppression.objects.get()
    assert suppression.address_hash == address_hash("bounce@example.com")
    stored = json.dumps(list(Suppression.objects.values()), default=str).lower()
    assert "bounce@example.com" not in stored
    assert ProviderEvent.objects.get().recipient == ""

    # and a new account for the same address, spelt in another case, is still suppressed
    again = make_user("Bounce@EXAMPLE.com", consents=[Purpose.NEWSLETTER])
    assert may_send(MessageKind.WELCOME, again).status == Delivery.Status.SUPPRESSED
    assert may_send(MessageKind.NEWSLETTER, again).status == Delivery.Status.SUPPRESSED


# --- Events we don't act on ---------------------------------------------------------------------


def test_opens_and_clicks_are_not_stored(webhooks, make_user):
    make_user("recipient@example.com", consents=[Purpose.NEWSLETTER])
    opened = mailgun_event(
        {"event": "opened", "timestamp": 1534109600.089676, "recipient": "recipient@example.com"},
        token="0c4a0f7c2e6d4e19b6a4c0f7a1d3e5b7c9e1f3a5b7d9e1f3a5",
    )

    responses = [
        webhooks("postmark", postmark_open("recipient@example.com")),
        webhooks("postmark", postmark_click("recipient@example.com")),
        webhooks("sendgrid", [sendgrid_event("open", "recipient@example.com")]),
        webhooks(
            "sendgrid", [sendgrid_event("click", "recipient@example.com", url="https://x.example/")]
        ),
        webhooks("mailgun", opened),
    ]

    assert [response.status_code for response in responses] == [200] * 5
    assert [len(response.queued) for response in responses] == [0] * 5
    assert not ProviderEvent.objects.exists()
    assert not Suppression.objects.exists()


def test_provider_error_text_is_kept_with_the_address_masked():
    from communications.addresses import mask_addresses_in

    assert (
        mask_addresses_in("550 5.1.1 <jane.doe@example.co.uk>... User unknown")
        == "550 5.1.1 <j***@example.co.uk>... User unknown"
    )


def test_an_event_recorded_while_the_broker_is_down_is_queued_by_the_sweep(
    transactional_db, settings
):
    from datetime import timedelta
    from unittest import mock

    from anymail.signals import AnymailTrackingEvent
    from django.utils import timezone

    from communications.models import ProviderEvent
    from communications.services import record_provider_event, requeue_provider_events

    settings.EMAIL_OUTBOX_RETRY_AFTER = 60
    event = AnymailTrackingEvent(
        event_type="bounced", event_id="ev-1", recipient="gone@example.com", esp_event={}
    )
    with mock.patch(
        "communications.tasks.process_provider_event_task.delay",
        side_effect=ConnectionError("broker down"),
    ) as delay:
        from django.db import transaction

        with transaction.atomic():
            recorded = record_provider_event(event=event, esp_name="Postmark")
        # the webhook answered without an error; the event waits, recorded
        assert delay.called

    with mock.patch("communications.tasks.process_provider_event_task.delay") as delay:
        assert requeue_provider_events() == 0  # too recent
        ProviderEvent.objects.filter(pk=recorded.pk).update(
            received_at=timezone.now() - timedelta(minutes=5)
        )
        assert requeue_provider_events() == 1
    delay.assert_called_once_with(recorded.pk)
